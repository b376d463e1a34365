"""Driver-side planning: which queues, which offset ranges, how a read limit is shared.

Offsets cross the JVM as JSON (Spark compares them as text), so they are kept as
``{topic: {"<brokerName>:<queueId>": next_offset}}`` with sorted keys, int values only. A
queue's range ``[start, end)`` becomes one input partition (:class:`QueueRange`).

A stream's offsets also carry ``"@partitions": {topic: [queue key, ...]}``: the topic's
queues in order of their ``partition`` index (the queues present at the start sorted by
broker name and queue id, then each later queue appended as it appears), so a queue keeps
its index for the life of the query. ``@`` is not allowed in a topic name, so the entry
never clashes with a topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyspark.sql.datasource import InputPartition

from rmq_core.client import MessageQueue
from rmq_spark.errors import RocketMQOptionError
from rmq_spark.options import EARLIEST, LATEST, OffsetSpec, parse_queue_key, queue_key
from rmq_spark.queue_client import QueueClient

__all__ = [
    "QueueRange",
    "discover",
    "extend_partitions",
    "offsets_from_json",
    "offsets_to_json",
    "partition_indexes",
    "partitions_from_json",
    "plan_ranges",
    "resolve",
    "share_limit",
]

OffsetsJson = dict[str, dict[str, Any]]
"""``{topic: {queue key: offset}}``, plus :data:`PARTITIONS_KEY` in a stream's offsets."""

PARTITIONS_KEY = "@partitions"


class QueueRange(InputPartition):
    """One input partition: messages ``[start, end)`` of one queue (pickled to a worker)."""

    def __init__(
        self, topic: str, broker: str, queue_id: int, partition: int, start: int, end: int
    ):
        super().__init__((topic, broker, queue_id, start, end))
        self.topic = topic
        self.broker = broker
        self.queue_id = queue_id
        self.partition = partition
        self.start = start
        self.end = end

    @property
    def mq(self) -> MessageQueue:
        return MessageQueue(self.topic, self.broker, self.queue_id)

    def __repr__(self) -> str:
        return f"QueueRange({self.topic} {self.broker}:{self.queue_id} [{self.start}, {self.end}))"


def discover(client: QueueClient, topics: Iterable[str]) -> list[MessageQueue]:
    """Every readable queue of ``topics`` (RocketMQOptionError for an unknown topic)."""
    queues: list[MessageQueue] = []
    for topic in topics:
        queues.extend(client.queues(topic))
    return sorted(queues)


def partition_indexes(queues: Iterable[MessageQueue]) -> dict[MessageQueue, int]:
    """The ``partition`` column of each queue: its index among its topic's queues sorted by
    (broker name, queue id)."""
    return extend_partitions({}, queues)


def extend_partitions(
    known: Mapping[MessageQueue, int], queues: Iterable[MessageQueue]
) -> dict[MessageQueue, int]:
    """``known`` indexes kept, each other queue of ``queues`` given the next index of its
    topic (after the topic's highest), in (broker name, queue id) order. Indexes of a topic
    stay 0..n-1 when ``known``'s are."""
    indexes = dict(known)
    next_index: dict[str, int] = {}
    for mq, index in known.items():
        next_index[mq.topic] = max(next_index.get(mq.topic, 0), index + 1)
    for mq in sorted(set(queues) - set(known), key=lambda q: (q.topic, q.broker_name, q.queue_id)):
        indexes[mq] = next_index.get(mq.topic, 0)
        next_index[mq.topic] = indexes[mq] + 1
    return indexes


def offsets_to_json(
    offsets: Mapping[MessageQueue, int], partitions: Mapping[MessageQueue, int] | None = None
) -> OffsetsJson:
    """``{topic: {"broker:queue": offset}}`` with sorted keys (stable JSON text); with
    ``partitions`` (a stream's indexes, 0..n-1 per topic) also :data:`PARTITIONS_KEY`."""
    result: OffsetsJson = {}
    for mq in sorted(offsets):
        result.setdefault(mq.topic, {})[queue_key(mq.broker_name, mq.queue_id)] = int(offsets[mq])
    if partitions is not None:
        order: dict[str, list[str]] = {}
        for mq in sorted(partitions, key=lambda q: (q.topic, partitions[q])):
            order.setdefault(mq.topic, []).append(queue_key(mq.broker_name, mq.queue_id))
        result[PARTITIONS_KEY] = order
    return result


def offsets_from_json(data: Mapping[str, Mapping[str, Any]]) -> dict[MessageQueue, int]:
    """Inverse of :func:`offsets_to_json`, without the partition indexes (ValueError on a
    malformed key)."""
    result = {}
    for topic, queues in data.items():
        if topic == PARTITIONS_KEY:
            continue
        for key, offset in queues.items():
            result[_parse_key(topic, key)] = int(offset)
    return result


def partitions_from_json(data: Mapping[str, Mapping[str, Any]]) -> dict[MessageQueue, int]:
    """The partition index of every queue of stream offsets ``data``: as listed under
    :data:`PARTITIONS_KEY`, queues it leaves out (offsets written without it) extended in
    (broker name, queue id) order. ValueError on a malformed entry."""
    known: dict[MessageQueue, int] = {}
    for topic, keys in data.get(PARTITIONS_KEY, {}).items():
        if not isinstance(keys, list):
            raise ValueError(f"{PARTITIONS_KEY} of {topic} is not a list of queue keys")
        for index, key in enumerate(keys):
            known[_parse_key(topic, key)] = index
    return extend_partitions(known, offsets_from_json(data))


def _parse_key(topic: str, key: object) -> MessageQueue:
    parsed = parse_queue_key(key) if isinstance(key, str) else None
    if parsed is None:
        raise ValueError(f"malformed queue key {key!r} in offsets of {topic}")
    return MessageQueue(topic, parsed[0], parsed[1])


def _check_known(spec: OffsetSpec, option: str, queues: Sequence[MessageQueue]) -> None:
    known = {(mq.topic, queue_key(mq.broker_name, mq.queue_id)) for mq in queues}
    for topic, per_queue in spec.offsets.items():
        for key in per_queue:
            if (topic, key) not in known:
                names = sorted(k for t, k in known if t == topic)
                raise RocketMQOptionError(
                    option,
                    f"{key!r} is not a queue of topic {topic!r} (its queues: {', '.join(names)})",
                )


def resolve(
    client: QueueClient,
    queues: Sequence[MessageQueue],
    spec: OffsetSpec,
    option: str,
    *,
    timestamp_ms: int | None = None,
) -> dict[MessageQueue, int]:
    """Concrete offsets of ``queues`` for ``spec`` (or for ``timestamp_ms`` when given).

    Raises RocketMQOptionError naming ``option`` for a queue key that is not a queue of
    its topic and for an offset beyond a queue's end.
    """
    _check_known(spec, option, queues)
    result = {}
    for mq in queues:
        if timestamp_ms is not None:
            result[mq] = client.search_offset(mq, timestamp_ms)
            continue
        wanted = spec.offsets.get(mq.topic, {}).get(queue_key(mq.broker_name, mq.queue_id))
        if wanted is None:
            wanted = EARLIEST if spec.default == "earliest" else LATEST
        if wanted == EARLIEST:
            result[mq] = client.min_offset(mq)
        elif wanted == LATEST:
            result[mq] = client.max_offset(mq)
        else:
            end = client.max_offset(mq)
            if wanted > end:
                raise RocketMQOptionError(
                    option,
                    f"offset {wanted} of {mq.topic} {queue_key(mq.broker_name, mq.queue_id)} "
                    f"is beyond the queue's end {end}",
                )
            result[mq] = wanted
    return result


def plan_ranges(
    start: Mapping[MessageQueue, int],
    end: Mapping[MessageQueue, int],
    indexes: Mapping[MessageQueue, int],
) -> list[QueueRange]:
    """One :class:`QueueRange` per queue of ``end`` that has messages after its start.

    A queue missing from ``start`` (it joins the stream in this batch, at its ``end``) has no
    range: the plan depends on ``start`` and ``end`` only.
    """
    ranges = []
    for mq in sorted(end):
        first = start.get(mq, end[mq])
        if end[mq] > first:
            ranges.append(
                QueueRange(
                    mq.topic, mq.broker_name, mq.queue_id, indexes.get(mq, -1), first, end[mq]
                )
            )
    return ranges


def share_limit(
    start: Mapping[MessageQueue, int], latest: Mapping[MessageQueue, int], max_messages: int
) -> dict[MessageQueue, int]:
    """End offsets reading at most ``max_messages`` in all, shared by the queues in
    proportion to what each has available (largest remainders get the leftover, ties by
    queue order), so that every call with data advances by at least one message."""
    available = {mq: max(latest[mq] - start.get(mq, latest[mq]), 0) for mq in latest}
    total = sum(available.values())
    if total <= max_messages:
        return dict(latest)
    shares = {mq: available[mq] * max_messages // total for mq in available}
    leftover = max_messages - sum(shares.values())
    by_remainder = sorted(available, key=lambda mq: (-(available[mq] * max_messages % total), mq))
    for mq in by_remainder:
        if leftover <= 0:
            break
        if shares[mq] < available[mq]:
            shares[mq] += 1
            leftover -= 1
    return {mq: start.get(mq, latest[mq]) + shares[mq] for mq in latest}
