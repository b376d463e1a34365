"""Destinations (``topic:tag``), Spring-style messages with headers, and building rmq messages.

- :func:`parse_destination` splits ``"Orders:paid"`` into topic ``Orders`` and tag ``paid``
  (no tag when there is no colon), as rocketmq-spring does.
- :class:`GenericMessage` is a payload plus headers (Spring's ``Message<T>``); build one with
  :class:`MessageBuilder`. Header names in :class:`RocketMQHeaders` map to message fields
  (keys, tags, delay level, flag, wait-store-ok); every other header becomes a user property
  (values turned into strings).
- :func:`to_rocketmq_message` turns any payload into a :class:`rmq_core.Message` for a
  destination with a converter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from rmq_core import Message
from rmq_integrations.spring.converters import MessageConverter

__all__ = [
    "Destination",
    "GenericMessage",
    "MessageBuilder",
    "RocketMQHeaders",
    "parse_destination",
    "to_rocketmq_message",
]

T = TypeVar("T")


class RocketMQHeaders:
    """Header names with a meaning of their own (rocketmq-spring's ``RocketMQHeaders``)."""

    KEYS = "KEYS"
    """Message keys: a string (space separated) or a list of strings."""
    TAGS = "TAGS"
    """The tag, when the destination has none."""
    DELAY = "DELAY"
    """Delay level (1..18) as an int or a string."""
    FLAG = "FLAG"
    """The int user flag."""
    WAIT_STORE_MSG_OK = "WAIT"
    """Whether the broker answers only after storing (bool)."""
    TRANSACTION_ID = "__transactionId__"
    """Set by the client on transactional sends; read it in transaction listeners."""


@dataclass(frozen=True, slots=True)
class Destination:
    """A parsed ``topic[:tag]``."""

    topic: str
    tag: str | None = None

    def __str__(self) -> str:
        return f"{self.topic}:{self.tag}" if self.tag else self.topic


def parse_destination(destination: str) -> Destination:
    """``"topic"`` or ``"topic:tag"``; raises ValueError for an empty topic or extra colons."""
    if not isinstance(destination, str):
        raise TypeError(f"destination must be a str, not {type(destination).__name__}")
    topic, sep, tag = destination.partition(":")
    topic = topic.strip()
    tag = tag.strip()
    if not topic:
        raise ValueError(f"destination {destination!r} has no topic (expected 'topic[:tag]')")
    if sep and ":" in tag:
        raise ValueError(
            f"destination {destination!r} has more than one ':' (expected 'topic:tag')"
        )
    return Destination(topic, tag or None)


@dataclass(frozen=True, slots=True)
class GenericMessage(Generic[T]):
    """A payload and its headers (Spring's ``Message<T>``)."""

    payload: T
    headers: Mapping[str, Any] = field(default_factory=dict)


class MessageBuilder(Generic[T]):
    """``MessageBuilder.with_payload(order).set_header(RocketMQHeaders.KEYS, "o-1").build()``."""

    def __init__(self, payload: T) -> None:
        self._payload = payload
        self._headers: dict[str, Any] = {}

    @classmethod
    def with_payload(cls, payload: T) -> MessageBuilder[T]:
        return cls(payload)

    def set_header(self, name: str, value: Any) -> MessageBuilder[T]:
        self._headers[name] = value
        return self

    def copy_headers(self, headers: Mapping[str, Any]) -> MessageBuilder[T]:
        self._headers.update(headers)
        return self

    def build(self) -> GenericMessage[T]:
        return GenericMessage(self._payload, dict(self._headers))


def _keys(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k for k in value.split(" ") if k]
    if isinstance(value, Iterable):
        return [str(k) for k in value]
    return [str(value)]


def _apply_headers(msg: Message, headers: Mapping[str, Any]) -> None:
    for name, value in headers.items():
        if value is None:
            continue
        if name == RocketMQHeaders.KEYS:
            msg.keys = _keys(value)
        elif name == RocketMQHeaders.TAGS:
            if msg.tags is None:
                msg.tags = str(value)
        elif name == RocketMQHeaders.DELAY:
            msg.delay_time_level = int(value)
        elif name == RocketMQHeaders.FLAG:
            msg.flag = int(value)
        elif name == RocketMQHeaders.WAIT_STORE_MSG_OK:
            msg.wait_store_msg_ok = bool(value)
        else:
            msg.put_user_property(str(name), str(value))


def to_rocketmq_message(
    destination: Destination,
    payload: Any,
    converter: MessageConverter,
    headers: Mapping[str, Any] | None = None,
) -> Message:
    """A :class:`rmq_core.Message` for ``destination`` carrying ``payload``.

    ``payload`` may be an rmq ``Message`` (copied; its topic and, if the destination has one,
    its tag are replaced), a :class:`GenericMessage` (its payload converted, its headers
    applied) or any value ``converter`` can serialize. ``headers`` are applied last.
    Raises :class:`~rmq_integrations.spring.errors.MessageConversionError` for a payload no
    converter accepts and ValueError for a bad header value.
    """
    merged: dict[str, Any] = {}
    if isinstance(payload, Message):
        msg = Message(destination.topic, payload.body, payload.flag, dict(payload.properties))
    else:
        if isinstance(payload, GenericMessage):
            merged.update(payload.headers)
            payload = payload.payload
        msg = Message(destination.topic, converter.serialize(payload))
    if destination.tag:
        msg.tags = destination.tag
    merged.update(headers or {})
    _apply_headers(msg, merged)
    return msg
