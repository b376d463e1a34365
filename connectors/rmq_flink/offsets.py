"""Starting and stopping offsets of a source, mirroring PyFlink's ``KafkaOffsetsInitializer``.

A queue is named by :class:`QueueRef` ``(topic, queue_id, broker_name)``; ``broker_name``
``"*"`` (the default) matches the queue id on every broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from rmq_flink._java import java_class
from rmq_flink.errors import RocketMQOptionError

__all__ = ["QueueRef", "RocketMQOffsetsInitializer"]


class QueueRef(NamedTuple):
    """One queue: topic, queue id and broker name (``"*"`` = any broker)."""

    topic: str
    queue_id: int
    broker_name: str = "*"


@dataclass(frozen=True)
class RocketMQOffsetsInitializer:
    """Where each queue starts (or, for a bounded source, stops).

    - :meth:`earliest`: the queue's min offset;
    - :meth:`latest`: its max offset (the next message to be written), taken when the job starts;
    - :meth:`committed_offsets`: the consumer group's committed offset, else ``fallback``;
    - :meth:`timestamp`: the first message stored at or after ``timestamp_ms`` (epoch ms);
    - :meth:`offsets`: explicit offsets per queue, else ``fallback`` (an error when None).
    """

    kind: str
    timestamp_ms: int = 0
    specific: tuple[tuple[QueueRef, int], ...] = ()
    fallback: RocketMQOffsetsInitializer | None = None

    @staticmethod
    def earliest() -> RocketMQOffsetsInitializer:
        return RocketMQOffsetsInitializer("earliest")

    @staticmethod
    def latest() -> RocketMQOffsetsInitializer:
        return RocketMQOffsetsInitializer("latest")

    @staticmethod
    def committed_offsets(
        fallback: RocketMQOffsetsInitializer | None = None,
    ) -> RocketMQOffsetsInitializer:
        return RocketMQOffsetsInitializer(
            "committed", fallback=fallback or RocketMQOffsetsInitializer.earliest()
        )

    @staticmethod
    def timestamp(timestamp_ms: int) -> RocketMQOffsetsInitializer:
        if timestamp_ms < 0:
            raise RocketMQOptionError("offsets", "timestamp must be epoch milliseconds >= 0")
        return RocketMQOffsetsInitializer("timestamp", timestamp_ms=int(timestamp_ms))

    @staticmethod
    def offsets(
        offsets: Mapping[QueueRef | tuple[Any, ...], int],
        fallback: RocketMQOffsetsInitializer | None = None,
    ) -> RocketMQOffsetsInitializer:
        entries = []
        for key, offset in offsets.items():
            ref = QueueRef(*key)
            if not ref.topic or "\t" in ref.topic or "\n" in ref.topic:
                raise RocketMQOptionError("offsets", f"bad topic in {key!r}")
            if int(ref.queue_id) < 0 or int(offset) < 0:
                raise RocketMQOptionError("offsets", f"queue id and offset must be >= 0: {key!r}")
            entries.append((ref, int(offset)))
        return RocketMQOffsetsInitializer("specific", specific=tuple(entries), fallback=fallback)

    def _to_java(self) -> Any:
        spec = java_class("OffsetSpec")
        fallback = None if self.fallback is None else self.fallback._to_java()
        if self.kind == "earliest":
            return spec.earliest()
        if self.kind == "latest":
            return spec.latest()
        if self.kind == "committed":
            return spec.committed(fallback)
        if self.kind == "timestamp":
            return spec.timestamp(self.timestamp_ms)
        lines = "\n".join(
            f"{ref.topic}\t{ref.broker_name}\t{int(ref.queue_id)}\t{offset}"
            for ref, offset in self.specific
        )
        return spec.specific(lines, fallback)
