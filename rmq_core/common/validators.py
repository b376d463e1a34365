"""Topic and group names: validity rules, system topics and the retry/DLQ naming scheme.

One definition for every component: the broker checks requests with it, clients check names
before sending (:mod:`rmq_core.client.validators` turns a reason into a ``ClientError``).

Rules (RocketMQ's ``TopicValidator`` / ``MixAll``):

- a topic or group name uses only ``[A-Za-z0-9%|_-]``; a topic is at most 127 characters,
  a ``%RETRY%``/``%DLQ%`` topic at most 255, a group at most 255;
- *system topics* (TBW102, SCHEDULE_TOPIC_XXXX, the transaction topics, ``rmq_sys_*``...)
  cannot be created or deleted by clients; the *not-sendable* subset refuses client sends;
- ``%RETRY%<group>`` holds a group's redeliveries, ``%DLQ%<group>`` its dead letters.

Each ``check_*`` function returns ``None`` when the name is valid, else the remark to answer.
"""

from __future__ import annotations

import re

__all__ = [
    "AUTO_CREATE_TOPIC_KEY_TOPIC",
    "DLQ_GROUP_TOPIC_PREFIX",
    "GROUP_MAX_LENGTH",
    "NOT_ALLOWED_SEND_TOPICS",
    "RETRY_GROUP_TOPIC_PREFIX",
    "RETRY_TOPIC_MAX_LENGTH",
    "RMQ_SYS_BENCHMARK_TOPIC",
    "RMQ_SYS_OFFSET_MOVED_EVENT",
    "RMQ_SYS_SCHEDULE_TOPIC",
    "RMQ_SYS_SELF_TEST_TOPIC",
    "RMQ_SYS_TRACE_TOPIC",
    "RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "RMQ_SYS_WHEEL_TIMER_TOPIC",
    "SYSTEM_TOPIC_PREFIX",
    "TOPIC_MAX_LENGTH",
    "check_group",
    "check_topic",
    "dlq_topic",
    "is_dlq_topic",
    "is_not_allowed_send_topic",
    "is_retry_topic",
    "is_system_topic",
    "retry_topic",
]

AUTO_CREATE_TOPIC_KEY_TOPIC = "TBW102"
RMQ_SYS_SCHEDULE_TOPIC = "SCHEDULE_TOPIC_XXXX"
RMQ_SYS_BENCHMARK_TOPIC = "BenchmarkTest"
RMQ_SYS_TRANS_HALF_TOPIC = "RMQ_SYS_TRANS_HALF_TOPIC"
RMQ_SYS_TRACE_TOPIC = "RMQ_SYS_TRACE_TOPIC"
RMQ_SYS_TRANS_OP_HALF_TOPIC = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC = "TRANS_CHECK_MAX_TIME_TOPIC"
RMQ_SYS_SELF_TEST_TOPIC = "SELF_TEST_TOPIC"
RMQ_SYS_OFFSET_MOVED_EVENT = "OFFSET_MOVED_EVENT"
RMQ_SYS_WHEEL_TIMER_TOPIC = "rmq_sys_wheel_timer"
SYSTEM_TOPIC_PREFIX = "rmq_sys_"

RETRY_GROUP_TOPIC_PREFIX = "%RETRY%"
DLQ_GROUP_TOPIC_PREFIX = "%DLQ%"

TOPIC_MAX_LENGTH = 127
RETRY_TOPIC_MAX_LENGTH = 255
GROUP_MAX_LENGTH = 255

_SYSTEM_TOPICS = frozenset(
    {
        AUTO_CREATE_TOPIC_KEY_TOPIC,
        RMQ_SYS_SCHEDULE_TOPIC,
        RMQ_SYS_BENCHMARK_TOPIC,
        RMQ_SYS_TRANS_HALF_TOPIC,
        RMQ_SYS_TRACE_TOPIC,
        RMQ_SYS_TRANS_OP_HALF_TOPIC,
        RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
        RMQ_SYS_SELF_TEST_TOPIC,
        RMQ_SYS_OFFSET_MOVED_EVENT,
    }
)
NOT_ALLOWED_SEND_TOPICS = frozenset(
    {
        RMQ_SYS_SCHEDULE_TOPIC,
        RMQ_SYS_TRANS_HALF_TOPIC,
        RMQ_SYS_TRANS_OP_HALF_TOPIC,
        RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
        RMQ_SYS_WHEEL_TIMER_TOPIC,
    }
)
"""System topics clients may never send to (the schedule, transaction and timer topics)."""
_LEGAL_NAME = re.compile(r"[%|a-zA-Z0-9_-]+")


def retry_topic(group: str) -> str:
    """The retry topic of consumer ``group``: ``%RETRY%<group>``."""
    return RETRY_GROUP_TOPIC_PREFIX + group


def dlq_topic(group: str) -> str:
    """The dead-letter topic of consumer ``group``: ``%DLQ%<group>``."""
    return DLQ_GROUP_TOPIC_PREFIX + group


def is_retry_topic(topic: str) -> bool:
    """True for ``%RETRY%...`` topics."""
    return topic.startswith(RETRY_GROUP_TOPIC_PREFIX)


def is_dlq_topic(topic: str) -> bool:
    """True for ``%DLQ%...`` topics."""
    return topic.startswith(DLQ_GROUP_TOPIC_PREFIX)


def is_system_topic(topic: str, extra: frozenset[str] = frozenset()) -> bool:
    """True for a built-in topic (``extra`` adds this broker's cluster/broker-name topics)."""
    return topic in _SYSTEM_TOPICS or topic in extra or topic.startswith(SYSTEM_TOPIC_PREFIX)


def is_not_allowed_send_topic(topic: str) -> bool:
    """True for system topics that clients may never send to (schedule, transaction)."""
    return topic in NOT_ALLOWED_SEND_TOPICS


def check_topic(topic: str | None) -> str | None:
    """``None`` if ``topic`` is a valid topic name, else the reason (RocketMQ's wording)."""
    if topic is None or not topic.strip():
        return "The specified topic is blank."
    limit = (
        RETRY_TOPIC_MAX_LENGTH if is_retry_topic(topic) or is_dlq_topic(topic) else TOPIC_MAX_LENGTH
    )
    if len(topic) > limit:
        return f"The specified topic is longer than topic max length {limit}."
    if not _LEGAL_NAME.fullmatch(topic):
        return (
            f"The specified topic[{topic}] contains illegal characters, "
            "allowing only ^[%|a-zA-Z0-9_-]+$"
        )
    return None


def check_group(group: str | None) -> str | None:
    """``None`` if ``group`` is a valid group name, else the reason."""
    if group is None or not group.strip():
        return "the specified group is blank"
    if len(group) > GROUP_MAX_LENGTH:
        return f"the specified group is longer than group max length {GROUP_MAX_LENGTH}."
    if not _LEGAL_NAME.fullmatch(group):
        return (
            f"the specified group[{group}] contains illegal characters, "
            "allowing only ^[%|a-zA-Z0-9_-]+$"
        )
    return None
