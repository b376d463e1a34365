"""``MessageSelector``: what a consumer subscribes to, by tag or by SQL92 (``MessageSelector``).

- ``MessageSelector.by_tag("TagA || TagB")`` (or just the string ``"TagA || TagB"``): the
  broker compares tag hash codes, the client then keeps exact tag matches;
- ``MessageSelector.by_sql("a > 5 AND region = 'eu'")``: the broker evaluates the SQL92
  expression against each message's properties (user and system ones) and delivers only
  messages for which it is TRUE. The broker must run with ``enablePropertyFilter=true``.

Both forms are checked when built: a bad expression raises
:class:`~rmq_core.errors.FilterError` (with ``position``), not a later pull.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmq_core.filter.sql92 import compile_sql92
from rmq_core.filter.tags import SubscriptionExpression

__all__ = ["EXPRESSION_TYPE_SQL92", "EXPRESSION_TYPE_TAG", "MessageSelector"]

EXPRESSION_TYPE_TAG = "TAG"
EXPRESSION_TYPE_SQL92 = "SQL92"


@dataclass(frozen=True, slots=True)
class MessageSelector:
    """An expression and its type (``TAG`` or ``SQL92``)."""

    expression_type: str
    expression: str

    def __post_init__(self) -> None:
        if self.expression_type == EXPRESSION_TYPE_SQL92:
            compile_sql92(self.expression)
        elif self.expression_type == EXPRESSION_TYPE_TAG:
            SubscriptionExpression.parse(self.expression)
        else:
            raise ValueError(f"expression type must be TAG or SQL92, not {self.expression_type!r}")

    @classmethod
    def by_sql(cls, expression: str) -> MessageSelector:
        """A SQL92 selector; raises FilterError when ``expression`` does not parse."""
        return cls(EXPRESSION_TYPE_SQL92, expression)

    @classmethod
    def by_tag(cls, expression: str | None = "*") -> MessageSelector:
        """A tag selector (``*``/None for everything); raises FilterError when bad."""
        return cls(EXPRESSION_TYPE_TAG, expression or "*")

    @property
    def is_sql(self) -> bool:
        """True for SQL92 selectors."""
        return self.expression_type == EXPRESSION_TYPE_SQL92
