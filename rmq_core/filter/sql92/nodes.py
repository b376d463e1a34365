"""Expression tree of a compiled SQL92 selector and its three-valued evaluation.

Each node evaluates against a message's properties (``Mapping[str, str]``) to a Java-like
value (:data:`~rmq_core.filter.java_values.Value`); boolean nodes yield ``True``, ``False``
or ``None`` (SQL's UNKNOWN). The rules are RocketMQ's (``F/expression/*.java``):

- a property is its string value, ``None`` when absent;
- ``AND``/``OR``/``NOT`` are three-valued and short-circuit left to right;
- ``x = y``: both null → TRUE; only ``x`` null → NULL; only ``y`` null → FALSE; otherwise
  :func:`~rmq_core.filter.java_values.compare` is 0 (so ``x <> y`` is ``NOT (x = y)``,
  ``IS NULL`` is ``x = NULL`` and ``IS NOT NULL`` its negation);
- ``> >= < <=``: NULL if either side is null; two strings are both parsed as doubles;
- ``IN``: NULL for a missing property, else membership;
- ``CONTAINS``/``STARTSWITH``/``ENDSWITH`` (and their ``NOT`` forms): FALSE for a missing or
  non-string value or an empty search string, never NULL;
- a bare property used as a condition is FALSE (NULL when missing): values are strings;
- a failed conversion (``'abc'`` compared with ``5``) raises :class:`Sql92EvaluationError`.

``depth`` is the height of the subtree; the parser bounds it so evaluation recursion is bounded.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import ClassVar

from rmq_core.errors import FilterError
from rmq_core.filter.java_values import (
    JavaConversionError,
    Value,
    compare,
    negate,
    parse_double,
)

__all__ = [
    "And",
    "BooleanCast",
    "Compare",
    "Constant",
    "Equal",
    "In",
    "Negate",
    "Node",
    "Not",
    "Or",
    "Property",
    "Sql92EvaluationError",
    "StringMatch",
]

Properties = Mapping[str, str]


class Sql92EvaluationError(FilterError):
    """Evaluating a selector against one message failed as it does in Java (bad conversion).

    RocketMQ's broker logs such a failure and does not deliver the message.
    """


class Node(ABC):
    """Base of every expression node. ``position`` is the offset of the node's first token."""

    __slots__ = ("depth", "position")
    boolean_kind: ClassVar[bool] = False
    depth: int
    position: int

    @property
    def is_boolean(self) -> bool:
        """True when Java would call this a BooleanExpression (usable as a condition)."""
        return self.boolean_kind

    def __init__(self, position: int, *children: Node) -> None:
        self.position = position
        self.depth = 1 + max((child.depth for child in children), default=0)

    @abstractmethod
    def evaluate(self, properties: Properties) -> Value:
        """Evaluate this node against one message's properties."""


class Constant(Node):
    """A literal. ``TRUE``, ``FALSE`` and ``NULL`` count as boolean expressions."""

    __slots__ = ("value",)

    def __init__(self, position: int, value: Value) -> None:
        super().__init__(position)
        self.value = value

    @property
    def is_boolean(self) -> bool:
        """True for ``TRUE``, ``FALSE`` and ``NULL`` (Java's BooleanConstantExpression)."""
        return self.value is None or type(self.value) is bool

    def evaluate(self, properties: Properties) -> Value:
        return self.value


class Property(Node):
    """A message property by name."""

    __slots__ = ("name",)

    def __init__(self, position: int, name: str) -> None:
        super().__init__(position)
        self.name = name

    def evaluate(self, properties: Properties) -> Value:
        return properties.get(self.name)


class Negate(Node):
    """Unary minus: numbers negate (Java overflow), anything else is NULL."""

    __slots__ = ("operand",)

    def __init__(self, position: int, operand: Node) -> None:
        super().__init__(position, operand)
        self.operand = operand

    def evaluate(self, properties: Properties) -> Value:
        return negate(self.operand.evaluate(properties))


class Not(Node):
    """Three-valued NOT."""

    __slots__ = ("operand",)
    boolean_kind = True

    def __init__(self, position: int, operand: Node) -> None:
        super().__init__(position, operand)
        self.operand = operand

    def evaluate(self, properties: Properties) -> Value:
        value = self.operand.evaluate(properties)
        return None if value is None else not value


class BooleanCast(Node):
    """A property used as a condition: NULL when missing, else whether it is a Boolean."""

    __slots__ = ("operand",)
    boolean_kind = True

    def __init__(self, position: int, operand: Node) -> None:
        super().__init__(position, operand)
        self.operand = operand

    def evaluate(self, properties: Properties) -> Value:
        value = self.operand.evaluate(properties)
        if value is None:
            return None
        return value if type(value) is bool else False


class And(Node):
    """N-ary three-valued AND; stops at the first FALSE."""

    __slots__ = ("operands",)
    boolean_kind = True

    def __init__(self, position: int, operands: tuple[Node, ...]) -> None:
        super().__init__(position, *operands)
        self.operands = operands

    def evaluate(self, properties: Properties) -> Value:
        unknown = False
        for operand in self.operands:
            value = operand.evaluate(properties)
            if value is None:
                unknown = True
            elif not value:
                return False
        return None if unknown else True


class Or(Node):
    """N-ary three-valued OR; stops at the first TRUE."""

    __slots__ = ("operands",)
    boolean_kind = True

    def __init__(self, position: int, operands: tuple[Node, ...]) -> None:
        super().__init__(position, *operands)
        self.operands = operands

    def evaluate(self, properties: Properties) -> Value:
        unknown = False
        for operand in self.operands:
            value = operand.evaluate(properties)
            if value is None:
                unknown = True
            elif value:
                return True
        return None if unknown else False


def _checked_compare(node: Node, left: Value, right: Value) -> int:
    try:
        return compare(left, right)
    except JavaConversionError as error:
        raise Sql92EvaluationError(str(error), position=node.position) from error


class Equal(Node):
    """``left = right`` with RocketMQ's asymmetric null rule (see the module docstring)."""

    __slots__ = ("left", "right")
    boolean_kind = True

    def __init__(self, position: int, left: Node, right: Node) -> None:
        super().__init__(position, left, right)
        self.left = left
        self.right = right

    def evaluate(self, properties: Properties) -> Value:
        left = self.left.evaluate(properties)
        right = self.right.evaluate(properties)
        if left is None:
            return True if right is None else None
        if right is None:
            return False
        return _checked_compare(self, left, right) == 0


_ORDERINGS: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class Compare(Node):
    """``left OP right`` for ``> >= < <=``."""

    __slots__ = ("_test", "left", "op", "right")
    boolean_kind = True

    def __init__(self, position: int, op: str, left: Node, right: Node) -> None:
        super().__init__(position, left, right)
        self.op = op
        self.left = left
        self.right = right
        self._test = _ORDERINGS[op]

    def evaluate(self, properties: Properties) -> Value:
        left = self.left.evaluate(properties)
        if left is None:
            return None
        right = self.right.evaluate(properties)
        if right is None:
            return None
        if type(left) is str and type(right) is str:
            try:
                left, right = parse_double(left), parse_double(right)
            except JavaConversionError as error:
                message = f"cannot compare strings with {self.op}: {error}"
                raise Sql92EvaluationError(message, position=self.position) from error
        return self._test(_checked_compare(self, left, right), 0)


class In(Node):
    """``property [NOT] IN ('a', 'b', ...)``."""

    __slots__ = ("negated", "operand", "values")
    boolean_kind = True

    def __init__(
        self, position: int, operand: Property, values: frozenset[str], negated: bool
    ) -> None:
        super().__init__(position, operand)
        self.operand = operand
        self.values = values
        self.negated = negated

    def evaluate(self, properties: Properties) -> Value:
        value = self.operand.evaluate(properties)
        if type(value) is not str:
            return None
        return (value in self.values) != self.negated


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "CONTAINS": operator.contains,
    "STARTSWITH": str.startswith,
    "ENDSWITH": str.endswith,
}


class StringMatch(Node):
    """``operand [NOT] CONTAINS|STARTSWITH|ENDSWITH 'search'``; never NULL."""

    __slots__ = ("_test", "kind", "negated", "operand", "search")
    boolean_kind = True

    def __init__(self, position: int, kind: str, operand: Node, search: str, negated: bool) -> None:
        super().__init__(position, operand)
        self.kind = kind
        self.operand = operand
        self.search = search
        self.negated = negated
        self._test = _STRING_TESTS[kind]

    def evaluate(self, properties: Properties) -> Value:
        if not self.search:
            return False
        value = self.operand.evaluate(properties)
        if type(value) is not str:
            return False
        return self._test(value, self.search) != self.negated
