"""Running message listeners: concurrently (bounded) or one queue at a time (orderly).

Listeners take ``list[MessageExt]`` and may be plain or ``async`` functions. Plain ones run in
a thread pool of ``max_concurrency`` threads; async ones run on the loop. At most
``max_concurrency`` listener calls run at once either way.

Listener results: ``None``/``True``/``CONSUME_SUCCESS``/``SUCCESS`` mean done;
``False``/``RECONSUME_LATER``/``SUSPEND_CURRENT_QUEUE_A_MOMENT`` or an exception mean "retry".

Plain listeners of concurrent consumers go through :meth:`ListenerRunner.submit`, which
batches: the chunks of a pull are queued, and worker jobs in the pool each call the listener
on queued chunks one after another until the queue is empty, reporting their outcomes when
they stop (or every :data:`REPORT_EVERY_CHUNKS` chunks / :data:`REPORT_EVERY_SECONDS`); the
reports of all workers wake the loop once until it has handled them. A worker about to call
the listener while chunks are still waiting starts one more worker (while fewer than
``max_concurrency`` run and none is starting yet): fast listeners are served by one thread
and one loop wake-up per pull instead of a task, a semaphore round and two thread hops per
chunk, while slow listeners still spread over every thread of the pool, as RocketMQ's one
``ConsumeRequest`` per chunk does.

Shutdown (:meth:`ListenerRunner.shutdown`) lets the calls already running finish, up to a
timeout; a call that had not started yet (waiting for a free slot or queued for a worker) is
not made (``call`` raises :class:`ListenerStopped`; a queued chunk is never reported), so its
messages stay unconsumed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rmq_core.client.consumer.process_queue import ProcessQueue
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.results import ConsumeOrderlyStatus, ConsumeStatus
from rmq_core.common.message import MessageConst, MessageExt

__all__ = [
    "REPORT_EVERY_CHUNKS",
    "REPORT_EVERY_SECONDS",
    "ChunkOutcomes",
    "ListenerRunner",
    "ListenerStopped",
    "MessageListener",
    "is_success",
]

log = logging.getLogger(__name__)

MessageListener = Callable[[list[MessageExt]], Any]
ChunkOutcomes = Callable[[list[tuple[Any, bool]]], None]
"""Called on the loop with ``(tag, consumed)`` for chunks a worker finished, in its order."""
ChunkWanted = Callable[[Any], bool]
"""Asked (in the worker) with a chunk's tag right before its listener call: False skips the
chunk without a report (e.g. its process queue was dropped meanwhile)."""
_Queued = tuple[list[MessageExt], Any, ChunkOutcomes, ChunkWanted | None]

REPORT_EVERY_CHUNKS = 64
"""A worker reports its finished chunks to the loop at least every this many chunks..."""
REPORT_EVERY_SECONDS = 0.005
"""...and at least this often (s), so offsets and flow control follow a busy worker."""
WORKER_POLL_INTERVAL = 0.01
"""Seconds between checks while shutdown waits for running workers."""


def is_success(outcome: object) -> bool:
    """Whether a listener's return value means "consumed"."""
    if outcome is None or outcome is True:
        return True
    return outcome in (ConsumeStatus.CONSUME_SUCCESS, ConsumeOrderlyStatus.SUCCESS)


class ListenerStopped(Exception):
    """The runner is shutting down: the listener was not called for these messages."""


class ListenerRunner:
    """Calls a listener with a concurrency bound; exceptions become "retry"."""

    def __init__(self, listener: MessageListener, max_concurrency: int, name: str) -> None:
        if max_concurrency <= 0:
            raise ValueError("max_concurrency must be positive")
        self.listener = listener
        self._is_async = inspect.iscoroutinefunction(listener) or inspect.iscoroutinefunction(
            getattr(listener, "__call__", None)  # noqa: B004
        )
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._executor: ThreadPoolExecutor | None = None
        if not self._is_async:
            self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix=name)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._max_workers = max_concurrency
        self._queued: collections.deque[_Queued] = collections.deque()
        self._workers_lock = threading.Lock()
        self._workers = 0  # worker jobs submitted and not finished (starting ones included)
        self._starting = 0  # submitted, not yet running
        self._reported: list[tuple[Any, bool, ChunkOutcomes]] = []  # waiting for _deliver
        self._delivery_pending = False  # a _deliver is scheduled on the loop
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def is_async(self) -> bool:
        """True for an ``async`` listener (run on the loop, not by :meth:`submit`)."""
        return self._is_async

    async def call(self, msgs: list[MessageExt]) -> bool:
        """Run the listener on ``msgs``; True when it consumed them.

        Raises :class:`ListenerStopped` (without calling the listener) once shutdown began.
        """
        async with self._semaphore:
            if self._stopping:
                raise ListenerStopped(f"not consuming {len(msgs)} message(s): shutting down")
            now = str(time.time_ns() // 1_000_000)
            for msg in msgs:
                msg.properties[MessageConst.PROPERTY_CONSUME_START_TIMESTAMP] = now
            try:
                if self._executor is None:
                    outcome = await self.listener(msgs)
                else:
                    loop = asyncio.get_running_loop()
                    outcome = await loop.run_in_executor(
                        self._executor, functools.partial(self.listener, msgs)
                    )
                    if inspect.isawaitable(outcome):
                        outcome = await outcome
            except Exception:
                log.exception("message listener raised on %d message(s); will retry", len(msgs))
                return False
        return is_success(outcome)

    def submit(
        self,
        chunks: Sequence[tuple[list[MessageExt], Any]],
        done: ChunkOutcomes,
        wanted: ChunkWanted | None = None,
    ) -> None:
        """Queue ``(msgs, tag)`` chunks for the pool's workers (plain listeners only);
        ``done`` gets ``(tag, consumed)`` on the loop for each chunk the listener was called on.

        Chunks still queued when shutdown begins, and chunks ``wanted(tag)`` refuses when their
        turn comes, are dropped without a report.
        """
        if self._executor is None:
            raise TypeError("submit() runs plain listeners; await call() for an async one")
        if self._stopping:
            return
        self._loop = asyncio.get_running_loop()
        self._queued.extend((msgs, tag, done, wanted) for msgs, tag in chunks)
        self._maybe_add_worker()

    def _maybe_add_worker(self) -> None:
        """Start one more worker when chunks wait, a slot is free and no worker is starting.
        Called on the loop and from workers (the executor's submit is thread-safe)."""
        with self._workers_lock:
            if (
                not self._queued
                or self._stopping
                or self._starting
                or self._workers >= self._max_workers
            ):
                return
            self._workers += 1
            self._starting += 1
        assert self._executor is not None
        try:
            self._executor.submit(self._work)
        except RuntimeError:  # the pool was shut down
            with self._workers_lock:
                self._workers -= 1
                self._starting -= 1

    def _work(self) -> None:
        """A worker job (pool thread): call the listener on queued chunks until none is left,
        reporting outcomes to the loop in batches."""
        with self._workers_lock:
            self._starting -= 1
        outcomes: list[tuple[Any, bool, ChunkOutcomes]] = []
        reported = time.monotonic()
        try:
            while not self._stopping:
                try:
                    msgs, tag, done, wanted = self._queued.popleft()
                except IndexError:
                    break
                if self._queued:
                    self._maybe_add_worker()
                if wanted is not None and not wanted(tag):
                    continue
                outcomes.append((tag, self._call_listener(msgs), done))
                if len(outcomes) >= REPORT_EVERY_CHUNKS or (
                    time.monotonic() - reported >= REPORT_EVERY_SECONDS
                ):
                    self._report(outcomes)
                    outcomes, reported = [], time.monotonic()
        finally:
            self._report(outcomes)  # queued on the loop before this worker stops counting
            with self._workers_lock:
                self._workers -= 1
            self._maybe_add_worker()  # chunks queued while this worker was leaving

    def _call_listener(self, msgs: list[MessageExt]) -> bool:
        """Worker side of :meth:`call`: stamp, call, map the outcome (exceptions: retry)."""
        now = str(time.time_ns() // 1_000_000)
        for msg in msgs:
            msg.properties[MessageConst.PROPERTY_CONSUME_START_TIMESTAMP] = now
        try:
            outcome = self.listener(msgs)
            if inspect.isawaitable(outcome) and self._loop is not None:
                outcome = asyncio.run_coroutine_threadsafe(_awaited(outcome), self._loop).result()
            return is_success(outcome)
        except Exception:
            log.exception("message listener raised on %d message(s); will retry", len(msgs))
            return False

    def _report(self, outcomes: list[tuple[Any, bool, ChunkOutcomes]]) -> None:
        """Queue finished chunks for the loop; only the first report since the loop last
        drained them wakes it (one ``call_soon_threadsafe`` for many workers' reports)."""
        loop = self._loop
        if not outcomes or loop is None or loop.is_closed():
            return
        with self._workers_lock:
            self._reported.extend(outcomes)
            if self._delivery_pending:
                return
            self._delivery_pending = True
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        """On the loop: hand the reported chunks to their callbacks (grouped per callback)."""
        with self._workers_lock:
            outcomes, self._reported = self._reported, []
            self._delivery_pending = False
        by_callback: dict[ChunkOutcomes, list[tuple[Any, bool]]] = {}
        for tag, ok, done in outcomes:
            by_callback.setdefault(done, []).append((tag, ok))
        for done, results in by_callback.items():
            try:
                done(results)
            except Exception:
                log.exception("handling %d consumed chunk(s) failed", len(results))

    def spawn(self, coro: Awaitable[None]) -> None:
        """Track a consumption task so shutdown can wait for it."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def stopping(self) -> bool:
        """True once :meth:`shutdown` began: no new listener call starts."""
        return self._stopping

    async def pause(self, delay: float) -> bool:
        """Sleep ``delay`` s, or less when shutdown begins; True when shutting down."""
        if not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)
        return self._stopping

    async def shutdown(self, timeout: float) -> None:
        """Start no new listener call; wait up to ``timeout`` s for the running ones (and the
        tasks around them), cancel what is left, stop the threads."""
        self._stopping = True
        self._stopped.set()
        self._queued.clear()
        deadline = time.monotonic() + timeout
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
        while self._workers and time.monotonic() < deadline:
            await asyncio.sleep(WORKER_POLL_INTERVAL)
        await asyncio.sleep(0)  # deliver the reports the last workers queued on the loop
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


async def _awaited(outcome: Awaitable[Any]) -> Any:
    return await outcome


def chunks(msgs: list[MessageExt], size: int) -> list[list[MessageExt]]:
    """``msgs`` split into lists of at most ``size`` (>= 1)."""
    size = max(size, 1)
    return [msgs[i : i + size] for i in range(0, len(msgs), size)]


QueueKey = tuple[MessageQueue, int]


def queue_key(mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> QueueKey:
    """A key for "this process queue of this message queue" (a recreated queue is new)."""
    return (mq, id(pq))
