"""Client subscriptions and the heartbeat they travel in (reference §3.3).

``SubscriptionData`` and ``ConsumerData`` here are the client's views (a parsed tag
expression, the consumer's settings); :meth:`to_wire` turns them into the shared wire model of
:mod:`rmq_core.remoting.bodies.heartbeat`, which the broker decodes with the same code.
Tag expressions are parsed with :mod:`rmq_core.filter.tags`, so a bad expression raises
:class:`~rmq_core.errors.FilterError` when the consumer subscribes, not later.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rmq_core.client.message_selector import (
    EXPRESSION_TYPE_SQL92,
    EXPRESSION_TYPE_TAG,
    MessageSelector,
)
from rmq_core.filter.tags import SubscriptionExpression
from rmq_core.remoting.bodies import heartbeat as wire

__all__ = [
    "CONSUME_ACTIVELY",
    "CONSUME_PASSIVELY",
    "ConsumerData",
    "SubscriptionData",
    "build_heartbeat",
    "retry_topic",
]

CONSUME_ACTIVELY = "CONSUME_ACTIVELY"
CONSUME_PASSIVELY = "CONSUME_PASSIVELY"
RETRY_GROUP_TOPIC_PREFIX = "%RETRY%"


def retry_topic(group: str) -> str:
    """The retry topic of a consumer group: ``%RETRY%<group>``."""
    return RETRY_GROUP_TOPIC_PREFIX + group


@dataclass(frozen=True, slots=True)
class SubscriptionData:
    """One topic subscription: the parsed tag expression and its version (ms).

    A SQL92 subscription (``sql`` set) filters on the broker only: its tag ``expression`` is
    ``*`` so the client keeps whatever the broker delivers.
    """

    topic: str
    expression: SubscriptionExpression
    sub_version: int = field(default_factory=lambda: time.time_ns() // 1_000_000)
    sql: str | None = None

    @classmethod
    def build(cls, topic: str, expression: str | MessageSelector | None) -> SubscriptionData:
        """Parse ``expression`` (``*``, ``TagA || TagB`` or a :class:`MessageSelector`);
        raises FilterError when bad."""
        if isinstance(expression, MessageSelector):
            if expression.is_sql:
                return cls(topic, SubscriptionExpression.parse("*"), sql=expression.expression)
            expression = expression.expression
        return cls(topic, SubscriptionExpression.parse(expression))

    @property
    def sub_string(self) -> str:
        return self.sql if self.sql is not None else self.expression.expression

    @property
    def expression_type(self) -> str:
        """``TAG`` or ``SQL92``."""
        return EXPRESSION_TYPE_SQL92 if self.sql is not None else EXPRESSION_TYPE_TAG

    def to_wire(self) -> wire.SubscriptionData:
        """The subscription as it travels in a heartbeat (tags and their hash codes sorted)."""
        return wire.SubscriptionData(
            topic=self.topic,
            sub_string=self.sub_string,
            expression_type=self.expression_type,
            sub_version=self.sub_version,
            tags_set=sorted(self.expression.tags),
            code_set=sorted(self.expression.codes),
            class_filter_mode=False,
        )

    def to_json(self) -> dict[str, Any]:
        return self.to_wire().to_json()


@dataclass(frozen=True, slots=True)
class ConsumerData:
    """One consumer group as it appears in a heartbeat."""

    group_name: str
    consume_type: str
    message_model: str
    consume_from_where: str
    subscriptions: tuple[SubscriptionData, ...]
    unit_mode: bool = False

    def to_wire(self) -> wire.ConsumerData:
        """The consumer group as it travels in a heartbeat."""
        return wire.ConsumerData(
            group_name=self.group_name,
            consume_type=self.consume_type,
            message_model=self.message_model,
            consume_from_where=self.consume_from_where,
            subscriptions=[s.to_wire() for s in self.subscriptions],
            unit_mode=self.unit_mode,
        )

    def to_json(self) -> dict[str, Any]:
        return self.to_wire().to_json()


def build_heartbeat(
    client_id: str, producer_groups: Iterable[str], consumers: Iterable[ConsumerData]
) -> bytes:
    """The HEART_BEAT body (classic form, ``heartbeatFingerprint`` 0)."""
    data = wire.HeartbeatData(
        client_id=client_id,
        producer_groups=sorted(producer_groups),
        consumers=[c.to_wire() for c in consumers],
    )
    return wire.encode_heartbeat(data)
