"""Flushing: asynchronous commit-log flush, group commit, and consume-queue/index flush.

- :class:`FlushCommitLogService` (ASYNC_FLUSH): every ``flush_interval`` seconds, fdatasync the
  commit log when at least ``least_pages`` pages are dirty or ``thorough_interval`` passed.
- :class:`GroupCommitService` (SYNC_FLUSH): writers :meth:`~GroupCommitService.submit` the end
  offset of their bytes and get a ``Future[bool]``; the flusher thread takes every pending
  request, fdatasyncs once for everything written so far and resolves them all: True, or False
  when the flush finished after the request's deadline (FLUSH_DISK_TIMEOUT). After every pass
  it tells its listeners the commit log's flushed offset, read after the fdatasync: bytes a
  writer appended during the pass and the sync happened to cover are acknowledged then, not
  left waiting for a pass that finds nothing dirty.
- :class:`FlushConsumeQueueService`: flushes consume queues, index files and the checkpoint.

No writer ever calls fdatasync itself. A failed commit-log fdatasync (EIO, ENOSPC...) is fatal
for durability and never retried: Linux may have marked the unwritten pages clean, so a later
success would acknowledge bytes that may be lost. The flush service logs it once, resolves every
pending request and waiter False, tells the store (``on_failure``), which then refuses writes,
and does nothing more.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from rmq_core.store.checkpoint import StoreCheckpoint
from rmq_core.store.commitlog import CommitLog
from rmq_core.store.service import Service

__all__ = [
    "FLUSH_FAILED",
    "AsyncFlushWaiter",
    "DispatchProgress",
    "FlushCommitLogService",
    "FlushConsumeQueueService",
    "GroupCommitService",
]

log = logging.getLogger(__name__)

FLUSH_FAILED = -1
"""Offset passed to group-commit listeners once a commit-log fdatasync failed: nothing will
ever be acknowledged again."""


def _log_failure(exc: OSError) -> None:
    log.critical(
        "commit log fdatasync failed (%s): its data may be lost; the store refuses writes "
        "from now on and will recover as after a crash at the next start",
        exc,
        exc_info=exc,
    )


class FlushCommitLogService(Service):
    """ASYNC_FLUSH: periodic fdatasync of the commit log."""

    def __init__(
        self,
        commitlog: CommitLog,
        checkpoint: StoreCheckpoint,
        interval: float = 0.5,
        least_pages: int = 4,
        thorough_interval: float = 10.0,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        super().__init__("FlushRealTimeService", interval)
        self.commitlog = commitlog
        self.checkpoint = checkpoint
        self.least_pages = least_pages
        self.thorough_interval = thorough_interval
        self.on_failure = on_failure
        self.failed = False
        self._last_thorough = time.time()

    def run_once(self, now: float) -> None:
        """Flush if enough is dirty or the thorough interval passed."""
        if self.failed:
            return
        queue = self.commitlog.queue
        thorough = now - self._last_thorough >= self.thorough_interval
        if not thorough and queue.dirty_pages() < self.least_pages:
            return
        if thorough:
            self._last_thorough = now
        self.flush_all()

    def flush_all(self) -> None:
        """fdatasync everything written so far and advance the checkpoint (nothing once a
        flush failed)."""
        if self.failed:
            return
        timestamp = self.commitlog.last_store_timestamp
        try:
            synced = self.commitlog.queue.flush()
        except OSError as exc:
            if self.on_failure is not None:
                self.on_failure()
            self.failed = True
            _log_failure(exc)
            return
        if synced and timestamp:
            self.checkpoint.physic_msg_timestamp = timestamp

    def on_shutdown(self) -> None:
        """Flush the rest."""
        self.flush_all()


class GroupCommitService(Service):
    """SYNC_FLUSH: one fdatasync per batch of waiting writers."""

    def __init__(
        self,
        commitlog: CommitLog,
        checkpoint: StoreCheckpoint,
        timeout: float = 5.0,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        super().__init__("GroupCommitService", 0.01)
        self.commitlog = commitlog
        self.checkpoint = checkpoint
        self.timeout = timeout
        self.on_failure = on_failure
        self.failed = False
        """True once an fdatasync failed: every request resolves False from then on."""
        self._lock = threading.Lock()
        self._requests: collections.deque[tuple[int, float, Future[bool]]] = collections.deque()
        self._listeners: list[Callable[[int], None]] = []
        self.syncs = 0
        self.flushed_offset = 0
        """Commit-log offset below which everything is on disk, as of the last pass (never
        decreases)."""

    def add_listener(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(flushed_offset)`` on the flusher thread after every pass (whether
        or not it synced anything): everything below ``flushed_offset`` is on disk. After a
        failed fdatasync it is called once more with :data:`FLUSH_FAILED`."""
        self._listeners = [*self._listeners, callback]

    def remove_listener(self, callback: Callable[[int], None]) -> None:
        """Stop calling ``callback``."""
        self._listeners = [c for c in self._listeners if c != callback]

    def submit(self, end_offset: int) -> Future[bool]:
        """Future resolved once bytes up to ``end_offset`` are on disk (False on timeout, and
        at once after a failed fdatasync).

        On a stopped service (a put racing the store's shutdown) the caller runs one final
        pass itself, so the future is resolved when this returns.
        """
        future: Future[bool] = Future()
        if self.failed:
            future.set_result(False)
            return future
        with self._lock:
            self._requests.append((end_offset, time.monotonic() + self.timeout, future))
        if self._stopped:  # checked after queueing: on_shutdown's pass or ours takes it
            self.run_once()
        else:
            self.wakeup()
        return future

    def run_once(self, now: float = 0.0) -> None:
        """Flush once, then resolve every request and tell every listener up to the offset
        actually on disk (the queue's flushed offset, which counts bytes appended while the
        fdatasync ran if it covered them)."""
        with self._lock:
            requests, self._requests = self._requests, collections.deque()
        if self.failed:  # submitted while the failure was being handled
            for _end, _deadline, future in requests:
                future.set_result(False)
            return
        commitlog = self.commitlog
        queue = commitlog.queue
        timestamp = commitlog.last_store_timestamp
        before = self.flushed_offset
        try:
            synced = queue.flush()
            if synced:
                self.syncs += 1
                if timestamp:
                    self.checkpoint.physic_msg_timestamp = timestamp
        except OSError as exc:
            self._fail(exc, requests)
            return
        covered = queue.flushed_offset
        if covered > self.flushed_offset:
            self.flushed_offset = covered
        for listener in self._listeners:
            listener(covered)
        done = time.monotonic()
        late: list[tuple[int, float, Future[bool]]] = []
        for request in requests:
            end, deadline, future = request
            if end <= covered:
                future.set_result(done <= deadline)
            elif done > deadline:
                future.set_result(False)
            else:
                late.append(request)
        if late and self._stopped:  # no pass will come: what this one missed is not durable
            for _end, _deadline, future in late:
                future.set_result(False)
        elif late:
            with self._lock:
                self._requests.extendleft(reversed(late))
            self.wakeup()
        if synced and not self._stopped:  # everyone told: the pages stored into next,
            commitlog.refault_after_sync(covered - before)  # faulted back in off the loop

    def _fail(
        self, exc: OSError, requests: collections.deque[tuple[int, float, Future[bool]]]
    ) -> None:
        """Stop for good after a failed fdatasync: resolve everything False, tell everyone."""
        if self.on_failure is not None:
            self.on_failure()  # first: a writer told False must find the store refusing puts
        self.failed = True
        _log_failure(exc)
        with self._lock:
            requests.extend(self._requests)
            self._requests = collections.deque()
        for _end, _deadline, future in requests:
            future.set_result(False)
        for listener in self._listeners:
            listener(FLUSH_FAILED)

    def on_shutdown(self) -> None:
        """Flush and resolve whatever is pending."""
        self.run_once()


class FlushConsumeQueueService(Service):
    """Periodic flush of consume queues and index files, then the checkpoint."""

    def __init__(
        self,
        flush_logics: Callable[[], None],
        flush_index: Callable[[], None],
        commitlog: CommitLog,
        checkpoint: StoreCheckpoint,
        interval: float = 1.0,
        dispatched_timestamp: Callable[[], int] | None = None,
    ) -> None:
        super().__init__("FlushConsumeQueueService", interval)
        self.flush_logics = flush_logics
        self.flush_index = flush_index
        self.commitlog = commitlog
        self.checkpoint = checkpoint
        self.dispatched_timestamp = dispatched_timestamp

    def run_once(self, now: float = 0.0) -> None:
        """Flush consume queues and index files; record their timestamps; write the
        checkpoint."""
        timestamp = self.dispatched_timestamp() if self.dispatched_timestamp else 0
        self.flush_logics()
        self.flush_index()
        if timestamp:
            self.checkpoint.logics_msg_timestamp = timestamp
            self.checkpoint.index_msg_timestamp = timestamp
        self.checkpoint.flush()

    def on_shutdown(self) -> None:
        """Final flush."""
        self.run_once()


_NO_BOUND = 1 << 63
"""Above any commit-log offset."""
_Wait = tuple[int, int, "asyncio.Future[bool]", float]
"""A pending :meth:`AsyncFlushWaiter.wait`: end offset, sequence number (ties never compare
the futures), future, deadline (loop time)."""


class DispatchProgress(Protocol):
    """What :class:`AsyncFlushWaiter` reads of the dispatcher
    (:class:`~rmq_core.store.dispatch.ReputService`): records below ``reput_from`` (a
    commit-log offset) are readable; listeners get the new ``reput_from`` after it moved."""

    reput_from: int

    def add_listener(self, callback: Callable[[int], None]) -> None: ...

    def remove_listener(self, callback: Callable[[int], None]) -> None: ...


class AsyncFlushWaiter:
    """Await SYNC_FLUSH group commit from asyncio with one cross-thread wake-up per fdatasync.

    Appends made with ``put_message(msg, flush_future=False)`` skip the per-message
    ``concurrent.futures.Future``; ``await waiter.wait(result.append_result.end_offset)``
    resolves True once an fdatasync covers the offset and, given ``dispatch``, the records
    below it are dispatched (readable: consume queue and index written), False after
    ``timeout`` seconds (FLUSH_DISK_TIMEOUT) or a failed fdatasync. Create and use it on the
    event loop's thread.

    Invariant (with ``dispatch``): a wait answers True only when ``end_offset`` is at or below
    both the flushed offset and ``dispatch.reput_from``, whichever thread dispatches the
    records (an inline pass, the loop's deferred pass, or the dispatcher thread, e.g. for a
    record that needs a new consume-queue or index file). A wait held back only by dispatch
    raises a flag; the next pass that moves ``reput_from`` schedules a release on the loop.
    The flag is set before ``reput_from`` is read again, and a pass moves ``reput_from``
    before it reads the flag, so no wake-up is lost.

    ``settle`` (optional) is called first when the bytes are already on disk (or the group
    commit failed or stopped): the store runs its pending deferred dispatch there, so the
    common case answers without yielding to the loop.
    """

    def __init__(
        self,
        group: GroupCommitService,
        loop: asyncio.AbstractEventLoop,
        settle: Callable[[], None] | None = None,
        dispatch: DispatchProgress | None = None,
    ) -> None:
        self._group = group
        self._loop = loop
        self._settle = settle
        self._dispatch = dispatch
        self._flushed = group.flushed_offset
        self._scheduled = self._flushed  # highest offset handed to the loop (flusher thread)
        self._waits: collections.deque[_Wait] = collections.deque()
        """Pending waits in (end offset, sequence) order: appended at the end, as the appends
        of one loop come in offset order (anything else is inserted in order)."""
        self._seq = 0
        self._sweeping = False
        self._dispatch_wanted = False
        """True while a flushed wait waits for dispatch: the next dispatch pass releases."""
        group.add_listener(self._on_flush)
        if dispatch is not None:
            dispatch.add_listener(self._on_dispatch)

    def _readable(self) -> int:
        """Commit-log offset below which records are dispatched (no bound without
        ``dispatch``)."""
        dispatch = self._dispatch
        return _NO_BOUND if dispatch is None else dispatch.reput_from

    def _on_flush(self, flushed_offset: int) -> None:  # flusher thread
        if 0 <= flushed_offset <= self._scheduled:
            return  # the loop already has (or will run) a release at least this far
        self._scheduled = flushed_offset
        try:
            self._loop.call_soon_threadsafe(self._release, flushed_offset)
        except RuntimeError:  # the loop is closed: nobody waits any more
            self._group.remove_listener(self._on_flush)

    def _on_dispatch(self, _reput_from: int) -> None:  # any dispatching thread
        if not self._dispatch_wanted:
            return
        self._dispatch_wanted = False
        try:
            self._loop.call_soon_threadsafe(self._answer)
        except RuntimeError:  # the loop is closed: nobody waits any more
            if self._dispatch is not None:
                self._dispatch.remove_listener(self._on_dispatch)

    def _release(self, flushed_offset: int) -> None:
        if flushed_offset == FLUSH_FAILED:
            for _end, _seq, future, _deadline in self._waits:
                if not future.done():
                    future.set_result(False)
            self._waits.clear()
            return
        if flushed_offset > self._flushed:
            self._flushed = flushed_offset
        self._answer()

    def _answer(self) -> None:
        """Answer True to every wait both flushed and dispatched; if the first one left is
        flushed but not dispatched, ask for a release after the next dispatch pass."""
        waits = self._waits
        while True:
            ready = min(self._flushed, self._readable())
            while waits and waits[0][0] <= ready:
                future = waits.popleft()[2]
                if not future.done():
                    future.set_result(True)
            if not waits or waits[0][0] > self._flushed or self._dispatch_wanted:
                return
            self._dispatch_wanted = True  # then look again: a pass may have ended meanwhile

    async def wait(self, end_offset: int, timeout: float | None = None) -> bool:
        """True once bytes up to ``end_offset`` are on disk and dispatched; False after
        ``timeout`` seconds (default: the group commit's) or a failed fdatasync."""
        group = self._group
        if end_offset <= self._flushed or end_offset <= group.flushed_offset:
            if self._settle is not None:
                self._settle()
            if end_offset <= self._readable():
                return True
            self._flushed = max(self._flushed, group.flushed_offset)
        elif group.failed or group.stopped:
            if self._settle is not None:
                self._settle()
            if group.failed:
                return False
            group.run_once()  # shutting down: one final pass here, as submit does
            return end_offset <= group.flushed_offset
        loop = self._loop
        timeout = group.timeout if timeout is None else timeout
        future: asyncio.Future[bool] = loop.create_future()
        self._seq += 1
        wait = (end_offset, self._seq, future, loop.time() + timeout)
        waits = self._waits
        if not waits or waits[-1][0] <= end_offset:
            waits.append(wait)
        else:  # out of offset order: in place (the sequence numbers keep futures uncompared)
            bisect.insort(waits, wait)
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(min(timeout, 0.05), self._sweep, min(timeout, 0.05))
        if end_offset <= self._flushed:
            self._answer()  # flushed, not dispatched: ask the next dispatch pass for a release
        else:
            group.wakeup()
        return await future

    def _sweep(self, interval: float) -> None:
        """Answer False to waits past their deadline and drop every finished entry (timed
        out or cancelled), so the queue holds only live waits."""
        now = self._loop.time()
        live: collections.deque[_Wait] = collections.deque()
        for entry in self._waits:
            future, deadline = entry[2], entry[3]
            if future.done():
                continue
            if deadline <= now:
                future.set_result(False)
            else:
                live.append(entry)
        if len(live) != len(self._waits):
            self._waits = live
        if live:
            self._loop.call_later(interval, self._sweep, interval)
        else:
            self._sweeping = False
