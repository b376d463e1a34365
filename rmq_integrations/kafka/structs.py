"""kafka-python's tuples: ``kafka.structs``, ``ConsumerRecord`` and ``RecordMetadata``.

All are named tuples with kafka-python's field names and order, so code that unpacks or indexes
them keeps working. Offsets are RocketMQ queue offsets (see docs/kafka.md for the mapping);
timestamps are epoch milliseconds.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "TIMESTAMP_TYPE_CREATE_TIME",
    "ConsumerGroupMetadata",
    "ConsumerRecord",
    "MemberState",
    "OffsetAndMetadata",
    "OffsetAndTimestamp",
    "RecordMetadata",
    "TopicPartition",
    "TopicPartitionReplica",
]

TIMESTAMP_TYPE_CREATE_TIME = 0  # Kafka's CreateTime: the producer's (or the caller's) clock


class TopicPartition(NamedTuple):
    """A topic and a partition number (the n-th queue of the topic, see docs/kafka.md)."""

    topic: str
    partition: int


class TopicPartitionReplica(NamedTuple):
    topic: str
    partition: int
    broker_id: int


class OffsetAndMetadata(NamedTuple):
    """A committed offset; rmq stores only ``offset`` (metadata comes back as ``''``)."""

    offset: int | None = None
    metadata: str = ""
    leader_epoch: int = -1


class OffsetAndTimestamp(NamedTuple):
    offset: int
    timestamp: int
    leader_epoch: int | None = None


class MemberState:
    UNJOINED = "<unjoined>"
    REBALANCING = "<rebalancing>"
    STABLE = "<stable>"


class ConsumerGroupMetadata(NamedTuple):
    group_id: str | None = None
    generation_id: int = -1
    member_id: str = ""
    group_instance_id: str | None = None
    state: str = MemberState.UNJOINED


class RecordMetadata(NamedTuple):
    """What a successful send resolves to. ``offset`` is the queue offset (-1 with acks=0)."""

    topic: str
    partition: int
    topic_partition: TopicPartition
    offset: int
    timestamp: int
    checksum: int | None
    serialized_key_size: int
    serialized_value_size: int
    serialized_header_size: int


class ConsumerRecord(NamedTuple):
    """One consumed message; ``headers`` is a list of ``(str, bytes)``."""

    topic: str
    partition: int
    leader_epoch: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: Any
    value: Any
    headers: list[tuple[str, bytes]]
    checksum: int | None
    serialized_key_size: int
    serialized_value_size: int
    serialized_header_size: int
