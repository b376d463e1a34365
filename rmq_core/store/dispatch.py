"""``ReputService``: the dispatcher that turns new commit-log records into consume-queue units,
index entries and arrival notifications (RocketMQ's ReputMessageService).

It goes from ``reput_from`` up to the commit log's end. Appends the writer described in
``CommitLog.pending_dispatch`` (the normal case: one description per single or batch append)
go whole to ``dispatch_batch``; other records (after a restart, or when the writer ran too far
ahead) are parsed back from the mapped segment, without the body CRC (recovery checked it): the
usual ones in runs described as a writer would (:func:`~rmq_core.store.commitlog.describe_runs`),
each run to ``dispatch_batch``; any other record
(:func:`~rmq_core.store.commitlog.parse_for_dispatch`) as a
:class:`~rmq_core.store.commitlog.DispatchRequest` to ``dispatch``. BLANK records move it to the
next segment. Re-dispatching a record is harmless: consume queues and the index
skip what they already hold.

Inline dispatch (on the writer's thread, right after an append) never creates a file: it stops
at the first append or parsed run (``dispatch_batch`` answers False) or other parsed record
(``needs_new_file``) whose consume queue or index needs a new file and leaves it, and
everything after it, to the dispatcher thread. Records are still dispatched exactly once and in
commit-log order; that record only becomes readable a thread hop later (a SYNC_FLUSH
``AsyncFlushWaiter`` waits for it: listeners hear of every pass that moved ``reput_from``).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Callable

from rmq_core.common.message import MessageSysFlag
from rmq_core.store.commitlog import (
    INVALID,
    PD_PHYS,
    PD_SIZES,
    PD_TOTAL,
    SCHEDULE_TOPIC,
    CommitLog,
    DispatchRequest,
    PendingDispatch,
    describe_runs,
    parse_for_dispatch,
)
from rmq_core.store.service import Service

__all__ = ["MAX_COALESCED", "ReputService", "coalesced"]

log = logging.getLogger(__name__)

_PREPARED_BIT = MessageSysFlag.TRANSACTION_PREPARED_TYPE  # set for PREPARED and ROLLBACK

IDLE_WAIT = 1.0
"""Seconds the dispatcher thread waits for a wake-up while nothing is behind (its safety-net
poll): every append either is dispatched inline or wakes the thread."""


MAX_COALESCED = 256
"""Most described appends :func:`coalesced` joins into one dispatch."""


def coalesced(
    pending: collections.deque[PendingDispatch], head: PendingDispatch
) -> tuple[PendingDispatch, int]:
    """``head`` (``pending[0]``) joined with the described appends right after it that continue
    it: next in the log, same topic, queue, sys flag and store timestamp (ms), and (when
    consumable) the next queue offsets. Returns the joined description and how many entries
    of ``pending`` it covers. Dispatching it writes the same consume-queue units and index
    entries as dispatching them one by one (an index entry stores its record's timestamp,
    hence equal timestamps only), in one call instead of one per append.

    Only the dispatching thread pops ``pending``; the writer may append meanwhile, so it is
    read by index up to its length at the start, never iterated.
    """
    phys, total, topic, queue_id, queue_offset, sys_flag, store_ts, sizes, props = head
    if topic == SCHEDULE_TOPIC:
        return head, 1
    step = 0 if sys_flag & _PREPARED_BIT else 1
    end = phys + total
    count = 1
    merged_sizes: list[int] = sizes
    merged_props: list[bytes] = props
    for i in range(1, min(len(pending), MAX_COALESCED)):
        (n_phys, n_total, n_topic, n_queue_id, n_queue_offset, n_sys_flag, n_store_ts, n_sizes,
         n_props) = pending[i]  # fmt: skip
        if (
            n_phys != end
            or n_store_ts != store_ts
            or n_queue_id != queue_id
            or n_sys_flag != sys_flag
            or n_topic != topic
            or n_queue_offset != (queue_offset + len(merged_sizes)) * step
        ):
            break
        if count == 1:
            merged_sizes, merged_props = list(sizes), list(props)
        merged_sizes += n_sizes
        merged_props += n_props
        end += n_total
        count += 1
    if count == 1:
        return head, 1
    return (phys, end - phys, topic, queue_id, queue_offset, sys_flag, store_ts, merged_sizes,
            merged_props), count  # fmt: skip


class ReputService(Service):
    """Dispatches records in commit-log order; ``run_once`` catches up completely."""

    def __init__(
        self,
        commitlog: CommitLog,
        dispatch: Callable[[DispatchRequest], None],
        dispatch_batch: Callable[[PendingDispatch, bool], bool],
        interval: float = 0.001,
        needs_new_file: Callable[[DispatchRequest], bool] | None = None,
    ) -> None:
        """``dispatch_batch(described, may_create)`` dispatches every record of a described
        append and returns True, or, with ``may_create`` False, returns False without touching
        anything when that would create a consume-queue or index file."""
        super().__init__("ReputMessageService", interval)
        self.commitlog = commitlog
        self.dispatch = dispatch
        self.dispatch_batch = dispatch_batch
        self.needs_new_file = needs_new_file
        self.reput_from = 0
        self.dispatched = 0
        self.handed_over = 0
        """Times inline dispatch left a record needing a new file to the thread."""
        self._lock = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []

    def add_listener(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(reput_from)`` after every pass (inline or on the dispatcher thread)
        that moved ``reput_from`` forward, on the thread of that pass, outside the lock:
        records below that commit-log offset are readable."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[int], None]) -> None:
        """Stop calling ``callback`` (no error if it is not registered)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def _notify(self, before: int) -> None:
        """Tell the listeners when ``reput_from`` moved past ``before``."""
        after = self.reput_from
        if after > before and self._listeners:
            for listener in tuple(self._listeners):
                listener(after)

    @property
    def lock(self) -> threading.Lock:
        """Held while dispatching: whoever holds it knows no consume queue is being written."""
        return self._lock

    @property
    def behind_bytes(self) -> int:
        """Commit-log bytes not dispatched yet."""
        return max(self.commitlog.max_offset - self.reput_from, 0)

    def wait_timeout(self) -> float:
        """``interval`` while records wait for dispatch, else :data:`IDLE_WAIT`: polling every
        millisecond when the writer dispatches inline only took the GIL from it (a wake-up
        set before the wait begins is not lost: the event stays set)."""
        return self.interval if self.commitlog.max_offset > self.reput_from else IDLE_WAIT

    def run_once(self, now: float = 0.0) -> None:
        """Dispatch every record written so far."""
        before = self.reput_from
        try:
            with self._lock:
                self._catch_up(inline=False)
        finally:
            self._notify(before)

    def dispatch_inline(self, *, coalesce: bool = False) -> None:
        """Dispatch what was appended so far on the caller's thread (the writer, right after
        its append), unless another thread is dispatching: then wake the service instead.
        With ``coalesce``, consecutive appends that :func:`coalesced` joins are dispatched as
        one batch (one arrival call per distinct tags code, properties None, as for a batch).

        Under the GIL a hand-off to the dispatcher thread buys no parallelism and costs a
        thread switch per append (tens of µs, and latency while the threads trade the GIL);
        dispatching inline makes a message readable, and wakes long-polling pulls, before
        the writer answers. The thread remains for whatever inline dispatch leaves behind,
        including every record whose dispatch would create a file (see the module docstring).
        """
        if not self._lock.acquire(blocking=False):
            self.wakeup()
            return
        before = self.reput_from
        try:
            if not self._catch_up(inline=True, coalesce=coalesce):
                self.handed_over += 1
                self.wakeup()
        except Exception:
            log.exception("inline dispatch failed; the dispatcher thread will retry")
            self.wakeup()
        finally:
            self._lock.release()
        self._notify(before)

    def _catch_up(self, *, inline: bool, coalesce: bool = False) -> bool:
        """Dispatch up to the commit log's end; False if, ``inline``, it stopped at a record
        needing a new file (that record not dispatched, ``reput_from`` at it or at the start of
        its append)."""
        commitlog = self.commitlog
        queue = commitlog.queue
        levels = commitlog.delay_levels
        dispatch = self.dispatch
        dispatch_batch = self.dispatch_batch
        stop_before = self.needs_new_file if inline else None
        pending = commitlog.pending_dispatch
        while True:
            end = commitlog.max_offset  # appends after this read wake the service (or are ours)
            offset = self.reput_from
            if offset >= end:
                return True
            while pending:  # appends the writer described: no need to parse them
                head = pending[0]
                if head[PD_PHYS] < offset:  # already dispatched (or partly: parse the rest)
                    pending.popleft()
                    continue
                if head[PD_PHYS] == offset:
                    count = 1
                    if coalesce and len(pending) > 1:
                        head, count = coalesced(pending, head)
                    if not dispatch_batch(head, not inline):
                        return False
                    for _ in range(count):
                        pending.popleft()
                    self.dispatched += len(head[PD_SIZES])
                    offset = self.reput_from = offset + head[PD_TOTAL]
                    continue
                break
            if offset >= end:
                return True
            mapped = queue.find(offset)
            if mapped is None:
                if offset < commitlog.min_offset:
                    self.reput_from = commitlog.min_offset
                    continue
                return True
            pos = offset - mapped.file_from_offset
            base = mapped.file_from_offset
            wrote = mapped.wrote_position
            while pos < wrote:
                size, runs = describe_runs(mapped.mm, pos, wrote - pos, base)
                if runs:  # the usual records: each run of them as one batch
                    for described in runs:
                        if not dispatch_batch(described, not inline):
                            self.reput_from = described[PD_PHYS]
                            return False
                        self.dispatched += len(described[PD_SIZES])
                    pos += size
                    continue
                size, request, reason = parse_for_dispatch(
                    mapped.mm, pos, wrote - pos, base, levels
                )
                if request is not None:
                    if stop_before is not None and stop_before(request):
                        self.reput_from = base + pos
                        return False
                    dispatch(request)
                    self.dispatched += 1
                    pos += size
                elif size > 0:  # BLANK: the rest of the segment
                    pos = mapped.file_size
                else:
                    if size == INVALID:
                        log.error("dispatcher: bad record at %d (%s); skipping segment",
                                  base + pos, reason)  # fmt: skip
                        pos = mapped.file_size
                    break
            self.reput_from = base + pos
            if pos < mapped.file_size:
                return True
