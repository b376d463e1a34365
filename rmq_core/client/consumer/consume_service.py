"""Running message listeners: concurrently (bounded) or one queue at a time (orderly).

Listeners take ``list[MessageExt]`` and may be plain or ``async`` functions. Plain ones run in
a thread pool of ``max_concurrency`` threads; async ones run on the loop. At most
``max_concurrency`` listener calls run at once either way.

Listener results: ``None``/``True``/``CONSUME_SUCCESS``/``SUCCESS`` mean done;
``False``/``RECONSUME_LATER``/``SUSPEND_CURRENT_QUEUE_A_MOMENT`` or an exception mean "retry".

Shutdown (:meth:`ListenerRunner.shutdown`) lets the calls already running finish, up to a
timeout; a call that had not started yet (waiting for a free slot) raises
:class:`ListenerStopped` instead of running the listener, so its messages stay unconsumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rmq_core.client.consumer.process_queue import ProcessQueue
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.results import ConsumeOrderlyStatus, ConsumeStatus
from rmq_core.common.message import MessageConst, MessageExt

__all__ = ["ListenerRunner", "ListenerStopped", "MessageListener", "is_success"]

log = logging.getLogger(__name__)

MessageListener = Callable[[list[MessageExt]], Any]


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
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def chunks(msgs: list[MessageExt], size: int) -> list[list[MessageExt]]:
    """``msgs`` split into lists of at most ``size`` (>= 1)."""
    size = max(size, 1)
    return [msgs[i : i + size] for i in range(0, len(msgs), size)]


QueueKey = tuple[MessageQueue, int]


def queue_key(mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> QueueKey:
    """A key for "this process queue of this message queue" (a recreated queue is new)."""
    return (mq, id(pq))
