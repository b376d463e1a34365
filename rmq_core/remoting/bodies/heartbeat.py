"""HEART_BEAT bodies (``HeartbeatData``, reference §3.3): clients encode them, brokers decode.

Wire form (keys sorted, as fastjson writes them)::

    {"clientID":"ip@pid","consumerDataSet":[{"consumeFromWhere":..,"consumeType":..,
     "groupName":..,"messageModel":..,"subscriptionDataSet":[SubscriptionData],"unitMode":..}],
     "heartbeatFingerprint":0,"producerDataSet":[{"groupName":..}],"withoutSub":false}

Clients disagree on how enums travel: Java and ali-ons send names (``"CLUSTERING"``), the C++
client sends ordinals (``1``). Both are accepted; values are kept as the Java enum **names**
and written as names. Unknown enum values, missing group names and non-object entries raise
:class:`HeartbeatError` (the broker answers SYSTEM_ERROR with the text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rmq_core.remoting.bodies.fields import BodyError, dumps, load_json

__all__ = [
    "CONSUME_FROM_WHERE",
    "CONSUME_TYPES",
    "MESSAGE_MODELS",
    "ConsumerData",
    "HeartbeatData",
    "HeartbeatError",
    "SubscriptionData",
    "decode_heartbeat",
    "encode_heartbeat",
]

# Java enum constants in declaration order: the index is the ordinal.
CONSUME_TYPES = ("CONSUME_ACTIVELY", "CONSUME_PASSIVELY", "CONSUME_POP")
MESSAGE_MODELS = ("BROADCASTING", "CLUSTERING")
CONSUME_FROM_WHERE = (
    "CONSUME_FROM_LAST_OFFSET",
    "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    "CONSUME_FROM_MIN_OFFSET",
    "CONSUME_FROM_MAX_OFFSET",
    "CONSUME_FROM_FIRST_OFFSET",
    "CONSUME_FROM_TIMESTAMP",
)
EXPRESSION_TYPES = ("TAG", "SQL92")


class HeartbeatError(BodyError):
    """A HEART_BEAT body that is not a valid HeartbeatData."""


def _enum(value: Any, names: Sequence[str], what: str, default: str) -> str:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise HeartbeatError(f"{what}: {value!r} is not a valid value")
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        index = int(value)
        if 0 <= index < len(names):
            return names[index]
        raise HeartbeatError(f"{what}: ordinal {value} out of range")
    if isinstance(value, str) and value in names:
        return value
    raise HeartbeatError(f"{what}: unknown value {value!r}")


def _int(value: Any, what: str, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise HeartbeatError(f"{what}: expected a number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HeartbeatError(f"{what}: expected a number, got {value!r}") from None


def _str_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise HeartbeatError(f"{what}: expected an array")
    return value


@dataclass(slots=True)
class SubscriptionData:
    """One subscription: topic, expression and its version (ms)."""

    topic: str
    sub_string: str = "*"
    expression_type: str = "TAG"
    sub_version: int = 0
    tags_set: list[str] = field(default_factory=list)
    code_set: list[int] = field(default_factory=list)
    class_filter_mode: bool = False

    @classmethod
    def from_json(cls, data: Any) -> SubscriptionData:
        """Parse a SubscriptionData object."""
        if not isinstance(data, Mapping):
            raise HeartbeatError("subscriptionDataSet entries must be objects")
        topic = data.get("topic")
        if not isinstance(topic, str) or not topic:
            raise HeartbeatError("subscription without topic")
        return cls(
            topic=topic,
            sub_string=str(data.get("subString") or "*"),
            expression_type=_enum(
                data.get("expressionType"), EXPRESSION_TYPES, "expressionType", "TAG"
            ),
            sub_version=_int(data.get("subVersion"), "subVersion"),
            tags_set=[str(t) for t in _str_list(data.get("tagsSet"), "tagsSet")],
            code_set=[_int(c, "codeSet") for c in _str_list(data.get("codeSet"), "codeSet")],
            class_filter_mode=bool(data.get("classFilterMode", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The fastjson object (GET_CONSUMER_CONNECTION_LIST bodies)."""
        return {
            "classFilterMode": self.class_filter_mode,
            "codeSet": list(self.code_set),
            "expressionType": self.expression_type,
            "subString": self.sub_string,
            "subVersion": self.sub_version,
            "tagsSet": list(self.tags_set),
            "topic": self.topic,
        }


@dataclass(slots=True)
class ConsumerData:
    """One consumer group of a client."""

    group_name: str
    consume_type: str = "CONSUME_PASSIVELY"
    message_model: str = "CLUSTERING"
    consume_from_where: str = "CONSUME_FROM_LAST_OFFSET"
    subscriptions: list[SubscriptionData] = field(default_factory=list)
    unit_mode: bool = False

    @classmethod
    def from_json(cls, data: Any) -> ConsumerData:
        """Parse a ConsumerData object (enum names or ordinals)."""
        if not isinstance(data, Mapping):
            raise HeartbeatError("consumerDataSet entries must be objects")
        group = data.get("groupName")
        if not isinstance(group, str) or not group:
            raise HeartbeatError("consumer data without groupName")
        return cls(
            group_name=group,
            consume_type=_enum(
                data.get("consumeType"), CONSUME_TYPES, "consumeType", "CONSUME_PASSIVELY"
            ),
            message_model=_enum(
                data.get("messageModel"), MESSAGE_MODELS, "messageModel", "CLUSTERING"
            ),
            consume_from_where=_enum(
                data.get("consumeFromWhere"),
                CONSUME_FROM_WHERE,
                "consumeFromWhere",
                "CONSUME_FROM_LAST_OFFSET",
            ),
            subscriptions=[
                SubscriptionData.from_json(s)
                for s in _str_list(data.get("subscriptionDataSet"), "subscriptionDataSet")
            ],
            unit_mode=bool(data.get("unitMode", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object a client sends."""
        return {
            "consumeFromWhere": self.consume_from_where,
            "consumeType": self.consume_type,
            "groupName": self.group_name,
            "messageModel": self.message_model,
            "subscriptionDataSet": [s.to_json() for s in self.subscriptions],
            "unitMode": self.unit_mode,
        }


@dataclass(slots=True)
class HeartbeatData:
    """A whole HEART_BEAT body."""

    client_id: str
    producer_groups: list[str] = field(default_factory=list)
    consumers: list[ConsumerData] = field(default_factory=list)
    heartbeat_fingerprint: int = 0
    without_sub: bool = False

    @classmethod
    def from_json(cls, data: Any) -> HeartbeatData:
        """Parse a decoded HeartbeatData object."""
        if not isinstance(data, Mapping):
            raise HeartbeatError("heartbeat body must be a JSON object")
        client_id = data.get("clientID")
        if not isinstance(client_id, str) or not client_id:
            raise HeartbeatError("heartbeat without clientID")
        producers: list[str] = []
        for item in _str_list(data.get("producerDataSet"), "producerDataSet"):
            if not isinstance(item, Mapping) or not isinstance(item.get("groupName"), str):
                raise HeartbeatError("producerDataSet entries must carry a groupName")
            producers.append(item["groupName"])
        return cls(
            client_id=client_id,
            producer_groups=producers,
            consumers=[
                ConsumerData.from_json(c)
                for c in _str_list(data.get("consumerDataSet"), "consumerDataSet")
            ],
            heartbeat_fingerprint=_int(data.get("heartbeatFingerprint"), "heartbeatFingerprint"),
            without_sub=bool(data.get("withoutSub", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object a client sends."""
        return {
            "clientID": self.client_id,
            "consumerDataSet": [c.to_json() for c in self.consumers],
            "heartbeatFingerprint": self.heartbeat_fingerprint,
            "producerDataSet": [{"groupName": g} for g in self.producer_groups],
            "withoutSub": self.without_sub,
        }


def encode_heartbeat(data: HeartbeatData) -> bytes:
    """The HEART_BEAT body of ``data``."""
    return dumps(data.to_json())


def decode_heartbeat(body: bytes) -> HeartbeatData:
    """Parse a HEART_BEAT body; raises HeartbeatError when it is not a valid HeartbeatData."""
    try:
        doc = load_json(body, "HeartbeatData")
    except HeartbeatError:
        raise
    except BodyError as exc:
        raise HeartbeatError(str(exc)) from exc
    return HeartbeatData.from_json(doc)
