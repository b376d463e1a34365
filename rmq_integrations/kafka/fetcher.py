"""``FetchBuffer``: records a consumer fetched but has not returned yet.

Per partition, in offset order. Messages are kept as RocketMQ ``MessageExt`` and become
``ConsumerRecord`` (deserialized) only when handed out, so a deserializer that raises leaves
the record at the head of its partition (kafka-python behaves the same: the error repeats until
the application seeks past it). ``highwater`` is the end offset the broker reported with the
last fetch of a partition.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rmq_core.common.message import MessageConst, MessageExt
from rmq_integrations.kafka import records
from rmq_integrations.kafka.serializer import Deserializer
from rmq_integrations.kafka.structs import (
    TIMESTAMP_TYPE_CREATE_TIME,
    ConsumerRecord,
    TopicPartition,
)

__all__ = ["FetchBuffer"]


class FetchBuffer:
    """Fetched, not yet returned records by partition (used from the consumer's thread)."""

    def __init__(self, key: Deserializer | None, value: Deserializer | None) -> None:
        self._key = key
        self._value = value
        self._buffers: dict[TopicPartition, deque[MessageExt]] = {}
        self._highwater: dict[TopicPartition, int] = {}

    def store(self, tp: TopicPartition, msgs: list[MessageExt], position: int | None) -> None:
        """Append ``msgs`` of ``tp``, skipping those below ``position`` (already returned)."""
        buffer = self._buffers.setdefault(tp, deque())
        buffer.extend(m for m in msgs if position is None or m.queue_offset >= position)
        raw = msgs[-1].properties.get(MessageConst.PROPERTY_MAX_OFFSET) if msgs else None
        if raw is not None and raw.isdigit():
            self._highwater[tp] = int(raw)

    def ready(self, blocked: Iterable[TopicPartition]) -> list[TopicPartition]:
        """Partitions with buffered records, except ``blocked`` ones (paused, unreset)."""
        skip = set(blocked)
        return [tp for tp, buffer in self._buffers.items() if buffer and tp not in skip]

    def count(self, tps: Iterable[TopicPartition]) -> int:
        return sum(len(self._buffers[tp]) for tp in tps if tp in self._buffers)

    def head_offset(self, tp: TopicPartition) -> int | None:
        buffer = self._buffers.get(tp)
        return buffer[0].queue_offset if buffer else None

    def to_record(self, tp: TopicPartition, msg: MessageExt) -> ConsumerRecord:
        """The ConsumerRecord of ``msg`` (deserializer errors propagate)."""
        decoded = records.decode(msg)
        key, value = decoded.key, decoded.value
        if self._key is not None:
            key = self._key.deserialize(tp.topic, decoded.headers, decoded.key)
        if self._value is not None:
            value = self._value.deserialize(tp.topic, decoded.headers, decoded.value)
        return ConsumerRecord(
            tp.topic, tp.partition, -1, msg.queue_offset, decoded.timestamp,
            TIMESTAMP_TYPE_CREATE_TIME, key, value, decoded.headers, None,
            -1 if decoded.key is None else len(decoded.key),
            -1 if decoded.value is None else len(decoded.value),
            records.header_size(decoded.headers),
        )  # fmt: skip

    def take(self, tp: TopicPartition, limit: int) -> list[ConsumerRecord]:
        """Up to ``limit`` records of ``tp``, removed from the buffer as they convert."""
        buffer = self._buffers.get(tp)
        out: list[ConsumerRecord] = []
        while buffer and len(out) < limit:
            out.append(self.to_record(tp, buffer[0]))
            buffer.popleft()
        return out

    def drop(self, tp: TopicPartition) -> None:
        """Forget what was fetched for ``tp`` (after a seek)."""
        self._buffers.pop(tp, None)

    def forget(self, tp: TopicPartition) -> None:
        self._highwater.pop(tp, None)

    def clear(self) -> None:
        self._buffers.clear()

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._highwater.get(tp)
