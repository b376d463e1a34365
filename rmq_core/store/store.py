"""``MessageStore``: the commit log, consume queues, index and their services, as one library.

Threads: the caller's thread (usually the broker's event loop) appends and reads; background
services dispatch (:class:`~rmq_core.store.dispatch.ReputService`), flush, pre-create segments
and clean up. Appends are visible to readers once dispatched (normally within a millisecond);
arrival listeners run on the dispatcher thread, so an asyncio caller should hop back to its
loop with ``loop.call_soon_threadsafe``.

Directory layout under ``store_path_root_dir``: ``commitlog/``, ``consumequeue/<topic>/<qid>/``,
``index/``, ``checkpoint``, ``abort`` (present while running), ``lock``, ``quarantine/``
(files recovery could not use), ``consumequeue_deleted/`` (queues of deleted topics waiting
for the cleanup thread; emptied at start) and ``config/`` (the broker's JSON files).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import shutil
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from rmq_core.common.message import (
    MessageConst,
    MessageExt,
    MessageExtBrokerInner,
    MessageSysFlag,
)
from rmq_core.common.message_codec import MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2
from rmq_core.errors import StoreError
from rmq_core.store.allocate import AllocateService
from rmq_core.store.batch import EncodedBatch
from rmq_core.store.checkpoint import StoreCheckpoint
from rmq_core.store.cleanup import CleanupService
from rmq_core.store.commitlog import (
    SCHEDULE_TOPIC,
    AppendRefused,
    CommitLog,
    DispatchRequest,
    PendingDispatch,
    check_record,
    prop_value,
    requests_from_pending,
    tag_hash,
    tags_codes,
)
from rmq_core.store.config import StoreConfig
from rmq_core.store.consume_queue import ConsumeQueue
from rmq_core.store.dispatch import ReputService
from rmq_core.store.flush import (
    AsyncFlushWaiter,
    FlushCommitLogService,
    FlushConsumeQueueService,
    GroupCommitService,
)
from rmq_core.store.formats.consume_queue import CQ_UNIT_SIZE
from rmq_core.store.index import IndexService
from rmq_core.store.mapped_file_queue import MappedFileQueue
from rmq_core.store.message_filter import LazyProperties, MessageFilter
from rmq_core.store.recovery import recover_commitlog, recover_consume_queues, recover_index
from rmq_core.store.report import RecoveryReport
from rmq_core.store.results import (
    AppendMessageResult,
    AppendMessageStatus,
    GetMessageResult,
    GetMessageStatus,
    PutMessageResult,
    PutMessageStatus,
    QueryMessageResult,
)

__all__ = ["ArrivalListener", "MessageStore"]

log = logging.getLogger(__name__)

ArrivalListener = Callable[[str, int, int, int, int, Mapping[str, str] | None], None]
"""``(topic, queue_id, logic_offset, tags_code, store_timestamp_ms, properties)``; as in
RocketMQ, ``logic_offset`` is the queue's new max offset (the message's queue offset + 1). A
batch append calls once per distinct tags code with its new max offset and ``properties``
None."""

_REFUSAL_STATUS = {
    AppendMessageStatus.MESSAGE_SIZE_EXCEEDED: PutMessageStatus.MESSAGE_ILLEGAL,
    AppendMessageStatus.PROPERTIES_SIZE_EXCEEDED: PutMessageStatus.PROPERTIES_SIZE_EXCEEDED,
    AppendMessageStatus.UNKNOWN_ERROR: PutMessageStatus.MESSAGE_ILLEGAL,
}
_Batch = TypeVar("_Batch", Sequence[MessageExtBrokerInner | MessageExt], EncodedBatch)


def _wait_of_messages(batch: Sequence[MessageExtBrokerInner | MessageExt]) -> str | None:
    """The WAIT property of a batch's first message."""
    return batch[0].properties.get(MessageConst.PROPERTY_WAIT_STORE_MSG_OK)


def _wait_of_encoded(batch: EncodedBatch) -> str | None:
    """The WAIT property of an encoded batch's first entry."""
    wait = prop_value(batch.entries[0][2], b"WAIT\x01")
    return None if wait is None else wait.decode()


_BLANK_UNIT_SIZE = 0x7FFFFFFF
_MAX_CHUNK_UNITS = 2048
"""Most consume-queue units one read unpacks at a time (40 KiB), whatever a pull asks for."""
_RECORD_PREFIX = struct.Struct(">ii")
_MAGIC_V1, _MAGIC_V2 = MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2
_PREPARED_BIT = MessageSysFlag.TRANSACTION_PREPARED_TYPE
"""Set in PREPARED and ROLLBACK sys flags, clear in NOT_TYPE and COMMIT (the consumable)."""


class MessageStore:
    """A RocketMQ-compatible message store rooted at ``config.store_path_root_dir``."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.root = config.store_path_root_dir
        self.allocator = AllocateService(warm=config.warm_mapped_file_enable)
        self.commitlog = CommitLog(config, self.allocator)
        self.checkpoint = StoreCheckpoint(os.path.join(self.root, "checkpoint"))
        self.index = IndexService(
            config.index_dir,
            config.max_hash_slot_num,
            config.max_index_num,
            config.message_index_enable,
        )
        self.consume_queues: dict[str, dict[int, ConsumeQueue]] = {}
        self.reput = ReputService(
            self.commitlog,
            self._dispatch,
            self._dispatch_batch,
            config.reput_interval,
            self._needs_new_file,
        )
        self.group_commit: GroupCommitService | None = None
        self.flush_commitlog: FlushCommitLogService | None = None
        if config.sync_flush:
            self.group_commit = GroupCommitService(
                self.commitlog,
                self.checkpoint,
                config.sync_flush_timeout,
                on_failure=self._on_flush_failure,
            )
        else:
            self.flush_commitlog = FlushCommitLogService(
                self.commitlog,
                self.checkpoint,
                config.flush_interval,
                config.flush_commit_log_least_pages,
                config.flush_commit_log_thorough_interval,
                on_failure=self._on_flush_failure,
            )
        self.flush_logics = FlushConsumeQueueService(
            self._flush_consume_queues,
            self._flush_index,
            self.commitlog,
            self.checkpoint,
            config.flush_interval_consume_queue,
            lambda: self._last_dispatched_timestamp,
        )
        self.cleanup = CleanupService(
            config, self.commitlog, self._on_min_offset_changed, self._retry_pending_deletes
        )
        self.recovery_report: RecoveryReport | None = None
        self._listeners: list[ArrivalListener] = []
        self._cq_lock = threading.Lock()
        self._cq_flush_lock = threading.Lock()  # held while consume queues are flushed
        self._graveyard: list[MappedFileQueue] = []
        self._graveyard_dir = os.path.join(self.root, "consumequeue_deleted")
        self._last_dispatched_timestamp = 0
        self._dispatch_pending: tuple[asyncio.AbstractEventLoop, int] | None = None
        """The event loop the last deferred dispatch was scheduled on and the
        ``threading.get_ident()`` of its thread, written as one tuple (see
        :meth:`_dispatch_soon`)."""
        self._running = False
        self._flush_failed = False
        self._lock_fd: int | None = None
        self.put_message_times_total = 0
        self.put_message_size_total = 0
        self.start_timestamp = 0

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`shutdown`."""
        return self._running

    @property
    def writable(self) -> bool:
        """True while puts are accepted: running, and no commit-log fdatasync has failed (after
        one, every put answers SERVICE_NOT_AVAILABLE until the store is restarted)."""
        return self._running and not self._flush_failed

    def _on_flush_failure(self) -> None:
        self._flush_failed = True

    def start(self) -> RecoveryReport:
        """Lock the directory, recover, re-dispatch, start services; returns the report.

        Raises StoreError when another process holds the store.
        """
        os.makedirs(self.root, exist_ok=True)
        self._lock_directory()
        shutil.rmtree(self._graveyard_dir, ignore_errors=True)  # deleted before a crash
        report = RecoveryReport()
        abort_path = os.path.join(self.root, "abort")
        report.abnormal_shutdown = os.path.exists(abort_path)
        report.checkpoint_status = self.checkpoint.load()
        reput_from = recover_commitlog(
            self.commitlog,
            self.checkpoint,
            report,
            include_index=self.config.message_index_enable,
            check_crc=self.config.check_crc_on_recover,
        )
        if report.checkpoint_status != "ok" and self.commitlog.queue.files:
            report.note(f"checkpoint {report.checkpoint_status}; scanned the whole commit log")
        self._load_consume_queues(report)
        refill_from = recover_consume_queues(self._all_queues(), self.commitlog, report)
        reput_from = min(reput_from, refill_from)
        recover_index(self.index, self.commitlog, report)
        reput_from = self._rebuild_start(reput_from, report)
        report.redispatched_from = reput_from
        self.reput.reput_from = reput_from
        self.reput.run_once()
        self._rebuild_topic_queue_table()
        self._last_dispatched_timestamp = self.commitlog.last_store_timestamp
        with open(abort_path, "wb") as fh:
            os.fsync(fh.fileno())
        last = self.commitlog.queue.last
        if last is None:
            last = self.commitlog.queue.last_for_append()
        if self.config.warm_mapped_file_enable and not last.is_full:
            last.warm(last.wrote_position)
        self.commitlog.prepare_next()
        for service in self._services():
            service.start()
        self.recovery_report = report
        self.start_timestamp = int(time.time() * 1000)
        self._running = True
        log.info("store %s started: commit log [%d, %d), %d consume queues", self.root,
                 self.commitlog.min_offset, self.commitlog.max_offset,
                 sum(len(q) for q in self.consume_queues.values()))  # fmt: skip
        return report

    def _services(self) -> list[Any]:
        flush = self.group_commit if self.group_commit is not None else self.flush_commitlog
        return [self.allocator, self.reput, flush, self.flush_logics, self.cleanup]

    def shutdown(self) -> None:
        """Stop services, dispatch and flush everything, write a clean checkpoint, unlock.

        After a failed commit-log fdatasync the checkpoint is not confirmed and ``abort`` stays,
        so the next start recovers as after a crash and checks the records it cannot trust.
        """
        if not self._running:
            return
        self._running = False
        self.cleanup.shutdown()
        self.reput.shutdown()
        self.reput.run_once()
        flush = self.group_commit if self.group_commit is not None else self.flush_commitlog
        if flush is not None:
            flush.shutdown()
        clean = not self._flush_failed
        if clean:
            self.commitlog.queue.flush()
        self.flush_logics.shutdown()
        self.allocator.shutdown()
        if clean:
            self.checkpoint.physic_msg_timestamp = max(
                self.checkpoint.physic_msg_timestamp, self.commitlog.last_store_timestamp
            )
            self.checkpoint.confirm_phy_offset = self.commitlog.max_offset
        self.checkpoint.flush()
        self.commitlog.queue.close()
        for queue in self._all_queues():
            queue.queue.close()
        self._graveyard = [q for q in self._graveyard if q.destroy_all()]
        self.index.close()
        if clean:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.root, "abort"))
        self._unlock_directory()
        if clean:
            log.info("store %s shut down cleanly", self.root)
        else:
            log.error("store %s shut down after a failed commit-log flush; the next start "
                      "recovers it as after a crash", self.root)  # fmt: skip

    def _lock_directory(self) -> None:
        fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"store {self.root} is locked by another process") from exc
        self._lock_fd = fd

    def _unlock_directory(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- recovery helpers -----------------------------------------------------------------
    def _load_consume_queues(self, report: RecoveryReport) -> None:
        root = self.config.consume_queue_dir
        os.makedirs(root, exist_ok=True)
        for topic in sorted(os.listdir(root)):
            topic_dir = os.path.join(root, topic)
            if not os.path.isdir(topic_dir):
                report.unknown(topic_dir)
                continue
            for name in sorted(os.listdir(topic_dir)):
                queue_dir = os.path.join(topic_dir, name)
                if not name.isdigit() or not os.path.isdir(queue_dir):
                    report.unknown(queue_dir)
                    continue
                cq = self._new_queue(topic, int(name))
                cq.load(report)
                self.consume_queues.setdefault(topic, {})[int(name)] = cq

    def _rebuild_start(self, reput_from: int, report: RecoveryReport) -> int:
        commitlog = self.commitlog
        if commitlog.max_offset == commitlog.min_offset:
            return commitlog.min_offset
        missing_cq = not any(q.max_offset for q in self._all_queues())
        missing_index = self.config.message_index_enable and self.index.indexed_up_to < 0
        if missing_cq or missing_index:
            what = "consume queues" if missing_cq else "index files"
            report.note(f"no {what} for a non-empty commit log; rebuilding from the start")
            return commitlog.min_offset
        return max(min(reput_from, commitlog.max_offset), commitlog.min_offset)

    def _rebuild_topic_queue_table(self) -> None:
        table = self.commitlog.topic_queue_table
        table.clear()
        for queue in self._all_queues():
            table[(queue.topic, queue.queue_id)] = queue.max_offset

    def _all_queues(self) -> list[ConsumeQueue]:
        return [q for queues in list(self.consume_queues.values()) for q in queues.values()]

    def _new_queue(self, topic: str, queue_id: int) -> ConsumeQueue:
        directory = os.path.join(self.config.consume_queue_dir, topic, str(queue_id))
        return ConsumeQueue(
            topic, queue_id, directory, self.config.mapped_file_size_consume_queue, self.root
        )

    # -- dispatch -------------------------------------------------------------------------
    def _find_queue(self, topic: str, queue_id: int) -> ConsumeQueue | None:
        queues = self.consume_queues.get(topic)
        return None if queues is None else queues.get(queue_id)

    def _find_or_create_queue(self, topic: str, queue_id: int) -> ConsumeQueue:
        cq = self._find_queue(topic, queue_id)
        if cq is None:
            with self._cq_lock:
                cq = self._find_queue(topic, queue_id)
                if cq is None:
                    cq = self._new_queue(topic, queue_id)
                    queues = dict(self.consume_queues.get(topic, {}))
                    queues[queue_id] = cq
                    self.consume_queues[topic] = queues
        return cq

    def _needs_new_file(self, req: DispatchRequest) -> bool:
        """True when dispatching ``req`` would create a consume-queue or index file: inline
        dispatch leaves such records to the dispatcher thread (nothing slow on the writer)."""
        if req.consumable:
            queues = self.consume_queues.get(req.topic)
            cq = None if queues is None else queues.get(req.queue_id)
            if cq is None or cq.put_needs_new_file(
                req.commitlog_offset, req.size, req.queue_offset
            ):
                return True
        return self.index.needs_new_file(req)

    def _dispatch(self, req: DispatchRequest) -> None:
        consumable = req.consumable
        if consumable:
            cq = self._find_or_create_queue(req.topic, req.queue_id)
            phys, size, queue_offset = req.commitlog_offset, req.size, req.queue_offset
            if cq.put_needs_new_file(phys, size, queue_offset):
                with self._cq_lock:  # creating a file (and directories) vs delete_topics
                    cq.put(phys, size, req.tags_code, queue_offset)
            else:
                cq.put(phys, size, req.tags_code, queue_offset)
        self.index.build_index(req)
        self._last_dispatched_timestamp = req.store_timestamp
        if consumable and self._listeners:
            self._call_listeners(req.topic, req.queue_id, req.queue_offset + 1, (req.tags_code,),
                                 req.store_timestamp, req.properties)  # fmt: skip

    def _dispatch_batch(self, described: PendingDispatch, may_create: bool) -> bool:
        """Dispatch every record of one described append (see :class:`ReputService`): the
        consume-queue units in one write, the index entries in one loop, one arrival call per
        distinct tags code. With ``may_create`` False, answer False (and touch nothing) when a
        consume-queue or index file would have to be created."""
        phys, total, topic, queue_id, queue_offset, sys_flag, store_ts, sizes, props = described
        if topic == SCHEDULE_TOPIC:  # tags codes are delivery times: the general path
            return self._dispatch_each(described, may_create)
        if len(sizes) == 1:
            return self._dispatch_one(described, may_create)
        last = sizes[-1]
        target = self._unit_target(topic, queue_id, sys_flag, phys + total - last, last,
                                   queue_offset + len(sizes) - 1, may_create)  # fmt: skip
        if target is None:
            return False
        cq, new_cq_file = target
        index = self.index
        joined = b"".join(props)  # searched by both the index and the tags codes
        entries = index.batch_entries(topic, phys, sizes, props, sys_flag, joined)
        if entries and not may_create and not index.has_room(len(entries)):
            return False
        codes: list[int] = []
        if cq is not None:
            codes = tags_codes(props, joined)
            if new_cq_file:
                with self._cq_lock:  # creating a file (and directories) vs delete_topics
                    cq.put_many(phys, sizes, codes, queue_offset)
            else:
                cq.put_many(phys, sizes, codes, queue_offset)
        if entries:
            index.put_entries(entries, store_ts)
        self._last_dispatched_timestamp = store_ts
        if cq is not None and self._listeners:
            self._notify_batch(topic, queue_id, queue_offset + len(sizes), codes, store_ts, props)
        return True

    def _unit_target(
        self,
        topic: str,
        queue_id: int,
        sys_flag: int,
        last_phys: int,
        last_size: int,
        last_offset: int,
        may_create: bool,
    ) -> tuple[ConsumeQueue | None, bool] | None:
        """The consume queue that takes an append's units (None for PREPARED and ROLLBACK:
        no units) and whether its last unit (``last_phys``, ``last_size`` bytes, queue offset
        ``last_offset``) needs a new file; None, having touched nothing, when ``may_create``
        is False and the queue or that file would have to be created (shared by
        :meth:`_dispatch_batch` and :meth:`_dispatch_one`)."""
        if sys_flag & _PREPARED_BIT:
            return None, False
        queues = self.consume_queues.get(topic)
        cq = None if queues is None else queues.get(queue_id)
        if cq is None:
            if not may_create:
                return None
            cq = self._find_or_create_queue(topic, queue_id)
        new_cq_file = cq.put_needs_new_file(last_phys, last_size, last_offset)
        if new_cq_file and not may_create:
            return None
        return cq, new_cq_file

    def _dispatch_one(self, described: PendingDispatch, may_create: bool) -> bool:
        """:meth:`_dispatch_batch` of a description holding one record (not SCHEDULE_TOPIC):
        the same unit, index entries and arrival calls, without the batch's lists and loops
        (its tags code: :func:`tag_hash` of its TAGS value as ``prop_value`` finds it, a leading
        TAGS that is the only one without the search, else 0; its entries by
        ``IndexService.record_entries``; the unit by ``ConsumeQueue.put_in_last_file`` when the
        queue's last file takes it, else as :meth:`_dispatch_batch`)."""
        phys, size, topic, queue_id, queue_offset, sys_flag, store_ts, _sizes, props = described
        raw = props[0]
        index = self.index
        entries = index.record_entries(topic, phys, size, raw, sys_flag)
        if entries and not may_create and not index.has_room(len(entries)):
            return False
        cq = None
        code = 0
        if not sys_flag & _PREPARED_BIT:
            queues = self.consume_queues.get(topic)
            cq = None if queues is None else queues.get(queue_id)
            at = raw.rfind(b"TAGS\x01")  # the last one counts (as Java's properties map has it)
            if at < 0:
                code = 0
            elif at == 0 and (end := raw.find(b"\x02", 5)) > 5:  # the only one, leading
                code = tag_hash(raw[5:end])
            else:
                code = tag_hash(prop_value(raw, b"TAGS\x01"))
            if cq is None or not cq.put_in_last_file(phys, size, code, queue_offset):
                target = self._unit_target(topic, queue_id, sys_flag, phys, size, queue_offset,
                                           may_create)  # fmt: skip
                if target is None:
                    return False
                cq, new_cq_file = target
                if cq is not None and new_cq_file:
                    with self._cq_lock:  # creating a file (and directories) vs delete_topics
                        cq.put(phys, size, code, queue_offset)
                elif cq is not None:
                    cq.put(phys, size, code, queue_offset)
        if entries:
            index.put_entries(entries, store_ts)
        self._last_dispatched_timestamp = store_ts
        if cq is not None and self._listeners:
            properties = LazyProperties(raw)
            for listener in self._listeners:  # inline: _call_listeners costs ~70 ns per record
                try:
                    listener(topic, queue_id, queue_offset + 1, code, store_ts, properties)
                except Exception:
                    log.exception("arrival listener failed")
        return True

    def _dispatch_each(self, described: PendingDispatch, may_create: bool) -> bool:
        """Dispatch a described append record by record (inline only a single record that
        needs no new file)."""
        requests = requests_from_pending(described, self.commitlog.delay_levels)
        if not may_create and (len(requests) > 1 or self._needs_new_file(requests[0])):
            return False
        for request in requests:
            self._dispatch(request)
        return True

    def _notify_batch(
        self,
        topic: str,
        queue_id: int,
        max_offset: int,
        tags_codes: list[int],
        store_ts: int,
        props: list[bytes],
    ) -> None:
        """Arrival calls for an append that made ``topic``/``queue_id`` readable up to
        ``max_offset``: one per distinct tags code; the properties only for a single record
        (a batch passes None: listeners then decide on the tags code alone)."""
        properties = LazyProperties(props[0]) if len(props) == 1 else None
        codes = tags_codes if len(tags_codes) == 1 else list(dict.fromkeys(tags_codes))
        self._call_listeners(topic, queue_id, max_offset, codes, store_ts, properties)

    def _call_listeners(
        self,
        topic: str,
        queue_id: int,
        max_offset: int,
        codes: Sequence[int],
        store_ts: int,
        properties: Mapping[str, str] | None,
    ) -> None:
        """Call each arrival listener once per tags code in ``codes`` (``topic``/``queue_id``
        readable up to ``max_offset``); a listener that raises is logged, the rest still
        called."""
        for listener in self._listeners:
            for code in codes:
                try:
                    listener(topic, queue_id, max_offset, code, store_ts, properties)
                except Exception:
                    log.exception("arrival listener failed")

    def add_arrival_listener(self, callback: ArrivalListener) -> None:
        """Call ``callback`` (on the dispatcher thread) for each message made readable."""
        self._listeners.append(callback)

    def flush_waiter(self, loop: asyncio.AbstractEventLoop) -> AsyncFlushWaiter | None:
        """An :class:`AsyncFlushWaiter` for ``loop`` under SYNC_FLUSH (None under ASYNC_FLUSH);
        one per loop is enough. It answers True once a record is flushed and dispatched
        (readable), whichever thread dispatches it."""
        if self.group_commit is None:
            return None
        return AsyncFlushWaiter(
            self.group_commit, loop, functools.partial(self._settle_deferred, loop), self.reput
        )

    def sync_dispatch(self) -> None:
        """Dispatch everything appended so far before returning (tests, admin tools)."""
        self.reput.run_once()

    @property
    def dispatch_behind_bytes(self) -> int:
        """Commit-log bytes appended but not yet dispatched."""
        return self.reput.behind_bytes

    # -- writing --------------------------------------------------------------------------
    def put_message(
        self,
        msg: MessageExtBrokerInner | MessageExt,
        *,
        flush_future: bool = True,
        defer_dispatch: bool = False,
    ) -> PutMessageResult:
        """Append one message; never blocks on disk. See :class:`PutMessageResult`.

        With ``flush_future=False`` no per-message future is made under SYNC_FLUSH (the group
        commit is still woken): asyncio callers await :meth:`flush_waiter` instead. By default
        the message is dispatched (readable) before this returns, unless the dispatcher thread
        is dispatching at that moment or the message needs a new consume-queue or index file:
        then the dispatcher thread makes it readable a thread hop later.

        ``defer_dispatch=True`` (the broker's SYNC_FLUSH single sends, which then await the
        waiter) with a running event loop on this thread leaves the dispatch to one callback
        of that loop per iteration, coalescing the appends made until it runs (see
        :meth:`_dispatch_soon`); without a running loop it dispatches at once. The caller
        must not expect the message to be readable when this returns: a :meth:`flush_waiter`
        answers True only once the message is both flushed and dispatched, whichever thread
        dispatches it; under ASYNC_FLUSH, or without awaiting the waiter, nothing waits for
        the dispatch. SERVICE_NOT_AVAILABLE when the store is not running or is no longer
        :attr:`writable`.
        """
        if not self._running or self._flush_failed:
            return PutMessageResult(PutMessageStatus.SERVICE_NOT_AVAILABLE)
        try:
            result = self.commitlog.put(msg)
        except AppendRefused as exc:
            log.warning("put refused: %s", exc.reason)
            return PutMessageResult(_REFUSAL_STATUS[exc.status])
        except OSError:
            log.exception("put failed")
            return PutMessageResult(PutMessageStatus.CREATE_MAPPED_FILE_FAILED)
        self.put_message_times_total += 1
        self.put_message_size_total += result.wrote_bytes
        if defer_dispatch:
            self._dispatch_soon()
        else:
            self.reput.dispatch_inline()
        group = self.group_commit
        if group is None:
            return PutMessageResult(PutMessageStatus.PUT_OK, result)
        if not flush_future:
            group.wakeup()
            return PutMessageResult(PutMessageStatus.PUT_OK, result)
        return self._after_sync_append(
            result, msg.properties.get(MessageConst.PROPERTY_WAIT_STORE_MSG_OK)
        )

    def _dispatch_soon(self) -> None:
        """Schedule one inline dispatch on the running event loop (``call_soon``) for the
        appends of ``defer_dispatch`` puts: everything appended until it runs is dispatched in
        that one pass, consecutive appends to one queue within a millisecond as one batch (see
        :func:`~rmq_core.store.dispatch.coalesced`): with 64 writers on one loop under
        SYNC_FLUSH, ~10 us less CPU per message. Arrival listeners are then called once per
        distinct tags code of each coalesced run, with properties None when it holds several
        records. Readability before an answer does not depend on this pass: the
        :class:`AsyncFlushWaiter` waits for the dispatched offset (the pass usually runs
        before the flush release, so the waiter seldom waits for it). Without a running loop
        on this thread the append is dispatched inline at once.

        The pending mark is one ``(loop, thread id)`` tuple, so several loops and threads may
        share a store: a thread skips scheduling only when the mark names its own thread and
        a loop still running (a thread runs one loop at a time), i.e. its own pass is pending
        and will dispatch its append; any other mark is replaced and a pass is scheduled (at
        worst an extra pass, or an append dispatched by another loop's pass or the dispatcher
        thread; the waiter answers only once it is dispatched either way). Checking the
        mark first avoids ``asyncio.get_running_loop`` (a ``getpid`` system call per call on
        Python 3.11)."""
        pending = self._dispatch_pending
        if pending is not None and pending[1] == threading.get_ident() and pending[0].is_running():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.reput.dispatch_inline()
            return
        self._dispatch_pending = (loop, threading.get_ident())
        loop.call_soon(self._deferred_dispatch, loop)

    def _settle_deferred(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run ``loop``'s pending deferred dispatch now (a flush waiter about to answer
        without yielding to the loop calls this first); nothing when none is pending."""
        pending = self._dispatch_pending
        if pending is not None and pending[0] is loop:
            self._deferred_dispatch(loop)

    def _deferred_dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._dispatch_pending
        if pending is not None and pending[0] is loop:  # another loop's mark stays
            self._dispatch_pending = None
        if self._running:  # after shutdown the dispatcher's final pass took everything
            self.reput.dispatch_inline(coalesce=True)

    def put_messages(
        self, batch: Sequence[MessageExtBrokerInner | MessageExt], *, flush_future: bool = True
    ) -> PutMessageResult:
        """Append a batch (one topic and queue) as consecutive records in one segment;
        ``flush_future`` as for :meth:`put_message`."""
        return self._put_batch(self.commitlog.put_batch, batch, flush_future, _wait_of_messages)

    def put_encoded_batch(
        self, batch: EncodedBatch, *, flush_future: bool = True
    ) -> PutMessageResult:
        """Append an already-split batch (one topic and queue) as consecutive records in one
        segment, without a message object per entry: same results and refusals as
        :meth:`put_messages` of the same messages, and the same bytes on disk. Properties
        must be valid UTF-8 (MESSAGE_ILLEGAL otherwise). Under SYNC_FLUSH the first entry's
        ``WAIT`` property decides whether a flush future is made; ``flush_future`` as for
        :meth:`put_message`."""
        return self._put_batch(self.commitlog.put_encoded, batch, flush_future, _wait_of_encoded)

    def _put_batch(
        self,
        append: Callable[[_Batch], AppendMessageResult],
        batch: _Batch,
        flush_future: bool,
        wait_of: Callable[[_Batch], str | None],
    ) -> PutMessageResult:
        """:meth:`put_messages` / :meth:`put_encoded_batch`: ``append`` the batch to the commit
        log, dispatch it inline, and under SYNC_FLUSH make a flush future unless
        ``flush_future`` is False or ``wait_of`` the batch (its first record's WAIT property)
        is other than true."""
        if not self._running or self._flush_failed:
            return PutMessageResult(PutMessageStatus.SERVICE_NOT_AVAILABLE)
        try:
            result = append(batch)
        except AppendRefused as exc:
            log.warning("batch put refused: %s", exc.reason)
            return PutMessageResult(_REFUSAL_STATUS[exc.status])
        except OSError:
            log.exception("batch put failed")
            return PutMessageResult(PutMessageStatus.CREATE_MAPPED_FILE_FAILED)
        self.put_message_times_total += result.msg_num
        self.put_message_size_total += result.wrote_bytes
        self.reput.dispatch_inline()
        group = self.group_commit
        if group is None:
            return PutMessageResult(PutMessageStatus.PUT_OK, result)
        if not flush_future:
            group.wakeup()
            return PutMessageResult(PutMessageStatus.PUT_OK, result)
        return self._after_sync_append(result, wait_of(batch))

    def _after_sync_append(self, result: AppendMessageResult, wait: str | None) -> PutMessageResult:
        """The result of an append under SYNC_FLUSH with a flush future unless ``wait`` (the
        WAIT property) is other than true."""
        future = None
        group = self.group_commit
        if group is not None:
            if wait is None or wait.lower() == "true":
                future = group.submit(result.end_offset)
            else:
                group.wakeup()
        return PutMessageResult(
            PutMessageStatus.PUT_OK, result, future, self.config.sync_flush_timeout
        )

    # -- reading --------------------------------------------------------------------------
    def get_message(
        self,
        group: str,
        topic: str,
        queue_id: int,
        offset: int,
        max_count: int,
        message_filter: MessageFilter | None = None,
        max_total_bytes: int | None = None,
    ) -> GetMessageResult:
        """Read up to ``max_count`` records of a queue from logical ``offset`` (reference §6.3).

        ``messages`` are views into the commit log; ``max_total_bytes`` (default
        ``max_transfer_bytes_on_message_in_memory``) bounds them once one was found. One read
        scans at most ``max(maxFilterMessageSize / 20, max_count)`` consume-queue units (800 by
        default, as RocketMQ's 16,000 bytes), unpacked in chunks of at most 2,048 units: a
        filter that matches nothing answers NO_MATCHED_MESSAGE with ``next_begin_offset`` past
        the scanned units instead of walking the whole queue. Callers serving clients clamp
        ``max_count`` (the broker to ``maxTransferCountOnMessageInMemory``).
        """
        if not self._running:
            raise StoreError("the message store is not running")
        cq = self._find_queue(topic, queue_id)
        if cq is None:
            return GetMessageResult(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE)
        min_offset, max_offset = cq.min_offset, cq.max_offset
        result = GetMessageResult(GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, min_offset, max_offset)
        if max_offset == 0:
            return result
        if offset < min_offset:
            result.status, result.next_begin_offset = GetMessageStatus.OFFSET_TOO_SMALL, min_offset
        elif offset == max_offset:
            result.status, result.next_begin_offset = GetMessageStatus.OFFSET_OVERFLOW_ONE, offset
        elif offset > max_offset:
            result.status = GetMessageStatus.OFFSET_OVERFLOW_BADLY
            result.next_begin_offset = min_offset if min_offset == 0 else max_offset
        else:
            limit = max_total_bytes or self.config.max_transfer_bytes_on_message_in_memory
            self._read_queue(cq, offset, max(max_count, 1), message_filter, limit, result)
        return result

    def _read_queue(
        self,
        cq: ConsumeQueue,
        offset: int,
        max_count: int,
        message_filter: MessageFilter | None,
        max_bytes: int,
        result: GetMessageResult,
    ) -> None:
        min_phy = self.commitlog.min_offset
        scan_limit = max(self.config.max_filter_message_size // CQ_UNIT_SIZE, max_count)
        index = offset
        found_null = total = count = 0
        done = False
        messages, queue_offsets = result.messages, result.message_queue_offsets
        tags_filter, property_filter = _filter_stages(message_filter)
        segments = _SegmentViews(self.commitlog)
        prefix = _RECORD_PREFIX.unpack_from
        segment, start, end = _NO_SEGMENT, 0, -1  # view of commit-log bytes [start, end)
        # Read the consume queue in chunks that start at what the pull asks for and grow while
        # the filter skips units: a 32-message pull no longer unpacks 2,048 units, and no pull
        # unpacks more than _MAX_CHUNK_UNITS at once.
        chunk = min(max_count, _MAX_CHUNK_UNITS)
        try:
            while not done and index < cq.max_offset and index - offset < scan_limit:
                units = cq.units_from(index, min(scan_limit - (index - offset), chunk))
                chunk = min(chunk * 4, _MAX_CHUNK_UNITS)
                if not units:
                    break
                for phys, size, tags_code in units:
                    if count >= max_count or (count and total + size > max_bytes):
                        done = True
                        break
                    index += 1
                    if size == _BLANK_UNIT_SIZE or phys < min_phy:
                        found_null += 1
                        continue
                    if tags_filter is not None and not tags_filter(tags_code):
                        continue
                    if phys < start or phys + size > end:
                        held, start, end = segments.holding(phys, size)
                        if held is None:
                            found_null += 1
                            continue
                        segment = held
                    pos = phys - start
                    record_size, magic = (
                        prefix(segment, pos) if size >= _RECORD_PREFIX.size else (-1, 0)
                    )
                    if record_size != size or (magic != _MAGIC_V1 and magic != _MAGIC_V2):
                        found_null += 1
                        log.error("consume queue %s-%d unit %d points at no record (%d, %d)",
                                  cq.topic, cq.queue_id, index - 1, phys, size)  # fmt: skip
                        continue
                    view = segment[pos : pos + size]
                    if property_filter is not None and not property_filter(_properties_of(view)):
                        view.release()
                        continue
                    messages.append(view)
                    queue_offsets.append(index - 1)
                    total += size
                    count += 1
                done = done or count >= max_count
        finally:
            segments.close()
        result.next_begin_offset = index
        result.buffer_total_size = total
        if messages:
            result.status = GetMessageStatus.FOUND
        elif found_null and found_null == index - offset:
            result.status = GetMessageStatus.OFFSET_FOUND_NULL
        else:
            result.status = GetMessageStatus.NO_MATCHED_MESSAGE

    def get_max_offset_in_queue(self, topic: str, queue_id: int) -> int:
        """Next logical offset of the queue (0 if unknown)."""
        cq = self._find_queue(topic, queue_id)
        return 0 if cq is None else cq.max_offset

    def get_min_offset_in_queue(self, topic: str, queue_id: int) -> int:
        """First readable logical offset of the queue (0 if unknown)."""
        cq = self._find_queue(topic, queue_id)
        return 0 if cq is None else cq.min_offset

    def get_offset_in_queue_by_time(
        self, topic: str, queue_id: int, timestamp_ms: int, boundary: str = "LOWER"
    ) -> int:
        """Logical offset by store time: LOWER = first stored at/after, UPPER = last at/before."""
        cq = self._find_queue(topic, queue_id)
        if cq is None:
            return 0
        upper = boundary.upper() == "UPPER"
        return cq.offset_by_time(timestamp_ms, upper, self.commitlog.store_timestamp_at)

    def get_message_store_timestamp(self, topic: str, queue_id: int, offset: int) -> int:
        """Store time (ms) of the message at logical ``offset``, or -1."""
        cq = self._find_queue(topic, queue_id)
        unit = None if cq is None else cq.get_unit(offset)
        if unit is None or unit[1] == _BLANK_UNIT_SIZE:
            return -1
        ts = self.commitlog.store_timestamp_at(unit[0])
        return -1 if ts is None else ts

    def get_earliest_message_time(self, topic: str, queue_id: int) -> int:
        """Store time (ms) of the oldest readable message of the queue, or -1."""
        cq = self._find_queue(topic, queue_id)
        if cq is None:
            return -1
        return self.get_message_store_timestamp(topic, queue_id, cq.min_offset)

    def look_message_by_offset(self, commitlog_offset: int) -> MessageExt | None:
        """The message stored at ``commitlog_offset`` (body as stored), or None."""
        return self.commitlog.look_message(commitlog_offset)

    def select_one_message_by_offset(self, commitlog_offset: int) -> bytes | None:
        """The raw record at ``commitlog_offset``, or None."""
        view = self.commitlog.read_record(commitlog_offset)
        if view is None:
            return None
        with view:
            return bytes(view)

    def query_message(
        self, topic: str, key: str, max_num: int, begin_ms: int, end_ms: int
    ) -> QueryMessageResult:
        """Records of ``topic`` whose UNIQ_KEY or a KEYS token is ``key``, stored in
        [begin_ms, end_ms], newest first, at most ``max_num`` (hash collisions removed)."""
        offsets, last_ts, last_phy = self.index.query(topic, key, max_num * 2, begin_ms, end_ms)
        result = QueryMessageResult(
            index_last_update_timestamp=last_ts, index_last_update_phyoffset=last_phy
        )
        for phys in offsets:
            if len(result.messages) >= max_num:
                break
            view = self.commitlog.read_record(phys)
            if view is None:
                continue
            _size, request, _reason = check_record(view, 0, len(view), phys, check_crc=False)
            if request is None or request.topic != topic or not _has_key(request, key):
                view.release()
                continue
            result.messages.append(view)
            result.commitlog_offsets.append(phys)
        return result

    # -- admin ----------------------------------------------------------------------------
    @property
    def max_phy_offset(self) -> int:
        """Commit-log offset just past the newest record."""
        return self.commitlog.max_offset

    @property
    def min_phy_offset(self) -> int:
        """Commit-log offset of the oldest stored byte."""
        return self.commitlog.min_offset

    def delete_topics(self, topics: set[str]) -> int:
        """Delete the consume queues of ``topics`` (records stay in the commit log until
        retention); return how many queues were removed.

        The queues are unhooked at once (a later message of the topic starts a new queue) and
        their directories renamed into ``consumequeue_deleted/``; the dispatcher or the flusher
        may still be using their files, so the cleanup thread closes and deletes them while
        holding both off.
        """
        removed = 0
        with self._cq_lock:
            for topic in topics:
                queues = self.consume_queues.pop(topic, None)
                if not queues:
                    continue
                for queue_id, cq in queues.items():
                    self.commitlog.topic_queue_table.pop((topic, queue_id), None)
                    self._bury(cq.queue, f"{time.time_ns()}-{queue_id}-{topic}")
                    removed += 1
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(self.config.consume_queue_dir, topic))
        if removed:
            self.cleanup.wakeup()
        return removed

    def _bury(self, queue: MappedFileQueue, name: str) -> None:
        """Move an unhooked queue's files out of the way and hand them to the cleanup thread."""
        try:
            os.makedirs(self._graveyard_dir, exist_ok=True)
            queue.move_to(os.path.join(self._graveyard_dir, name))
        except OSError:
            log.exception("could not move %s aside; it is deleted in place", queue.directory)
        self._graveyard.append(queue)

    def clean_expired_now(self) -> None:
        """Delete expired commit-log files on the next cleanup pass whatever the hour."""
        self.cleanup.request_delete()

    def flush(self) -> None:
        """fdatasync everything now (tests and shutdown paths)."""
        self.commitlog.queue.flush()
        self._flush_consume_queues()
        self._flush_index()

    def _flush_consume_queues(self) -> None:
        with self._cq_flush_lock:
            for cq in self._all_queues():
                cq.flush()

    def _flush_index(self) -> None:
        self.index.flush()

    def _on_min_offset_changed(self, phy_min: int) -> None:
        for cq in self._all_queues():
            cq.delete_expired(phy_min)
        self.index.delete_expired(phy_min)

    def _retry_pending_deletes(self) -> None:
        self.commitlog.queue.destroy_pending()
        for cq in self._all_queues():
            if cq.queue.pending_destroy:
                cq.queue.destroy_pending()
        self._destroy_graveyard()
        self.index.destroy_pending()

    def _destroy_graveyard(self) -> None:
        """Close and delete the queues of deleted topics (cleanup thread), while neither the
        dispatcher nor the consume-queue flusher runs: one may have looked a queue up before
        :meth:`delete_topics` unhooked it. Files a reader still holds wait for a later pass."""
        if not self._graveyard:
            return
        with self.reput.lock, self._cq_flush_lock:
            with self._cq_lock:
                buried, self._graveyard = self._graveyard, []
            held = [q for q in buried if q.destroy_all()]
            with self._cq_lock:
                self._graveyard.extend(held)

    def runtime_info(self) -> dict[str, str]:
        """Store figures as strings, keyed like RocketMQ's broker runtime info."""
        commitlog = self.commitlog
        try:
            usage = os.statvfs(self.config.commit_log_dir)
            ratio = 1.0 - usage.f_bavail / usage.f_blocks if usage.f_blocks else 0.0
            capacity = usage.f_blocks * usage.f_frsize
            free = usage.f_bavail * usage.f_frsize
        except OSError:
            ratio, capacity, free = 0.0, 0, 0
        earliest = commitlog.store_timestamp_at(commitlog.min_offset)
        return {
            "commitLogMinOffset": str(commitlog.min_offset),
            "commitLogMaxOffset": str(commitlog.max_offset),
            "commitLogDiskRatio": f"{ratio:.4f}",
            "commitLogDirCapacity": f"Total : {capacity}, Free : {free}.",
            "dispatchBehindBytes": str(self.dispatch_behind_bytes),
            "putMessageTimesTotal": str(self.put_message_times_total),
            "putMessageSizeTotal": str(self.put_message_size_total),
            "earliestMessageTimeStamp": str(earliest if earliest is not None else 0),
            "pageCacheLockTimeMills": "0",
            "startAcceptSendRequestTimeStamp": str(self.start_timestamp),
            "consumeQueueCount": str(len(self._all_queues())),
        }


def _filter_stages(
    message_filter: MessageFilter | None,
) -> tuple[Callable[[int], bool] | None, Callable[[LazyProperties | None], bool] | None]:
    """The two checks a read must make per unit: the consume-queue (tags code) check, None when
    the filter accepts every tags code (``matches_every_tags_code``), and the commit-log
    (properties) check, None when the filter never looks at properties
    (``needs_commit_log_properties`` False)."""
    if message_filter is None:
        return None, None
    tags_check = (
        None
        if getattr(message_filter, "matches_every_tags_code", False)
        else message_filter.is_matched_by_consume_queue
    )
    property_check = (
        message_filter.is_matched_by_commit_log
        if getattr(message_filter, "needs_commit_log_properties", True)
        else None
    )
    return tags_check, property_check


_NO_SEGMENT = memoryview(b"")


class _SegmentViews:
    """Views of commit-log segments for one read: one memoryview of a segment serves every
    record in it (the records of a pull usually lie in one segment), instead of a file look-up
    and a new view of the mapping per record.

    While a segment's view is held the segment cannot be unmapped (``MappedFile.try_close``
    fails), as with any record view; :meth:`close` releases it (records sliced from it keep
    their own hold until released).
    """

    __slots__ = ("_commitlog", "_view")

    def __init__(self, commitlog: CommitLog) -> None:
        self._commitlog = commitlog
        self._view: memoryview | None = None

    def holding(self, phys: int, size: int) -> tuple[memoryview | None, int, int]:
        """``(view, start, end)``: a view of the written bytes ``[start, end)`` of the segment
        holding commit-log bytes ``[phys, phys + size)``; view None when they are not (or no
        longer) there."""
        self.close()
        mapped = self._commitlog.queue.find(phys)
        if mapped is None or size < 0:
            return None, 0, -1
        start, written = mapped.file_from_offset, mapped.wrote_position
        if phys + size > start + written:
            return None, 0, -1
        try:
            self._view = memoryview(mapped.mm)[:written]
        except ValueError:  # unmapped by cleanup
            return None, 0, -1
        return self._view, start, start + written

    def close(self) -> None:
        """Release the segment view (idempotent)."""
        if self._view is not None:
            self._view.release()
            self._view = None


def _properties_of(view: memoryview) -> LazyProperties | None:
    """The properties bytes of a record view, lazily parsed (None if the record is odd)."""
    try:
        total, magic = (
            int.from_bytes(view[0:4], "big"),
            int.from_bytes(view[4:8], "big", signed=True),
        )
        if magic not in (MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2) or total != len(view):
            return None
        props_len = int.from_bytes(_props_len_at(view), "big")
        return LazyProperties(bytes(view[total - props_len : total]))
    except (ValueError, IndexError):
        return None


def _props_len_at(view: memoryview) -> bytes:
    sys_flag = int.from_bytes(view[36:40], "big")
    head = 88 + (12 if sys_flag & 0x10 else 0) + (12 if sys_flag & 0x20 else 0)
    body_len = int.from_bytes(view[head - 4 : head], "big")
    pos = head + body_len
    magic = int.from_bytes(view[4:8], "big", signed=True)
    if magic == MESSAGE_MAGIC_CODE_V1:
        pos += 1 + view[pos]
    else:
        pos += 2 + int.from_bytes(view[pos : pos + 2], "big")
    return bytes(view[pos : pos + 2])


def _has_key(request: DispatchRequest, key: str) -> bool:
    if request.uniq_key == key:
        return True
    return bool(request.keys) and key in (request.keys or "").split(" ")
