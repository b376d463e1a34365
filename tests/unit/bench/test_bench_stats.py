"""Latency histogram and counter snapshots behind the benchmark reports."""

from __future__ import annotations

import random

import pytest

from bench.stats import (
    ConsumeStats,
    LatencyHistogram,
    SendStats,
    _index,
    _midpoint,
    jsonable,
    rate,
)


def test_empty_histogram_reads_zero() -> None:
    hist = LatencyHistogram()
    assert hist.count == 0
    assert hist.mean == 0.0
    assert hist.percentile(50) == 0.0
    assert hist.summary()["p99"] == 0.0


def test_small_values_are_exact() -> None:
    hist = LatencyHistogram()
    for value in range(1, 101):
        hist.record(value)
    assert hist.percentile(50) == 50
    assert hist.percentile(99) == 99
    assert hist.percentile(100) == 100
    assert hist.min == 1
    assert hist.max == 100
    assert hist.mean == pytest.approx(50.5)


def test_percentiles_within_bucket_error_for_large_values() -> None:
    rng = random.Random(7)
    values = sorted(rng.expovariate(1 / 5000) for _ in range(20_000))
    hist = LatencyHistogram()
    for value in values:
        hist.record(value)
    for pct in (50, 90, 99, 99.9):
        exact = int(values[int(len(values) * pct / 100) - 1])
        assert hist.percentile(pct) == pytest.approx(exact, rel=0.005, abs=2)


def test_bucket_index_is_monotonic_and_midpoint_close() -> None:
    previous = -1
    for value in [*range(5000), 2**20 + 17, 2**30 + 5, 2**36]:
        index = _index(value)
        assert index >= previous
        previous = index
        assert _midpoint(index) == pytest.approx(value, rel=0.002, abs=1)


def test_negative_values_count_as_zero_and_huge_values_are_clamped() -> None:
    hist = LatencyHistogram()
    hist.record(-5)
    hist.record(2**50)
    assert hist.min == 0
    assert hist.count == 2
    assert hist.percentile(100) == 2**50  # capped by the exact max


def test_record_many_merge_and_minus() -> None:
    a = LatencyHistogram()
    a.record_many(100, 3)
    a.record_many(5, 0)
    before = a.copy()
    a.record(2000)
    diff = a.minus(before)
    assert diff.count == 1
    assert diff.max == 2000
    assert diff.total == 2000
    b = LatencyHistogram()
    b.record(10)
    b.merge(a)
    assert b.count == 5
    assert b.min == 10
    assert b.max == 2000


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        LatencyHistogram().percentile(0)
    with pytest.raises(ValueError):
        LatencyHistogram().percentile(101)


def test_send_snapshots_give_interval_counts() -> None:
    stats = SendStats()
    stats.ok(10, 500)
    first = stats.snapshot()
    stats.ok(5, 1500)
    stats.send_failed += 2
    stats.response_failed += 1
    interval = stats.snapshot().minus(first)
    assert interval.sent == 5
    assert interval.send_failed == 2
    assert interval.response_failed == 1
    assert interval.rt.count == 1
    assert interval.rt.max == 1500
    assert interval.at >= 0


def test_consume_snapshots_give_interval_counts() -> None:
    stats = ConsumeStats()
    stats.received = 3
    stats.born_to_consume.record(1000)
    first = stats.snapshot()
    stats.received = 7
    stats.store_to_consume.record(200)
    interval = stats.snapshot().minus(first)
    assert interval.received == 4
    assert interval.born_to_consume.count == 0
    assert interval.store_to_consume.count == 1


def test_rate_and_jsonable() -> None:
    assert rate(10, 2.0) == 5.0
    assert rate(10, 0.0) == 0.0
    assert jsonable({"a": [1.23456, (2.0, "x")], "b": 3}) == {"a": [1.235, [2.0, "x"]], "b": 3}
