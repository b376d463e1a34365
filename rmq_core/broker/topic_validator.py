"""Topic and group names: the broker's name for :mod:`rmq_core.common.validators`.

The rules (legal characters, lengths, system topics, ``%RETRY%``/``%DLQ%`` naming) are
defined once, in :mod:`rmq_core.common.validators`; broker modules keep importing them from
here. Each ``check_*`` function returns ``None`` when the name is valid, else the remark to
answer.
"""

from __future__ import annotations

from rmq_core.common.validators import (
    AUTO_CREATE_TOPIC_KEY_TOPIC,
    DLQ_GROUP_TOPIC_PREFIX,
    GROUP_MAX_LENGTH,
    NOT_ALLOWED_SEND_TOPICS,
    RETRY_GROUP_TOPIC_PREFIX,
    RETRY_TOPIC_MAX_LENGTH,
    RMQ_SYS_BENCHMARK_TOPIC,
    RMQ_SYS_OFFSET_MOVED_EVENT,
    RMQ_SYS_SCHEDULE_TOPIC,
    RMQ_SYS_SELF_TEST_TOPIC,
    RMQ_SYS_TRACE_TOPIC,
    RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
    RMQ_SYS_TRANS_HALF_TOPIC,
    RMQ_SYS_TRANS_OP_HALF_TOPIC,
    RMQ_SYS_WHEEL_TIMER_TOPIC,
    SYSTEM_TOPIC_PREFIX,
    TOPIC_MAX_LENGTH,
    check_group,
    check_topic,
    dlq_topic,
    is_dlq_topic,
    is_not_allowed_send_topic,
    is_retry_topic,
    is_system_topic,
    retry_topic,
)

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
