"""Offsets JSON, ranges and read-limit sharing (pure functions, no Spark session)."""

from __future__ import annotations

import json

import pytest
from rmq_spark.planning import (
    QueueRange,
    extend_partitions,
    offsets_from_json,
    offsets_to_json,
    partition_indexes,
    partitions_from_json,
    plan_ranges,
    share_limit,
)

from rmq_core.client import MessageQueue

A0, A1, B0 = (MessageQueue("T", "broker-a", 0), MessageQueue("T", "broker-a", 1),
              MessageQueue("T", "broker-b", 0))  # fmt: skip


def test_offsets_json_round_trip_is_stable_text() -> None:
    offsets = {B0: 7, A1: 3, A0: 5, MessageQueue("S", "broker-a", 0): 1}
    data = offsets_to_json(offsets)
    assert json.dumps(data) == (
        '{"S": {"broker-a:0": 1}, "T": {"broker-a:0": 5, "broker-a:1": 3, "broker-b:0": 7}}'
    )
    assert offsets_from_json(json.loads(json.dumps(data))) == offsets
    with pytest.raises(ValueError, match="malformed queue key"):
        offsets_from_json({"T": {"nocolon": 1}})


def test_partition_index_orders_by_broker_then_queue() -> None:
    assert partition_indexes([B0, A1, A0]) == {A0: 0, A1: 1, B0: 2}


def test_partition_indexes_persist_in_stream_offsets_and_only_grow() -> None:
    s0 = MessageQueue("S", "broker-a", 0)
    indexes = extend_partitions({B0: 0, A1: 1}, [A0, A1, B0, s0])  # A0 and S appear later
    assert indexes == {B0: 0, A1: 1, A0: 2, s0: 0}
    data = offsets_to_json({A0: 1, A1: 2, B0: 3, s0: 4}, indexes)
    assert json.dumps(data) == (
        '{"S": {"broker-a:0": 4}, "T": {"broker-a:0": 1, "broker-a:1": 2, "broker-b:0": 3}, '
        '"@partitions": {"S": ["broker-a:0"], "T": ["broker-b:0", "broker-a:1", "broker-a:0"]}}'
    )
    parsed = json.loads(json.dumps(data))
    assert partitions_from_json(parsed) == indexes
    assert offsets_from_json(parsed) == {A0: 1, A1: 2, B0: 3, s0: 4}
    # offsets written without the entry: sorted order, as when the stream started
    assert partitions_from_json({"T": {"broker-b:0": 1, "broker-a:0": 2}}) == {A0: 0, B0: 1}
    with pytest.raises(ValueError, match="malformed queue key"):
        partitions_from_json({"T": {"broker-a:0": 1}, "@partitions": {"T": ["x"]}})
    with pytest.raises(ValueError, match="not a list"):
        partitions_from_json({"T": {"broker-a:0": 1}, "@partitions": {"T": "broker-a:0"}})


def test_plan_ranges_one_per_queue_with_data_and_none_for_joining_queues() -> None:
    ranges = plan_ranges({A0: 5, A1: 3, B0: 1}, {A0: 9, A1: 3, B0: 4}, {A0: 0, A1: 1, B0: 2})
    assert [(r.mq, r.start, r.end, r.partition) for r in ranges] == [(A0, 5, 9, 0), (B0, 1, 4, 2)]
    assert all(isinstance(r, QueueRange) for r in ranges)
    # B0 is not in the start offsets: it joins the stream at 4 and is read from the next batch
    ranges = plan_ranges({A0: 5, A1: 3}, {A0: 9, A1: 3, B0: 4}, {A0: 0, A1: 1, B0: 2})
    assert [(r.mq, r.start, r.end) for r in ranges] == [(A0, 5, 9)]


@pytest.mark.parametrize(
    ("start", "latest", "limit", "expected"),
    [
        ({A0: 0, A1: 0}, {A0: 10, A1: 10}, 100, {A0: 10, A1: 10}),  # all fits
        ({A0: 0, A1: 0}, {A0: 10, A1: 10}, 6, {A0: 3, A1: 3}),  # shared evenly
        ({A0: 0, A1: 0}, {A0: 30, A1: 10}, 8, {A0: 6, A1: 2}),  # in proportion
        ({A0: 0, A1: 0, B0: 0}, {A0: 5, A1: 5, B0: 5}, 1, {A0: 1, A1: 0, B0: 0}),  # progress
        ({A0: 4, A1: 9}, {A0: 4, A1: 20}, 5, {A0: 4, A1: 14}),  # an idle queue stays put
    ],
)
def test_share_limit(
    start: dict[MessageQueue, int],
    latest: dict[MessageQueue, int],
    limit: int,
    expected: dict[MessageQueue, int],
) -> None:
    ends = share_limit(start, latest, limit)
    assert ends == expected
    assert sum(ends[q] - start[q] for q in ends) == min(
        limit, sum(latest[q] - start[q] for q in latest)
    )
