"""The stream reader's plans depend on its (start, end) offsets only (no Spark session).

A fake queue client stands in for the brokers so retention and a new broker can be staged
between the calls Spark makes; the reader is the connector's own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyspark.sql.streaming.datasource import ReadAllAvailable
from rmq_spark.options import read_options
from rmq_spark.planning import QueueRange
from rmq_spark.stream_reader import RocketMQStreamReader

from rmq_core.client import MessageQueue

TOPIC = "Grow"
B0, B1 = MessageQueue(TOPIC, "broker-b", 0), MessageQueue(TOPIC, "broker-b", 1)
A0 = MessageQueue(TOPIC, "broker-a", 0)  # a broker added later, sorting before broker-b


class FakeQueues:
    """Queues with a movable [min, max) each, as a QueueClient answers for them."""

    def __init__(self, queues: dict[MessageQueue, tuple[int, int]]) -> None:
        self.ranges = dict(queues)

    def queues(self, topic: str, *, option: str = "topic") -> list[MessageQueue]:
        return sorted(mq for mq in self.ranges if mq.topic == topic)

    def min_offset(self, mq: MessageQueue) -> int:
        return self.ranges[mq][0]

    def max_offset(self, mq: MessageQueue) -> int:
        return self.ranges[mq][1]


def _reader(fake: FakeQueues, monkeypatch: pytest.MonkeyPatch) -> RocketMQStreamReader:
    options = read_options(
        {"namesrv": "127.0.0.1:1", "topic": TOPIC, "startingoffsets": "earliest"},  # lower-cased
        streaming=True,
    )
    reader = RocketMQStreamReader(options)
    monkeypatch.setattr(reader, "_client", lambda: fake)
    return reader


def _through_spark(offsets: dict[str, Any]) -> dict[str, Any]:
    """Offsets as Spark hands them back: JSON text stored in the checkpoint, parsed again."""
    return dict(json.loads(json.dumps(offsets)))


def _plan(ranges: list[QueueRange]) -> list[tuple[MessageQueue, int, int, int]]:
    return [(r.mq, r.start, r.end, r.partition) for r in ranges]


def test_a_replayed_batch_plans_the_same_ranges_after_retention_moved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeQueues({B0: (0, 4)})
    reader = _reader(fake, monkeypatch)
    start = _through_spark(reader.initialOffset())
    fake.ranges[B1] = (0, 10)  # a queue appears with 10 messages
    end = _through_spark(reader.latestOffset(start, ReadAllAvailable()))
    planned = _plan(reader.partitions(start, end))

    fake.ranges[B1] = (6, 10)  # retention deletes B1's first 6 messages; then Spark restarts
    replayed = _plan(reader.partitions(start, end))
    assert replayed == planned

    # Nothing of B1 is skipped: the following batches read it from where it joined.
    following = _through_spark(reader.latestOffset(end, ReadAllAvailable()))
    ranges = _plan(reader.partitions(end, following))
    assert [(mq, first) for mq, first, _, _ in ranges if mq == B1] == [(B1, 0)]
    assert {mq: last for mq, _, last, _ in planned + ranges} == {B0: 4, B1: 10}


def test_partition_index_of_a_queue_survives_a_new_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeQueues({B0: (0, 0), B1: (0, 0)})
    reader = _reader(fake, monkeypatch)
    offsets = _through_spark(reader.initialOffset())
    seen: dict[MessageQueue, set[int]] = {}
    for step in range(1, 5):
        if step == 2:
            fake.ranges[A0] = (0, 0)  # broker-a joins the topic
        fake.ranges = {mq: (0, high + 3) for mq, (_, high) in fake.ranges.items()}
        end = _through_spark(reader.latestOffset(offsets, ReadAllAvailable()))
        for mq, _, _, partition in _plan(reader.partitions(offsets, end)):
            seen.setdefault(mq, set()).add(partition)
        offsets = end
    assert seen == {B0: {0}, B1: {1}, A0: {2}}
