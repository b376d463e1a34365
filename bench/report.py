"""Reporting of a running benchmark: RocketMQ's 10-second lines, a progress line, a JSON line.

Every ``interval`` seconds (10 by default, like RocketMQ's tools) and once at the end, a
:class:`Reporter` prints one line with RocketMQ's columns for the last interval to ``out``::

    Current Time: 1718000000000 | Send TPS: 98765 | Max RT(ms): 3.210 | Average RT(ms):   0.640 |
    Send Failed: 0 | Response Failed: 0
    Current Time: 1718000000000 | Consume TPS: 201234 | AVG(B2C) RT(ms):   1.000 | ...

(times in ms; RocketMQ prints whole milliseconds, we keep three decimals). When ``progress``
is on (by default when ``progress_stream`` is a terminal) a status line is redrawn in place
twice a second. :meth:`Reporter.finish` prints the summary line over the whole run and returns
the result dict that the tools print as one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from abc import ABC, abstractmethod
from typing import Any, TextIO

from bench.stats import ConsumeSnapshot, ConsumeStats, SendSnapshot, SendStats, jsonable, rate

__all__ = [
    "DEFAULT_REPORT_INTERVAL",
    "ConsumeReporter",
    "Reporter",
    "SendReporter",
    "consume_line",
    "print_json_line",
    "send_line",
]

DEFAULT_REPORT_INTERVAL = 10.0
"""Seconds between two RocketMQ-style report lines."""
PROGRESS_PERIOD = 0.5
"""Seconds between two redraws of the progress line."""


def _ms(micros: float) -> float:
    return micros / 1000.0


def send_line(interval: SendSnapshot, now_ms: int | None = None) -> str:
    """RocketMQ's producer columns for one interval (a snapshot difference)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return (
        f"Current Time: {now_ms} | Send TPS: {round(rate(interval.sent, interval.at))} | "
        f"Max RT(ms): {_ms(interval.rt.max):.3f} | Average RT(ms): {_ms(interval.rt.mean):7.3f} | "
        f"Send Failed: {interval.send_failed} | Response Failed: {interval.response_failed}"
    )


def consume_line(interval: ConsumeSnapshot, now_ms: int | None = None) -> str:
    """RocketMQ's consumer columns (plus p50/p99) for one interval."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    b2c, s2c = interval.born_to_consume, interval.store_to_consume
    return (
        f"Current Time: {now_ms} | Consume TPS: {round(rate(interval.received, interval.at))} | "
        f"AVG(B2C) RT(ms): {_ms(b2c.mean):7.3f} | AVG(S2C) RT(ms): {_ms(s2c.mean):7.3f} | "
        f"MAX(B2C) RT(ms): {_ms(b2c.max):.3f} | MAX(S2C) RT(ms): {_ms(s2c.max):.3f} | "
        f"P50(B2C) RT(ms): {_ms(b2c.percentile(50)):.3f} | "
        f"P99(B2C) RT(ms): {_ms(b2c.percentile(99)):.3f} | "
        f"P50(S2C) RT(ms): {_ms(s2c.percentile(50)):.3f} | "
        f"P99(S2C) RT(ms): {_ms(s2c.percentile(99)):.3f}"
    )


def print_json_line(result: dict[str, Any], out: TextIO | None = None) -> None:
    """Print ``result`` as one compact JSON line (floats rounded to 3 decimals)."""
    stream = out if out is not None else sys.stdout
    stream.write(json.dumps(jsonable(result), separators=(",", ":"), sort_keys=True) + "\n")
    stream.flush()


class Reporter(ABC):
    """Periodic printer; subclasses say what a snapshot is and how a line looks.

    Use ``task = reporter.start()`` on the running loop, then ``reporter.finish()`` (which
    stops the task) when the workload is done. ``duration`` (s), when known, drives the
    progress bar.
    """

    def __init__(
        self,
        *,
        interval: float = DEFAULT_REPORT_INTERVAL,
        out: TextIO | None = None,
        progress_stream: TextIO | None = None,
        progress: bool | None = None,
        duration: float | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("report interval must be positive")
        self.interval = interval
        self.out = out if out is not None else sys.stdout
        self.progress_stream = progress_stream if progress_stream is not None else sys.stderr
        if progress is None:
            progress = bool(getattr(self.progress_stream, "isatty", lambda: False)())
        self.progress = progress
        self.duration = duration
        self.lines: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._progress_drawn = False

    # --- to be provided by subclasses ---------------------------------------------------------

    @abstractmethod
    def _snapshot(self) -> Any:
        """Provided by the producer or consumer reporter."""

    @abstractmethod
    def _line(self, interval: Any) -> str:
        """Provided by the producer or consumer reporter."""

    @abstractmethod
    def _progress_text(self, elapsed: float, recent_rate: float) -> str:
        """Provided by the producer or consumer reporter."""

    @abstractmethod
    def _started(self) -> float:
        """Provided by the producer or consumer reporter."""

    @abstractmethod
    def _count(self) -> int:
        """Provided by the producer or consumer reporter."""

    # --- running ------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start the periodic task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    async def _run(self) -> None:
        last = self._snapshot()
        next_report = last.at + self.interval
        prev_count, prev_at = self._count(), time.monotonic()
        while True:
            period = PROGRESS_PERIOD if self.progress else self.interval
            now = time.monotonic()
            await asyncio.sleep(max(0.0, min(period, next_report - now)))
            now = time.monotonic()
            if now >= next_report:
                snap = self._snapshot()
                self.emit(self._line(snap.minus(last)))
                last, next_report = snap, next_report + self.interval
            if self.progress:
                count = self._count()
                recent = rate(count - prev_count, now - prev_at)
                prev_count, prev_at = count, now
                self._draw(self._progress_text(now - self._started(), recent))

    def emit(self, line: str) -> None:
        """Print one report line (clearing the progress line first)."""
        self._clear_progress()
        self.lines.append(line)
        self.out.write(line + "\n")
        self.out.flush()

    def _draw(self, text: str) -> None:
        stream = self.progress_stream
        stream.write("\r\x1b[2K" + text)
        stream.flush()
        self._progress_drawn = True

    def _clear_progress(self) -> None:
        if self._progress_drawn:
            self.progress_stream.write("\r\x1b[2K")
            self.progress_stream.flush()
            self._progress_drawn = False

    def _bar(self, elapsed: float) -> str:
        if not self.duration:
            return f"[{elapsed:7.1f}s]"
        done = min(1.0, elapsed / self.duration)
        filled = int(done * 20)
        return f"[{'#' * filled}{'.' * (20 - filled)}] {elapsed:6.1f}/{self.duration:g}s"

    async def stop(self) -> None:
        """Stop the periodic task (no final line)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._clear_progress()


class SendReporter(Reporter):
    """Reporter of a :class:`~bench.stats.SendStats`."""

    def __init__(self, stats: SendStats, **options: Any) -> None:
        super().__init__(**options)
        self.stats = stats

    def _snapshot(self) -> SendSnapshot:
        return self.stats.snapshot()

    def _line(self, interval: SendSnapshot) -> str:
        return send_line(interval)

    def _started(self) -> float:
        return self.stats.started

    def _count(self) -> int:
        return self.stats.sent

    def _progress_text(self, elapsed: float, recent_rate: float) -> str:
        stats = self.stats
        failed = stats.send_failed + stats.response_failed
        return (
            f"{self._bar(elapsed)} sent {stats.sent:,}  {recent_rate:,.0f} msg/s  "
            f"avg RT {_ms(stats.rt.mean):.3f} ms  failed {failed:,}"
        )

    async def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Stop, print the whole-run line and return the result dict."""
        await self.stop()
        whole = self.stats.snapshot()
        zero = SendSnapshot(self.stats.started, 0, 0, 0, type(whole.rt)())
        total = whole.minus(zero)
        self.emit(send_line(total))
        result: dict[str, Any] = {
            "messages": total.sent,
            "seconds": total.at,
            "tps": rate(total.sent, total.at),
            "send_failed": total.send_failed,
            "response_failed": total.response_failed,
            "rt_us": total.rt.summary(),
        }
        result.update(extra or {})
        return result


class ConsumeReporter(Reporter):
    """Reporter of a :class:`~bench.stats.ConsumeStats`."""

    def __init__(self, stats: ConsumeStats, **options: Any) -> None:
        super().__init__(**options)
        self.stats = stats

    def _snapshot(self) -> ConsumeSnapshot:
        return self.stats.snapshot()

    def _line(self, interval: ConsumeSnapshot) -> str:
        return consume_line(interval)

    def _started(self) -> float:
        return self.stats.started

    def _count(self) -> int:
        return self.stats.received

    def _progress_text(self, elapsed: float, recent_rate: float) -> str:
        b2c = self.stats.born_to_consume
        return (
            f"{self._bar(elapsed)} received {self.stats.received:,}  {recent_rate:,.0f} msg/s  "
            f"avg B2C {_ms(b2c.mean):.3f} ms"
        )

    async def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Stop, print the whole-run line and return the result dict."""
        await self.stop()
        whole = self.stats.snapshot()
        empty = type(whole.born_to_consume)
        total = whole.minus(ConsumeSnapshot(self.stats.started, 0, empty(), empty()))
        self.emit(consume_line(total))
        result: dict[str, Any] = {
            "messages": total.received,
            "seconds": total.at,
            "tps": rate(total.received, total.at),
            "born_to_consume_us": total.born_to_consume.summary(),
            "store_to_consume_us": total.store_to_consume.summary(),
        }
        result.update(extra or {})
        return result
