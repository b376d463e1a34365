"""The concurrent-senders loop of ``send_concurrent``: counts, errors, bounds, concurrency."""

from __future__ import annotations

import asyncio

from bench.workload import Measurement, WorkloadParams, run_concurrent_senders


def run(outcomes: list[object], depth: int, max_messages: int) -> tuple[Measurement, int]:
    """Run the loop with a ``send`` returning/raising ``outcomes`` in turn (then True);
    return the measurement and the largest number of sends seen in flight."""
    params = WorkloadParams(
        workload="send_concurrent",
        address="h:1",
        duration=60.0,
        depth=depth,
        max_messages=max_messages,
    )
    m = Measurement(params)
    in_flight = peak = 0
    calls = iter(outcomes)

    async def send() -> bool:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        item = next(calls, True)
        if isinstance(item, Exception):
            raise item
        return bool(item)

    asyncio.run(run_concurrent_senders(m, send))
    return m, peak


def test_every_sender_has_one_send_in_flight_and_the_count_bound_holds() -> None:
    m, peak = run([], depth=4, max_messages=40)
    assert peak == 4
    assert m.messages == 40 and m.errors == 0
    assert m.latency.count == 40
    assert m.notes["senders"] == 4
    result = m.result("test")
    assert result["workload"] == "send_concurrent" and result["messages"] == 40


def test_refusals_and_exceptions_count_as_errors() -> None:
    m, _ = run([True, False, OSError("closed"), True], depth=1, max_messages=4)
    assert (m.messages, m.errors) == (2, 2)
    assert m.latency.count == 2


def test_one_sender_sends_one_at_a_time() -> None:
    m, peak = run([], depth=1, max_messages=5)
    assert peak == 1 and m.messages == 5
