"""A compiled SQL92 selector: parse once, evaluate against many messages."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from rmq_core.filter.java_values import Value
from rmq_core.filter.sql92.nodes import Node, Sql92EvaluationError
from rmq_core.filter.sql92.parser import parse

__all__ = ["COMPILE_CACHE_SIZE", "Sql92Expression", "compile_sql92"]

COMPILE_CACHE_SIZE = 256
"""Distinct expressions whose compiled form is kept (RocketMQ keeps 100)."""

_NO_PROPERTIES: Mapping[str, str] = {}


class Sql92Expression:
    """An immutable compiled selector; safe to share between threads and subscriptions."""

    __slots__ = ("_root", "expression")

    def __init__(self, expression: str, root: Node) -> None:
        self.expression = expression
        self._root = root

    def __repr__(self) -> str:
        return f"Sql92Expression({self.expression!r})"

    def evaluate_value(self, properties: Mapping[str, str] | None) -> bool | None:
        """Three-valued result: True, False or None (UNKNOWN).

        Raises :class:`Sql92EvaluationError` where RocketMQ's evaluation throws (a property
        that is not a number compared with a number, two non-numeric strings compared with
        ``>``).
        """
        value: Value = self._root.evaluate(_NO_PROPERTIES if properties is None else properties)
        return value if value is None or type(value) is bool else False

    def evaluate(self, properties: Mapping[str, str] | None) -> bool:
        """Whether a message with these properties matches: the selector is exactly TRUE.

        FALSE, UNKNOWN and evaluation errors all mean "no match", as in RocketMQ's broker.
        ``None`` properties behave as an empty mapping.
        """
        try:
            return self.evaluate_value(properties) is True
        except Sql92EvaluationError:
            return False


@functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)
def compile_sql92(expression: str) -> Sql92Expression:
    """Parse ``expression`` (see :mod:`rmq_core.filter.sql92.parser`) into a reusable selector.

    Raises :class:`~rmq_core.errors.FilterError` whose ``position`` is the 0-based offset of
    the offending token. Results are cached by expression text.
    """
    if not isinstance(expression, str):
        raise TypeError(f"expression must be str, not {type(expression).__name__}")
    return Sql92Expression(expression, parse(expression))
