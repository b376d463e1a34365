"""Errors raised by the Flink connector while a job is being built."""

from __future__ import annotations

__all__ = ["RocketMQFlinkError", "RocketMQOptionError"]


class RocketMQFlinkError(Exception):
    """Base class of the connector's own errors (failed jobs carry Flink's exceptions)."""


class RocketMQOptionError(RocketMQFlinkError, ValueError):
    """A source or sink option is missing or wrong; ``option`` names it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
