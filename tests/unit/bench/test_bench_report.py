"""RocketMQ-style report lines, the periodic reporter, the progress line and the JSON line."""

from __future__ import annotations

import asyncio
import io
import json
import re

from bench.report import ConsumeReporter, SendReporter, consume_line, print_json_line, send_line
from bench.stats import ConsumeStats, SendStats

SEND_COLUMNS = re.compile(
    r"^Current Time: \d+ \| Send TPS: \d+ \| Max RT\(ms\): [\d.]+ \| Average RT\(ms\): +[\d.]+ "
    r"\| Send Failed: \d+ \| Response Failed: \d+$"
)
CONSUME_COLUMNS = re.compile(
    r"^Current Time: \d+ \| Consume TPS: \d+ \| AVG\(B2C\) RT\(ms\): +[\d.]+ \| "
    r"AVG\(S2C\) RT\(ms\): +[\d.]+ \| MAX\(B2C\) RT\(ms\): [\d.]+ \| MAX\(S2C\) RT\(ms\): [\d.]+ "
    r"\| P50\(B2C\) RT\(ms\): [\d.]+ \| P99\(B2C\) RT\(ms\): [\d.]+ \| "
    r"P50\(S2C\) RT\(ms\): [\d.]+ \| P99\(S2C\) RT\(ms\): [\d.]+$"
)


def test_send_line_has_rocketmq_columns() -> None:
    stats = SendStats()
    start = stats.snapshot()
    stats.ok(1000, 1500)
    stats.ok(1000, 500)
    stats.send_failed = 3
    interval = stats.snapshot().minus(start)
    interval.at = 2.0
    line = send_line(interval, now_ms=1234)
    assert SEND_COLUMNS.match(line), line
    assert "Send TPS: 1000 |" in line
    assert "Max RT(ms): 1.500" in line
    assert "Average RT(ms):   1.000" in line
    assert "Send Failed: 3 | Response Failed: 0" in line


def test_consume_line_has_rocketmq_columns_with_percentiles() -> None:
    stats = ConsumeStats()
    start = stats.snapshot()
    stats.received = 500
    for value in (1000, 2000, 3000):
        stats.born_to_consume.record(value)
        stats.store_to_consume.record(value / 2)
    interval = stats.snapshot().minus(start)
    interval.at = 1.0
    line = consume_line(interval, now_ms=1)
    assert CONSUME_COLUMNS.match(line), line
    assert "Consume TPS: 500 |" in line
    assert "MAX(B2C) RT(ms): 3.000" in line


def test_reporter_prints_every_interval_and_a_summary() -> None:
    async def scenario() -> tuple[dict[str, object], str]:
        stats = SendStats()
        out = io.StringIO()
        reporter = SendReporter(stats, interval=0.05, out=out, progress=False)
        reporter.start()
        for _ in range(8):
            stats.ok(10, 100)
            await asyncio.sleep(0.02)
        result = await reporter.finish({"tool": "producer"})
        return result, out.getvalue()

    result, text = asyncio.run(scenario())
    lines = text.splitlines()
    assert len(lines) >= 3  # at least two interval lines and the summary
    assert all(SEND_COLUMNS.match(line) for line in lines)
    assert result["messages"] == 80
    assert result["tool"] == "producer"
    assert result["rt_us"]["count"] == 8  # type: ignore[index]


def test_progress_line_is_drawn_and_cleared() -> None:
    async def scenario() -> str:
        stats = ConsumeStats()
        progress = io.StringIO()
        reporter = ConsumeReporter(
            stats,
            interval=10.0,
            out=io.StringIO(),
            progress_stream=progress,
            progress=True,
            duration=2.0,
        )
        reporter.start()
        stats.received = 42
        await asyncio.sleep(0.7)
        await reporter.finish()
        return progress.getvalue()

    text = asyncio.run(scenario())
    assert "received 42" in text
    assert "[" in text and "/2s" in text
    assert text.endswith("\r\x1b[2K")  # cleared before the final line


def test_progress_off_when_stream_is_not_a_terminal() -> None:
    reporter = SendReporter(SendStats(), progress_stream=io.StringIO())
    assert reporter.progress is False


def test_json_line_is_one_compact_line() -> None:
    out = io.StringIO()
    print_json_line({"tps": 1.23456, "rt_us": {"p99": 2.0}}, out)
    text = out.getvalue()
    assert text.count("\n") == 1
    assert json.loads(text) == {"rt_us": {"p99": 2.0}, "tps": 1.235}
