"""The send loop shared by ``rmq bench producer`` and the comparison's rmq driver.

:func:`drive_sends` runs ``tasks`` concurrent senders on the running loop. Each sender keeps
up to ``window`` requests in flight (``window=1``: each request is awaited before the next,
RocketMQ's synchronous benchmark thread). A request is one call of ``send_once()``, which
carries ``batch`` messages and returns a :class:`SendOutcome`; an exception counts the batch as
*send failed* (RocketMQ's "Send Failed": the request did not get an answer), a non-OK answer as
*response failed*. Round-trip times go to the :class:`~bench.stats.SendStats` in µs.

Bounds: the loop stops issuing requests when ``should_run()`` turns false (deadline) or
``max_messages`` were issued, then waits for the requests in flight (each is bounded by its
own client timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from bench.stats import SendStats

__all__ = ["SendOutcome", "drive_sends", "stop_on_signals"]


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What one request achieved: ``ok`` messages stored, ``failed`` refused by the server."""

    ok: int
    failed: int = 0


SendOnce = Callable[[], Awaitable[SendOutcome]]


async def drive_sends(
    send_once: SendOnce,
    stats: SendStats,
    *,
    batch: int,
    tasks: int,
    window: int,
    should_run: Callable[[], bool],
    max_messages: int = 0,
) -> None:
    """Run the senders until ``should_run()`` is false or ``max_messages`` (0: no bound)
    messages were issued; return when every request in flight has finished."""
    if batch < 1 or tasks < 1 or window < 1:
        raise ValueError("batch, tasks and window must be at least 1")
    issued = 0
    perf = time.perf_counter_ns

    def may_issue() -> bool:
        nonlocal issued
        if max_messages and issued >= max_messages:
            return False
        if not should_run():
            return False
        issued += batch
        return True

    async def one() -> None:
        t0 = perf()
        try:
            outcome = await send_once()
        except Exception:
            stats.send_failed += batch
            return
        if outcome.ok:
            stats.ok(outcome.ok, (perf() - t0) / 1000)
        if outcome.failed:
            stats.response_failed += outcome.failed

    async def sync_sender() -> None:
        while may_issue():
            await one()

    async def windowed_sender() -> None:
        slots = asyncio.Semaphore(window)
        running: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            slots.release()

        while True:
            await slots.acquire()
            if not may_issue():
                slots.release()
                break
            task = loop.create_task(one())
            running.add(task)
            task.add_done_callback(finished)
        if running:
            await asyncio.gather(*running)

    sender = sync_sender if window == 1 else windowed_sender
    await asyncio.gather(*(sender() for _ in range(tasks)))


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """While active, Ctrl-C and SIGTERM set ``stop`` (the run ends gracefully and still
    prints its final lines) instead of killing the process. Call on the loop's thread."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
