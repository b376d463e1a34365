"""The connector's one error type: a bad or unusable option, named in the message."""

from __future__ import annotations

__all__ = ["RocketMQOptionError"]


class RocketMQOptionError(ValueError):
    """An option of ``format("rocketmq")`` is missing, malformed or names something unusable.

    ``option`` is the option's name as the user spells it (``startingOffsets``); the message
    always starts with ``option 'NAME':`` so it stays readable inside Spark's wrapped errors.
    """

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"option '{option}': {problem}")
        self.option = option
        self.problem = problem
