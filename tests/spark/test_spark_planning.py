"""Offsets JSON, ranges and read-limit sharing (pure functions, no Spark session)."""

from __future__ import annotations

import json

import pytest
from rmq_spark.planning import (
    QueueRange,
    offsets_from_json,
    offsets_to_json,
    partition_indexes,
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
