"""Tag subscriptions: ``"TagA || TagB"``, ``"*"`` and the tag hash codes the broker compares.

RocketMQ's ``FilterAPI.buildSubscriptionData`` (reference §6.9):

- ``None``, ``""`` and ``"*"`` subscribe to every message of the topic;
- anything else is split on ``"||"``; each piece is trimmed the way Java's ``String.trim``
  does (every character at or below U+0020 at either end) and empty pieces are dropped;
- ``tags`` is the set of remaining pieces, ``codes`` their Java ``String.hashCode`` values.

The broker keeps a consume-queue entry when the subscription is ``*``, when the entry has no
tags code, or when the entry's tags code (truncated to a Java int) is in ``codes``. The client
then drops messages whose ``TAGS`` property is not exactly in ``tags`` (hash collisions).

Deviation, on purpose: an expression that leaves no tag at all (``"||"``, ``" "``) is a
:class:`~rmq_core.errors.FilterError` here. Java accepts ``" "`` and then matches nothing,
which is never what the caller meant.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmq_core.common.message_codec import java_string_hash
from rmq_core.errors import FilterError
from rmq_core.filter.java_values import java_trim

__all__ = [
    "SUB_ALL",
    "TAG_SEPARATOR",
    "SubscriptionExpression",
    "parse_tag_expression",
    "tag_hash",
    "to_java_int",
]

SUB_ALL = "*"
TAG_SEPARATOR = "||"


def tag_hash(tag: str) -> int:
    """Java ``tag.hashCode()``: signed 32-bit, computed over UTF-16 code units.

    This is the tags code the store writes into each consume-queue entry, so the broker's
    comparison and the store agree by construction (same function).
    """
    return java_string_hash(tag)


def to_java_int(value: int) -> int:
    """Java ``(int) value``: keep the low 32 bits as a signed int (``Long.intValue``)."""
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value >= 0x80000000 else value


def parse_tag_expression(expression: str | None) -> tuple[frozenset[str], frozenset[int]]:
    """Return ``(tags, codes)`` of a tag expression; both empty means "every message".

    Raises :class:`FilterError` (position 0) when the expression names no tag at all.
    """
    parsed = SubscriptionExpression.parse(expression)
    return parsed.tags, parsed.codes


@dataclass(frozen=True, slots=True)
class SubscriptionExpression:
    """A parsed tag subscription.

    Invariant: ``tags`` and ``codes`` are both empty exactly when ``is_all``; otherwise
    ``codes == {tag_hash(t) for t in tags}``. ``expression`` is ``"*"`` for "all", else the
    text the subscriber gave (RocketMQ keeps it verbatim as ``subString``).
    """

    expression: str
    tags: frozenset[str]
    codes: frozenset[int]

    @classmethod
    def parse(cls, expression: str | None) -> SubscriptionExpression:
        """Parse ``expression``; see the module docstring for the rules."""
        if expression is None or expression == "" or expression == SUB_ALL:
            return cls(SUB_ALL, frozenset(), frozenset())
        tags = frozenset(
            tag for tag in (java_trim(piece) for piece in expression.split(TAG_SEPARATOR)) if tag
        )
        if not tags:
            raise FilterError(
                f"tag expression {expression!r} names no tag", expression=expression, position=0
            )
        return cls(expression, tags, frozenset(tag_hash(tag) for tag in tags))

    @property
    def is_all(self) -> bool:
        """True when the subscription accepts every message (``*`` or empty)."""
        return not self.tags

    def matches_tags_code(self, tags_code: int | None) -> bool:
        """Broker-side check of one consume-queue entry's tags code (may be a long)."""
        if tags_code is None or self.is_all:
            return True
        return to_java_int(tags_code) in self.codes

    def matches_tag(self, tag: str | None) -> bool:
        """Client-side check of a decoded message's ``TAGS`` (removes hash collisions)."""
        if self.is_all:
            return True
        return tag is not None and tag in self.tags
