"""Latency-aware broker selection (``CL/latency/MQFaultStrategy.java``, reference §6.1).

After each send the producer records how long it took on that broker. A slow send (or a
failed one, counted as :data:`ISOLATION_LATENCY` seconds) makes the broker "not available"
for a while, and queue selection prefers queues on available brokers. All times here are in
seconds of a monotonic clock supplied by the caller, which keeps the logic testable.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rmq_core.client.message_queue import MessageQueue

__all__ = [
    "ISOLATION_LATENCY",
    "LATENCY_MAX",
    "NOT_AVAILABLE_DURATION",
    "LatencyFaultTolerance",
    "MQFaultStrategy",
    "compute_not_available_duration",
]

# Send latency thresholds (s) and the not-available time (s) each one triggers.
LATENCY_MAX: tuple[float, ...] = (0.05, 0.1, 0.55, 1.8, 3.0, 5.0, 15.0)
NOT_AVAILABLE_DURATION: tuple[float, ...] = (0.0, 0.0, 2.0, 5.0, 6.0, 10.0, 30.0)
_FASTEST = LATENCY_MAX[0]
# A failed send is recorded as if it had taken this long (s).
ISOLATION_LATENCY = 10.0


def compute_not_available_duration(latency: float) -> float:
    """Seconds a broker stays unavailable after a send that took ``latency`` seconds."""
    if latency < _FASTEST:
        return 0.0  # the usual send: below every threshold
    pairs = zip(reversed(LATENCY_MAX), reversed(NOT_AVAILABLE_DURATION), strict=True)
    for threshold, duration in pairs:
        if latency >= threshold:
            return duration
    return 0.0


@dataclass(slots=True)
class _FaultItem:
    latency: float
    start_time: float  # monotonic seconds from which the broker counts as available again


class LatencyFaultTolerance:
    """Per-broker fault items: ``is_available(b)`` is false until ``start_time`` passes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, _FaultItem] = {}

    def update(self, broker_name: str, latency: float, not_available: float) -> None:
        """Record a send on ``broker_name`` taking ``latency`` s; isolate it ``not_available`` s."""
        self._items[broker_name] = _FaultItem(latency, self._clock() + not_available)

    def is_available(self, broker_name: str) -> bool:
        item = self._items.get(broker_name)
        return item is None or self._clock() >= item.start_time

    def remove(self, broker_name: str) -> None:
        self._items.pop(broker_name, None)

    def pick_one_at_least(self) -> str | None:
        """The faulty broker likely to recover first (lowest latency, earliest start)."""
        if not self._items:
            return None
        return min(self._items.items(), key=lambda kv: (kv[1].start_time, kv[1].latency))[0]


class MQFaultStrategy:
    """Round-robin queue choice that avoids the last failed broker and isolated brokers.

    ``select(queues, last_broker)`` never returns a queue of ``last_broker`` when another
    broker hosts one of ``queues``; with ``enabled`` it also skips brokers whose fault item
    has not expired, falling back to any other queue when every broker is isolated.
    """

    def __init__(self, *, enabled: bool = True, clock: Callable[[], float] = time.monotonic):
        self.enabled = enabled
        self.fault = LatencyFaultTolerance(clock)
        self._counter = itertools.count(0)

    def _next(self, size: int) -> int:
        return next(self._counter) % size

    def select(self, queues: Sequence[MessageQueue], last_broker: str | None) -> MessageQueue:
        """Choose the queue for the next attempt; ``queues`` must not be empty."""
        n = len(queues)
        if self.enabled:
            for _ in range(n):
                mq = queues[self._next(n)]
                if self.fault.is_available(mq.broker_name) and mq.broker_name != last_broker:
                    return mq
            for _ in range(n):
                mq = queues[self._next(n)]
                if self.fault.is_available(mq.broker_name):
                    return mq
        if last_broker is not None:
            for _ in range(n):
                mq = queues[self._next(n)]
                if mq.broker_name != last_broker:
                    return mq
        return queues[self._next(n)]

    def update_fault_item(self, broker_name: str, latency: float, isolation: bool) -> None:
        """Record a send result; ``isolation`` marks a failure (counted as 10 s latency)."""
        if not self.enabled:
            return
        duration = compute_not_available_duration(ISOLATION_LATENCY if isolation else latency)
        self.fault.update(broker_name, latency, duration)
