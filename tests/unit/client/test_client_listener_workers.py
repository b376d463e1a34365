"""ListenerRunner.submit: pool workers run queued chunks and report outcomes in batches."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from rmq_core.client.consumer.consume_service import ListenerRunner
from rmq_core.client.results import ConsumeStatus
from rmq_core.common.message import MessageConst, MessageExt

TIMEOUT = 10.0


def _chunk(i: int) -> list[MessageExt]:
    return [MessageExt("T", str(i).encode())]


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.005)


def test_every_chunk_is_reported_once_with_its_tag_and_outcome() -> None:
    async def body() -> None:
        seen: list[bytes] = []

        def listener(msgs: list[MessageExt]) -> object:
            assert MessageConst.PROPERTY_CONSUME_START_TIMESTAMP in msgs[0].properties
            seen.append(msgs[0].body)
            value = int(msgs[0].body)
            if value % 5 == 4:
                raise RuntimeError("listener failure becomes a retry")
            return ConsumeStatus.RECONSUME_LATER if value % 5 == 3 else None

        runner = ListenerRunner(listener, 4, "unit")
        reports: list[list[tuple[Any, bool]]] = []
        runner.submit([(_chunk(i), i) for i in range(50)], reports.append)
        runner.submit([(_chunk(i), i) for i in range(50, 100)], reports.append)
        await asyncio.wait_for(_until(lambda: sum(map(len, reports)) == 100), TIMEOUT)
        outcomes = dict(pair for report in reports for pair in report)
        assert outcomes == {i: i % 5 < 3 for i in range(100)}
        assert sorted(seen) == sorted(str(i).encode() for i in range(100))
        await runner.shutdown(TIMEOUT)

    asyncio.run(body())


def test_slow_listeners_spread_over_the_pool() -> None:
    async def body() -> None:
        barrier = threading.Barrier(3, timeout=TIMEOUT)

        def listener(msgs: list[MessageExt]) -> None:
            barrier.wait()  # passes only when three calls run at once

        runner = ListenerRunner(listener, 3, "unit")
        reports: list[tuple[Any, bool]] = []
        runner.submit([(_chunk(i), i) for i in range(6)], reports.extend)
        await asyncio.wait_for(_until(lambda: len(reports) == 6), TIMEOUT)
        assert all(ok for _, ok in reports)
        await runner.shutdown(TIMEOUT)

    asyncio.run(body())


def test_concurrency_never_exceeds_the_pool() -> None:
    async def body() -> None:
        lock = threading.Lock()
        running, peak = [0], [0]
        release = threading.Event()

        def listener(msgs: list[MessageExt]) -> None:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            release.wait(TIMEOUT)
            with lock:
                running[0] -= 1

        runner = ListenerRunner(listener, 2, "unit")
        reports: list[tuple[Any, bool]] = []
        runner.submit([(_chunk(i), i) for i in range(8)], reports.extend)
        await asyncio.wait_for(_until(lambda: running[0] == 2), TIMEOUT)
        release.set()
        await asyncio.wait_for(_until(lambda: len(reports) == 8), TIMEOUT)
        assert peak[0] == 2
        await runner.shutdown(TIMEOUT)

    asyncio.run(body())


def test_unwanted_chunks_are_skipped_without_a_report() -> None:
    async def body() -> None:
        called: list[bytes] = []
        runner = ListenerRunner(lambda msgs: called.append(msgs[0].body), 2, "unit")
        reports: list[tuple[Any, bool]] = []
        runner.submit([(_chunk(i), i) for i in range(10)], reports.extend, lambda tag: tag % 2)
        await asyncio.wait_for(_until(lambda: len(reports) == 5), TIMEOUT)
        await runner.shutdown(TIMEOUT)
        assert sorted(tag for tag, _ in reports) == [1, 3, 5, 7, 9]
        assert sorted(called) == [str(i).encode() for i in (1, 3, 5, 7, 9)]

    asyncio.run(body())


def test_shutdown_lets_running_chunks_finish_and_drops_queued_ones() -> None:
    async def body() -> None:
        started = threading.Event()
        release = threading.Event()
        called: list[bytes] = []

        def listener(msgs: list[MessageExt]) -> None:
            called.append(msgs[0].body)
            started.set()
            release.wait(TIMEOUT)

        runner = ListenerRunner(listener, 1, "unit")
        reports: list[tuple[Any, bool]] = []
        runner.submit([(_chunk(i), i) for i in range(5)], reports.extend)
        await asyncio.wait_for(asyncio.to_thread(started.wait, TIMEOUT), TIMEOUT)
        stopping = asyncio.ensure_future(runner.shutdown(TIMEOUT))
        # The listener holds its worker until release: a shutdown that did not wait for it
        # would finish within these loop steps (no timer involved); this one cannot.
        for _ in range(10):
            await asyncio.sleep(0)
        assert runner.stopping and not stopping.done()
        release.set()
        await asyncio.wait_for(stopping, TIMEOUT)
        assert called == [b"0"] and reports == [(0, True)]
        runner.submit([(_chunk(9), 9)], reports.extend)  # after shutdown: ignored
        assert not runner._queued and runner._workers == 0  # nothing left to run or report
        assert reports == [(0, True)] and called == [b"0"]

    asyncio.run(body())


def test_submit_needs_a_plain_listener() -> None:
    async def body() -> None:
        async def listener(msgs: list[MessageExt]) -> None:
            return None

        runner = ListenerRunner(listener, 1, "unit")
        assert runner.is_async
        with pytest.raises(TypeError):
            runner.submit([(_chunk(0), 0)], lambda outcomes: None)
        await runner.shutdown(TIMEOUT)

    asyncio.run(body())
