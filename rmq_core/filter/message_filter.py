"""The broker's per-subscription message filter (RocketMQ's ``ExpressionMessageFilter``).

It satisfies the store's ``MessageFilter`` protocol structurally, in two stages:

1. ``is_matched_by_consume_queue(tags_code)`` runs on each consume-queue entry before the
   record is read. TAG subscriptions decide here: ``*``, an entry without tags code, or a
   tags code (as a Java int) among the subscription's hash codes. SQL92 subscriptions pass
   every entry (RocketMQ's optional bloom-filter shortcut is not implemented).
2. ``is_matched_by_commit_log(properties)`` runs on the record's properties (user and system
   keys, e.g. ``TAGS``, ``KEYS``). TAG subscriptions pass; SQL92 subscriptions match only when
   the selector is exactly TRUE (FALSE, UNKNOWN and evaluation errors drop the message).

Retry topics need nothing special: a consumer subscribes ``%RETRY%<group>`` with TAG ``*``,
so its filter passes every retry message, exactly as RocketMQ does by default
(``filterSupportRetry=false``); those messages already matched the original subscription.

Expression types are RocketMQ's: ``TAG`` (also ``None`` and ``""``) and ``SQL92``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from rmq_core.errors import FilterError
from rmq_core.filter.sql92 import Sql92Expression, compile_sql92
from rmq_core.filter.tags import SubscriptionExpression

__all__ = [
    "SQL92",
    "TAG",
    "ExpressionMessageFilter",
    "PropertyFilterDisabledError",
    "is_tag_type",
]

TAG = "TAG"
SQL92 = "SQL92"
_TAG_CACHE_SIZE = 1024


class PropertyFilterDisabledError(FilterError):
    """A SQL92 subscription reached a broker whose ``enablePropertyFilter`` is false.

    RocketMQ answers such a pull with SYSTEM_ERROR ("The broker does not support consumer to
    filter message by SQL92"), not with SUBSCRIPTION_PARSE_FAILED.
    """


def is_tag_type(expression_type: str | None) -> bool:
    """RocketMQ's ``ExpressionType.isTagType``: ``None``, ``""`` or ``"TAG"``."""
    return expression_type is None or expression_type == "" or expression_type == TAG


@functools.lru_cache(maxsize=_TAG_CACHE_SIZE)
def _parse_tags(expression: str | None) -> SubscriptionExpression:
    return SubscriptionExpression.parse(expression)


class ExpressionMessageFilter:
    """Filter for one subscription (topic + group) of one pull.

    Raises :class:`FilterError` for a bad expression or an unknown type, and
    :class:`PropertyFilterDisabledError` for SQL92 when ``enable_property_filter`` is false.
    Construction is cheap: parsed expressions are cached by text.
    """

    __slots__ = ("_sql", "_tags", "expression", "expression_type")

    def __init__(
        self,
        expression_type: str | None,
        expression: str | None,
        enable_property_filter: bool = True,
    ) -> None:
        self._tags: SubscriptionExpression | None = None
        self._sql: Sql92Expression | None = None
        if is_tag_type(expression_type):
            self._tags = _parse_tags(expression)
            self.expression_type = TAG
            self.expression = self._tags.expression
        elif expression_type == SQL92:
            if not enable_property_filter:
                raise PropertyFilterDisabledError(
                    "The broker does not support consumer to filter message by SQL92 "
                    "(enablePropertyFilter=false)",
                    expression=expression or "",
                )
            self._sql = compile_sql92(expression or "")
            self.expression_type = SQL92
            self.expression = self._sql.expression
        else:
            raise FilterError(
                f"unknown expression type {expression_type!r} (expected TAG or SQL92)",
                expression=expression or "",
            )

    def __repr__(self) -> str:
        return f"ExpressionMessageFilter({self.expression_type!r}, {self.expression!r})"

    @property
    def subscription(self) -> SubscriptionExpression | None:
        """The parsed tag subscription, or None for SQL92."""
        return self._tags

    @property
    def selector(self) -> Sql92Expression | None:
        """The compiled SQL92 selector, or None for TAG."""
        return self._sql

    @property
    def needs_commit_log_properties(self) -> bool:
        """False for a tag subscription: stage 2 always matches, so the store need not locate
        each record's properties to ask it."""
        return self._sql is not None

    @property
    def matches_every_tags_code(self) -> bool:
        """True when stage 1 passes every consume-queue entry (``*`` or SQL92): the store then
        skips the per-entry call."""
        return self._tags is None or self._tags.is_all

    def is_matched_by_consume_queue(self, tags_code: int | None) -> bool:
        """Stage 1: decide from a consume-queue entry's tags code (``None`` = no tags)."""
        if self._tags is None:
            return True
        return self._tags.matches_tags_code(tags_code)

    def is_matched_by_commit_log(self, properties: Mapping[str, str] | None) -> bool:
        """Stage 2: decide from the stored message's properties (``None`` = no properties)."""
        if self._sql is None:
            return True
        return self._sql.evaluate(properties)
