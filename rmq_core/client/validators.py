"""Client-side checks of names and messages (``CL/Validators.java``).

Each check raises a specific error naming the offending topic or group: a bad name is a
:class:`~rmq_core.errors.ClientError`; an empty or oversized body a
:class:`~rmq_core.errors.MessageIllegalError` (code 13, as the broker would answer).
"""

from __future__ import annotations

import re

from rmq_core.common.message import Message
from rmq_core.errors import BrokerError, ClientError

__all__ = [
    "MAX_TOPIC_LENGTH",
    "NOT_SENDABLE_TOPICS",
    "check_group",
    "check_message",
    "check_topic",
]

MAX_TOPIC_LENGTH = 127
MAX_GROUP_LENGTH = 255
_VALID_NAME = re.compile(r"^[%|a-zA-Z0-9_-]+$")
MESSAGE_ILLEGAL = 13
NOT_SENDABLE_TOPICS = frozenset(
    {
        "SCHEDULE_TOPIC_XXXX",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "rmq_sys_wheel_timer",
    }
)


def check_topic(topic: str) -> None:
    """Raise ClientError unless ``topic`` is a legal topic name."""
    if not topic or not topic.strip():
        raise ClientError("the specified topic is blank")
    limit = MAX_GROUP_LENGTH if topic.startswith(("%RETRY%", "%DLQ%")) else MAX_TOPIC_LENGTH
    if len(topic) > limit:
        raise ClientError(f"the specified topic {topic[:40]}... is longer than {limit} characters")
    if not _VALID_NAME.match(topic):
        raise ClientError(
            f"the specified topic {topic!r} contains illegal characters, allowing only "
            "^[%|a-zA-Z0-9_-]+$"
        )


def check_group(group: str) -> None:
    """Raise ClientError unless ``group`` is a legal producer/consumer group name."""
    if not group or not group.strip():
        raise ClientError("the specified group is blank")
    if len(group) > MAX_GROUP_LENGTH:
        raise ClientError(f"the specified group is longer than {MAX_GROUP_LENGTH} characters")
    if not _VALID_NAME.match(group):
        raise ClientError(
            f"the specified group {group!r} contains illegal characters, allowing only "
            "^[%|a-zA-Z0-9_-]+$"
        )


def check_message(msg: Message, max_message_size: int) -> None:
    """Validate a message before sending: topic, body present, body within the size limit."""
    check_topic(msg.topic)
    if msg.topic in NOT_SENDABLE_TOPICS:
        raise ClientError(f"sending to system topic {msg.topic} is not allowed")
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
