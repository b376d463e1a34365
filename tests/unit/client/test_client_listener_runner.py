"""ListenerRunner shutdown: running calls finish, waiting ones never start, pauses end."""

from __future__ import annotations

import asyncio
import time

import pytest

from rmq_core.client.consumer.consume_service import ListenerRunner, ListenerStopped
from rmq_core.common.message import MessageExt


def test_waiting_calls_do_not_start_after_shutdown() -> None:
    async def body() -> None:
        calls: list[int] = []
        gate = asyncio.Event()

        async def listener(msgs: list[MessageExt]) -> None:
            calls.append(len(calls))
            await gate.wait()

        runner = ListenerRunner(listener, 1, "unit")
        outcomes: list[object] = []

        async def consume() -> None:
            try:
                outcomes.append(await runner.call([MessageExt("T", b"x")]))
            except ListenerStopped:
                outcomes.append("stopped")

        runner.spawn(consume())
        runner.spawn(consume())
        await asyncio.sleep(0.05)
        stopping = asyncio.ensure_future(runner.shutdown(5.0))
        await asyncio.sleep(0.05)
        assert not stopping.done()
        gate.set()
        await asyncio.wait_for(stopping, 5.0)
        assert calls == [0]
        assert sorted(map(str, outcomes)) == ["True", "stopped"]
        with pytest.raises(ListenerStopped):
            await runner.call([MessageExt("T", b"x")])

    asyncio.run(asyncio.wait_for(body(), 10))


def test_pause_ends_when_shutdown_begins() -> None:
    async def body() -> None:
        runner = ListenerRunner(lambda msgs: None, 1, "unit")
        assert await runner.pause(0.01) is False
        started = time.monotonic()
        paused = asyncio.ensure_future(runner.pause(30.0))
        await asyncio.sleep(0.05)
        await runner.shutdown(1.0)
        assert await asyncio.wait_for(paused, 2.0) is True
        assert time.monotonic() - started < 5

    asyncio.run(asyncio.wait_for(body(), 10))
