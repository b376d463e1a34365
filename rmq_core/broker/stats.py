"""Message counters behind GET_BROKER_RUNTIME_INFO (reference §6.12).

Totals count messages since the broker started; ``*_today_morning`` / ``*_yesterday_morning``
are the totals seen at the last two local midnights (0 before the broker saw one), which is
what mqadmin's ``clusterList`` subtracts to print "today" and "yesterday". TPS values average
the last 10, 60 and 600 seconds of samples taken by :meth:`BrokerStats.sample` (once a second).
"""

from __future__ import annotations

import collections
import datetime
import time

__all__ = ["BrokerStats"]

_WINDOWS = (10, 60, 600)


class BrokerStats:
    """Put/get message totals with per-second samples; event-loop use only."""

    def __init__(self) -> None:
        self.put_total = 0
        self.get_total = 0
        self.put_today_morning = 0
        self.put_yesterday_morning = 0
        self.get_today_morning = 0
        self.get_yesterday_morning = 0
        self._day = datetime.date.today()
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque(
            maxlen=max(_WINDOWS) + 1
        )

    def record_put(self, count: int = 1) -> None:
        """Count ``count`` stored messages."""
        self.put_total += count

    def record_get(self, count: int) -> None:
        """Count ``count`` messages handed to consumers."""
        self.get_total += count

    def sample(self, now: float | None = None, today: datetime.date | None = None) -> None:
        """Take a per-second sample (monotonic ``now``) and roll the day counters."""
        now = time.monotonic() if now is None else now
        today = datetime.date.today() if today is None else today
        if today != self._day:
            self._day = today
            self.put_yesterday_morning = self.put_today_morning
            self.get_yesterday_morning = self.get_today_morning
            self.put_today_morning = self.put_total
            self.get_today_morning = self.get_total
        self._samples.append((now, self.put_total, self.get_total))

    def _tps(self, window: int, index: int) -> float:
        if len(self._samples) < 2:
            return 0.0
        newest = self._samples[-1]
        oldest = self._samples[max(0, len(self._samples) - 1 - window)]
        elapsed = newest[0] - oldest[0]
        return 0.0 if elapsed <= 0 else (newest[index] - oldest[index]) / elapsed

    def put_tps(self) -> str:
        """``"<10s> <60s> <600s>"`` put rates (messages per second)."""
        return " ".join(f"{self._tps(w, 1):.2f}" for w in _WINDOWS)

    def get_tps(self) -> str:
        """``"<10s> <60s> <600s>"`` get rates (messages per second)."""
        return " ".join(f"{self._tps(w, 2):.2f}" for w in _WINDOWS)
