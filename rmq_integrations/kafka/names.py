"""Kafka topic and group names <-> RocketMQ names.

Kafka topic names use ``[a-zA-Z0-9._-]`` (at most 249 characters); RocketMQ names use
``[%|a-zA-Z0-9_-]`` (topics at most 127). The one conflict is ``.``, common in Kafka
(``orders.eu``) and forbidden in RocketMQ, while ``|`` is legal in RocketMQ and never in Kafka.
So a ``.`` is stored as ``|`` and read back as ``.``: the mapping is one to one on valid
names, Kafka code sees its own names, and RocketMQ tools see ``orders|eu``. Group ids are
mapped the same way; other characters RocketMQ cannot store are refused with a clear error.
"""

from __future__ import annotations

import re

from rmq_integrations.kafka import errors

__all__ = [
    "MAX_RMQ_TOPIC_LENGTH",
    "group_from_rmq",
    "group_to_rmq",
    "is_internal_topic",
    "topic_from_rmq",
    "topic_to_rmq",
]

MAX_RMQ_TOPIC_LENGTH = 127
MAX_RMQ_GROUP_LENGTH = 255
_KAFKA_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
_RMQ_NAME = re.compile(r"^[%|a-zA-Z0-9_-]+$")

# RocketMQ's own topics, never shown as Kafka topics (exclude_internal_topics).
_INTERNAL_TOPICS = frozenset(
    {
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
        "BenchmarkTest",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
        "TRANS_CHECK_MAX_TIME_TOPIC",
    }
)
_REPLY_SUFFIX = "_REPLY_TOPIC"  # RocketMQ's per-cluster request/reply topic
_INTERNAL_PREFIXES = ("%RETRY%", "%DLQ%", "RMQ_SYS_", "rmq_sys_", "%LMQ%")


def topic_to_rmq(topic: str) -> str:
    """The RocketMQ name of Kafka topic ``topic``; InvalidTopicError when it has none."""
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str, not {type(topic).__name__}")
    if topic in ("", ".", "..") or not _KAFKA_TOPIC.match(topic):
        raise errors.InvalidTopicError(
            f"topic {topic!r} is not a valid Kafka topic name ([a-zA-Z0-9._-]+, not '.' or '..')"
        )
    if len(topic) > MAX_RMQ_TOPIC_LENGTH:
        raise errors.InvalidTopicError(
            f"topic {topic[:40]!r}... is {len(topic)} characters long; RocketMQ topic names "
            f"are at most {MAX_RMQ_TOPIC_LENGTH}"
        )
    return topic.replace(".", "|")


def topic_from_rmq(name: str) -> str:
    """The Kafka name of RocketMQ topic ``name`` (inverse of :func:`topic_to_rmq`)."""
    return name.replace("|", ".")


def group_to_rmq(group_id: str) -> str:
    """The RocketMQ consumer group of Kafka ``group_id``; InvalidGroupIdError if impossible."""
    if not isinstance(group_id, str) or not group_id:
        raise errors.InvalidGroupIdError(f"group_id must be a non-empty str, not {group_id!r}")
    name = group_id.replace(".", "|")
    if len(name) > MAX_RMQ_GROUP_LENGTH or not _RMQ_NAME.match(name):
        raise errors.InvalidGroupIdError(
            f"group_id {group_id!r} cannot be a RocketMQ group name: use at most "
            f"{MAX_RMQ_GROUP_LENGTH} of [a-zA-Z0-9._-]"
        )
    return name


def group_from_rmq(name: str) -> str:
    return name.replace("|", ".")


def is_internal_topic(
    rmq_name: str, cluster_names: set[str] | frozenset[str] = frozenset()
) -> bool:
    """True for RocketMQ's system topics and the per-cluster/per-broker topics it registers
    (``cluster_names`` holds the cluster and broker names)."""
    return (
        rmq_name in _INTERNAL_TOPICS
        or rmq_name in cluster_names
        or rmq_name.startswith(_INTERNAL_PREFIXES)
        or rmq_name.removesuffix(_REPLY_SUFFIX) in cluster_names
    )
