"""Latency histograms and the counters behind RocketMQ's benchmark columns.

:class:`LatencyHistogram` records non-negative latencies in **microseconds** into log-linear
buckets: exact below 1,024 µs, then 512 buckets per power of two (relative error < 0.2 %), so
memory is fixed (about 14k counters, enough for ~19 hours) whatever the sample count.
Percentiles come from the bucket midpoints; ``max`` and ``mean`` are exact.

:class:`SendStats` and :class:`ConsumeStats` hold the cumulative counters of one run.
``snapshot()`` copies them; the difference of two snapshots is one report interval (RocketMQ's
tools print the last 10 s every 10 s). They are only touched from one event loop thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConsumeSnapshot",
    "ConsumeStats",
    "LatencyHistogram",
    "SendSnapshot",
    "SendStats",
    "jsonable",
    "rate",
]

_EXACT = 1024  # values below this many µs get a bucket of their own
_SUB = 512  # buckets per power of two above _EXACT
_MAX_SHIFT = 27  # values up to 2**37 µs (~38 hours); larger ones land in the last bucket
_BUCKETS = _EXACT + _MAX_SHIFT * _SUB


def _index(value: int) -> int:
    """Bucket of ``value`` µs (``value >= 0``)."""
    if value < _EXACT:
        return value
    shift = value.bit_length() - 10  # value >> shift lies in [512, 1023]
    if shift > _MAX_SHIFT:
        return _BUCKETS - 1
    return _EXACT + (shift - 1) * _SUB + (value >> shift) - _SUB


def _midpoint(index: int) -> float:
    """Representative value (µs) of bucket ``index``: the middle of its range."""
    if index < _EXACT:
        return float(index)
    shift, sub = divmod(index - _EXACT, _SUB)
    shift += 1
    low = (sub + _SUB) << shift
    return low + ((1 << shift) - 1) / 2


class LatencyHistogram:
    """Fixed-memory latency histogram; record in µs, read percentiles in µs."""

    __slots__ = ("_counts", "count", "max", "min", "total")

    def __init__(self) -> None:
        self._counts = [0] * _BUCKETS
        self.count = 0
        self.total = 0  # sum of recorded µs
        self.max = 0
        self.min = 0

    def record(self, micros: int | float) -> None:
        """Add one latency of ``micros`` µs (negative values, e.g. clock skew, count as 0)."""
        value = int(micros) if micros > 0 else 0
        self._counts[_index(value)] += 1
        if self.count == 0 or value < self.min:
            self.min = value
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value

    def record_many(self, micros: int | float, times: int) -> None:
        """Add ``times`` samples of the same latency (one batch acknowledged at once)."""
        if times <= 0:
            return
        value = int(micros) if micros > 0 else 0
        self._counts[_index(value)] += times
        if self.count == 0 or value < self.min:
            self.min = value
        self.count += times
        self.total += value * times
        if value > self.max:
            self.max = value

    def merge(self, other: LatencyHistogram) -> None:
        """Add every sample of ``other`` to this histogram."""
        if other.count == 0:
            return
        counts = self._counts
        for index, n in enumerate(other._counts):
            if n:
                counts[index] += n
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def copy(self) -> LatencyHistogram:
        """An independent copy."""
        clone = LatencyHistogram()
        clone.merge(self)
        return clone

    def minus(self, earlier: LatencyHistogram) -> LatencyHistogram:
        """Samples recorded since ``earlier`` (a copy of this histogram taken before).

        ``max`` of the difference is the bucket bound of the largest new sample (exact when
        the last sample is the largest)."""
        diff = LatencyHistogram()
        top = -1
        for index, (now, then) in enumerate(zip(self._counts, earlier._counts, strict=True)):
            n = now - then
            if n:
                diff._counts[index] = n
                diff.count += n
                top = index
                if diff.count == n:
                    diff.min = int(_midpoint(index))
        diff.total = self.total - earlier.total
        if top >= 0:
            diff.max = self.max if self.max > earlier.max else int(_midpoint(top))
        return diff

    @property
    def mean(self) -> float:
        """Mean latency in µs (0.0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def percentile(self, pct: float) -> float:
        """The ``pct`` percentile (0 < pct <= 100) in µs; 0.0 when empty."""
        if not 0 < pct <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {pct}")
        if self.count == 0:
            return 0.0
        rank = max(1, -(-self.count * pct // 100))  # ceil without float error for whole pct
        seen = 0
        for index, n in enumerate(self._counts):
            if n:
                seen += n
                if seen >= rank:
                    if index == _BUCKETS - 1:  # the open-ended overflow bucket
                        return float(self.max)
                    return min(_midpoint(index), float(self.max))
        return float(self.max)

    def summary(self) -> dict[str, float]:
        """``count``, ``mean``, ``p50``, ``p90``, ``p99``, ``p999``, ``max`` (µs)."""
        return {
            "count": self.count,
            "mean": round(self.mean, 1),
            "p50": round(self.percentile(50), 1),
            "p90": round(self.percentile(90), 1),
            "p99": round(self.percentile(99), 1),
            "p999": round(self.percentile(99.9), 1),
            "max": float(self.max),
        }


@dataclass(slots=True)
class SendSnapshot:
    """Producer counters at one instant (``at`` is ``time.monotonic()``)."""

    at: float
    sent: int  # messages acknowledged OK (oneway: written)
    send_failed: int  # messages whose request could not be sent (connection, timeout...)
    response_failed: int  # messages answered with a non-OK response code
    rt: LatencyHistogram  # per request round-trip time, µs

    def minus(self, earlier: SendSnapshot) -> SendSnapshot:
        """The interval between ``earlier`` and this snapshot."""
        return SendSnapshot(
            at=self.at - earlier.at,
            sent=self.sent - earlier.sent,
            send_failed=self.send_failed - earlier.send_failed,
            response_failed=self.response_failed - earlier.response_failed,
            rt=self.rt.minus(earlier.rt),
        )


@dataclass(slots=True)
class SendStats:
    """Cumulative producer counters of one run."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    send_failed: int = 0
    response_failed: int = 0
    rt: LatencyHistogram = field(default_factory=LatencyHistogram)

    def ok(self, messages: int, rt_micros: float) -> None:
        """One request carrying ``messages`` messages was acknowledged after ``rt_micros``."""
        self.sent += messages
        self.rt.record(rt_micros)

    def snapshot(self) -> SendSnapshot:
        """A copy of the counters now."""
        return SendSnapshot(
            time.monotonic(), self.sent, self.send_failed, self.response_failed, self.rt.copy()
        )


@dataclass(slots=True)
class ConsumeSnapshot:
    """Consumer counters at one instant (``at`` is ``time.monotonic()``)."""

    at: float
    received: int
    born_to_consume: LatencyHistogram  # µs from the producer's born timestamp
    store_to_consume: LatencyHistogram  # µs from the broker's store timestamp

    def minus(self, earlier: ConsumeSnapshot) -> ConsumeSnapshot:
        """The interval between ``earlier`` and this snapshot."""
        return ConsumeSnapshot(
            at=self.at - earlier.at,
            received=self.received - earlier.received,
            born_to_consume=self.born_to_consume.minus(earlier.born_to_consume),
            store_to_consume=self.store_to_consume.minus(earlier.store_to_consume),
        )


@dataclass(slots=True)
class ConsumeStats:
    """Cumulative consumer counters of one run."""

    started: float = field(default_factory=time.monotonic)
    received: int = 0
    born_to_consume: LatencyHistogram = field(default_factory=LatencyHistogram)
    store_to_consume: LatencyHistogram = field(default_factory=LatencyHistogram)

    def snapshot(self) -> ConsumeSnapshot:
        """A copy of the counters now."""
        return ConsumeSnapshot(
            time.monotonic(),
            self.received,
            self.born_to_consume.copy(),
            self.store_to_consume.copy(),
        )


def rate(count: int, seconds: float) -> float:
    """``count / seconds`` (0.0 for an empty interval)."""
    return count / seconds if seconds > 0 else 0.0


def jsonable(obj: Any) -> Any:
    """Round floats in nested dicts/lists to 3 decimals for compact JSON lines."""
    if isinstance(obj, float):
        return round(obj, 3)
    if isinstance(obj, dict):
        return {key: jsonable(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(value) for value in obj]
    return obj
