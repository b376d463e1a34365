"""Client-side checks of names and messages (``CL/Validators.java``).

The naming rules are :mod:`rmq_core.common.validators` (the broker applies the same ones).
Each check raises a specific error naming the offending topic or group: a bad name is a
:class:`~rmq_core.errors.ClientError`; an empty or oversized body a
:class:`~rmq_core.errors.MessageIllegalError` (code 13, as the broker would answer).
"""

from __future__ import annotations

from rmq_core.common import validators as names
from rmq_core.common.message import Message
from rmq_core.errors import BrokerError, ClientError

__all__ = [
    "MAX_TOPIC_LENGTH",
    "NOT_SENDABLE_TOPICS",
    "check_group",
    "check_message",
    "check_topic",
]

MAX_TOPIC_LENGTH = names.TOPIC_MAX_LENGTH
MAX_GROUP_LENGTH = names.GROUP_MAX_LENGTH
MESSAGE_ILLEGAL = 13
NOT_SENDABLE_TOPICS = names.NOT_ALLOWED_SEND_TOPICS


def check_topic(topic: str) -> None:
    """Raise ClientError unless ``topic`` is a legal topic name."""
    reason = names.check_topic(topic)
    if reason is not None:
        raise ClientError(reason)


def check_group(group: str) -> None:
    """Raise ClientError unless ``group`` is a legal producer/consumer group name."""
    reason = names.check_group(group)
    if reason is not None:
        raise ClientError(reason)


_SENDABLE_TOPICS: set[str] = set()
"""Topics that passed the name checks of :func:`check_message` (the checks are pure)."""
_SENDABLE_LIMIT = 4096


def check_message(msg: Message, max_message_size: int) -> None:
    """Validate a message before sending: topic, body present, body within the size limit."""
    topic = msg.topic
    if topic not in _SENDABLE_TOPICS:
        check_topic(topic)
        if names.is_not_allowed_send_topic(topic):
            raise ClientError(f"sending to system topic {topic} is not allowed")
        if len(_SENDABLE_TOPICS) >= _SENDABLE_LIMIT:
            _SENDABLE_TOPICS.clear()
        _SENDABLE_TOPICS.add(topic)
    if not msg.body:
        raise BrokerError.for_code(
            MESSAGE_ILLEGAL, "the message body length is zero", context=f"topic {msg.topic}"
        )
    if len(msg.body) > max_message_size:
        raise BrokerError.for_code(
            MESSAGE_ILLEGAL,
            f"the message body size {len(msg.body)} B is over the limit {max_message_size} B",
            context=f"topic {msg.topic}",
        )
