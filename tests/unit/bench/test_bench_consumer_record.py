"""bench.consumer.record: per-pull latency bookkeeping equals adding every sample."""

from __future__ import annotations

from bench.consumer import record
from bench.stats import ConsumeStats, LatencyHistogram
from rmq_core.common.message import MessageExt


def _state(histogram: LatencyHistogram) -> tuple[object, ...]:
    return (histogram._counts, histogram.count, histogram.min, histogram.max, histogram.total)


def test_record_equals_one_sample_per_message() -> None:
    now = 1_700_000_000_500
    msgs = [
        MessageExt("T", b"", born_timestamp=now - 3 - i % 4, store_timestamp=now + 2 - i % 3)
        for i in range(40)
    ]
    stats = ConsumeStats()
    assert record(stats, msgs, now) == 40
    assert record(stats, [], now) == 0
    born, stored = LatencyHistogram(), LatencyHistogram()
    for msg in msgs:
        born.record((now - msg.born_timestamp) * 1000)
        stored.record((now - msg.store_timestamp) * 1000)  # negative (clock skew) counts as 0
    assert stats.received == 40
    assert _state(stats.born_to_consume) == _state(born)
    assert _state(stats.store_to_consume) == _state(stored)
