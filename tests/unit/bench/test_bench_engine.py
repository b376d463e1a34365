"""The shared send loop: windows, counts, failures and bounds."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.engine import SendOutcome, drive_sends
from bench.stats import SendStats


def run_sends(outcomes: list[object], **kwargs: object) -> tuple[SendStats, int]:
    """Drive ``send_once`` that returns/raises ``outcomes`` in turn; return stats and the
    largest number of requests seen in flight."""

    async def scenario() -> tuple[SendStats, int]:
        stats = SendStats()
        in_flight = peak = 0
        calls = iter(outcomes)

        async def send_once() -> SendOutcome:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1
            item = next(calls)
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, SendOutcome)
            return item

        await drive_sends(send_once, stats, **kwargs)  # type: ignore[arg-type]
        return stats, peak

    return asyncio.run(scenario())


def test_counts_ok_send_failed_and_response_failed() -> None:
    outcomes = [SendOutcome(4), RuntimeError("down"), SendOutcome(0, 4), SendOutcome(4)]
    stats, peak = run_sends(
        outcomes, batch=4, tasks=1, window=1, should_run=lambda: True, max_messages=16
    )
    assert stats.sent == 8
    assert stats.send_failed == 4
    assert stats.response_failed == 4
    assert stats.rt.count == 2
    assert peak == 1


def test_window_bounds_requests_in_flight() -> None:
    outcomes = [SendOutcome(1)] * 200
    stats, peak = run_sends(
        outcomes, batch=1, tasks=2, window=5, should_run=lambda: True, max_messages=200
    )
    assert stats.sent == 200
    assert 5 < peak <= 10  # two senders, five each


def test_deadline_stops_issuing() -> None:
    deadline = time.monotonic() + 0.05
    outcomes = [SendOutcome(1)] * 100_000
    stats, _ = run_sends(
        outcomes, batch=1, tasks=1, window=4, should_run=lambda: time.monotonic() < deadline
    )
    assert 0 < stats.sent < 100_000


def test_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        run_sends([], batch=0, tasks=1, window=1, should_run=lambda: True)
