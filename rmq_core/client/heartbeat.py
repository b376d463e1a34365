"""Subscription and heartbeat bodies (reference §3.3): ``SubscriptionData``, ``HeartbeatData``.

Tag expressions are parsed with :mod:`rmq_core.filter.tags`, so a bad expression raises
:class:`~rmq_core.errors.FilterError` when the consumer subscribes, not later.
"""

from __future__ import annotations

import json
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

    def to_json(self) -> dict[str, Any]:
        return {
            "classFilterMode": False,
            "codeSet": sorted(self.expression.codes),
            "expressionType": self.expression_type,
            "subString": self.sub_string,
            "subVersion": self.sub_version,
            "tagsSet": sorted(self.expression.tags),
            "topic": self.topic,
        }


@dataclass(frozen=True, slots=True)
class ConsumerData:
    """One consumer group as it appears in a heartbeat."""

    group_name: str
    consume_type: str
    message_model: str
    consume_from_where: str
    subscriptions: tuple[SubscriptionData, ...]
    unit_mode: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "consumeFromWhere": self.consume_from_where,
            "consumeType": self.consume_type,
            "groupName": self.group_name,
            "messageModel": self.message_model,
            "subscriptionDataSet": [s.to_json() for s in self.subscriptions],
            "unitMode": self.unit_mode,
        }


def build_heartbeat(
    client_id: str, producer_groups: Iterable[str], consumers: Iterable[ConsumerData]
) -> bytes:
    """The HEART_BEAT body (classic form, ``heartbeatFingerprint`` 0)."""
    body = {
        "clientID": client_id,
        "consumerDataSet": [c.to_json() for c in consumers],
        "heartbeatFingerprint": 0,
        "producerDataSet": [{"groupName": g} for g in sorted(producer_groups)],
        "withoutSub": False,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
