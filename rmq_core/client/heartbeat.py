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
EXPRESSION_TYPE_TAG = "TAG"


def retry_topic(group: str) -> str:
    """The retry topic of a consumer group: ``%RETRY%<group>``."""
    return RETRY_GROUP_TOPIC_PREFIX + group


@dataclass(frozen=True, slots=True)
class SubscriptionData:
    """One topic subscription: the parsed tag expression and its version (ms)."""

    topic: str
    expression: SubscriptionExpression
    sub_version: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    @classmethod
    def build(cls, topic: str, expression: str | None) -> SubscriptionData:
        """Parse ``expression`` (``*``, ``TagA || TagB``); raises FilterError when bad."""
        return cls(topic, SubscriptionExpression.parse(expression))

    @property
    def sub_string(self) -> str:
        return self.expression.expression

    def to_json(self) -> dict[str, Any]:
        return {
            "classFilterMode": False,
            "codeSet": sorted(self.expression.codes),
            "expressionType": EXPRESSION_TYPE_TAG,
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
