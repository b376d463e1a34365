"""Group commit (SYNC_FLUSH): acknowledgements follow what fdatasync really covered."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.store import MessageStore, PutMessageResult, PutMessageStatus, StoreConfig
from rmq_core.store.flush import AsyncFlushWaiter, GroupCommitService

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]


def _quiet_async_store(config: StoreConfig, open_store: OpenStore) -> MessageStore:
    """An ASYNC_FLUSH store whose own flusher stays idle during a test, so a hand-driven
    :class:`GroupCommitService` over its commit log is the only thing that syncs."""
    return open_store(config.replace(flush_interval=60.0, flush_commit_log_thorough_interval=3600))


def _end(result: PutMessageResult) -> int:
    assert result.append_result is not None
    return result.append_result.end_offset


def test_append_synced_by_a_pass_it_raced_with_is_acknowledged(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _quiet_async_store(tiny_config, open_store)
    group = GroupCommitService(store.commitlog, store.checkpoint, timeout=0.5)
    queue = store.commitlog.queue
    real_flush = queue.flush
    raced: list[PutMessageResult] = []

    def flush_with_concurrent_append() -> bool:
        raced.append(store.put_message(make_message(b"b")))  # a writer appends mid-pass
        return real_flush()

    async def scenario() -> bool:
        waiter = AsyncFlushWaiter(group, asyncio.get_running_loop())
        store.put_message(make_message(b"a"))
        monkeypatch.setattr(queue, "flush", flush_with_concurrent_append)
        group.run_once()  # its fdatasync covers "b" too
        monkeypatch.setattr(queue, "flush", real_flush)
        end = _end(raced[0])
        assert queue.flushed_offset >= end
        pending = asyncio.ensure_future(waiter.wait(end))
        await asyncio.sleep(0.01)
        group.run_once()  # nothing dirty any more: must still acknowledge "b"
        return await asyncio.wait_for(pending, 5)

    assert asyncio.run(scenario()) is True


def _fail_commitlog_fdatasync(store: MessageStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make every fdatasync of a commit-log segment fail with EIO; returns the calls made."""
    real = os.fdatasync
    calls: list[int] = []

    def fdatasync(fd: int) -> None:
        if any(m.fd == fd for m in store.commitlog.queue.files):
            calls.append(fd)
            raise OSError(errno.EIO, "injected I/O error")
        real(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return calls


def test_failed_fdatasync_is_final_and_the_store_refuses_writes(
    tiny_config: StoreConfig,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tiny_config.replace(flush_disk_type="SYNC_FLUSH", sync_flush_timeout=30.0)
    store = MessageStore(config)
    store.start()
    try:
        assert store.put_message(make_message(b"ok")).wait_flushed(10) is PutMessageStatus.PUT_OK
        calls = _fail_commitlog_fdatasync(store, monkeypatch)
        doomed = store.put_message(make_message(b"doomed"))
        assert doomed.flush_future is not None
        assert doomed.flush_future.result(timeout=5) is False  # at once, not after 30 s
        assert not store.writable
        refused = store.put_message(make_message(b"refused"))
        assert refused.status is PutMessageStatus.SERVICE_NOT_AVAILABLE
        batch = store.put_messages([make_message(b"b1"), make_message(b"b2")])
        assert batch.status is PutMessageStatus.SERVICE_NOT_AVAILABLE
        monkeypatch.undo()  # the disk "works" again: a retry would now succeed...
        group = store.group_commit
        assert group is not None and group.failed
        assert group.submit(1).result(timeout=1) is False  # ...but nothing is acknowledged
        group.wakeup()
        time.sleep(0.05)
        assert len(calls) == 1  # and it never retried
        with pytest.raises(OSError):
            store.flush()  # the failed segment refuses any later sync
    finally:
        store.shutdown()
    root = config.store_path_root_dir
    assert os.path.exists(os.path.join(root, "abort"))  # next start recovers as after a crash
    reopened = MessageStore(config)
    report = reopened.start()
    try:
        assert report.abnormal_shutdown
        assert reopened.writable
        assert reopened.put_message(make_message(b"again")).wait_flushed(10) is (
            PutMessageStatus.PUT_OK
        )
    finally:
        reopened.shutdown()


def test_failed_fdatasync_releases_async_waiters(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH", sync_flush_timeout=30.0))

    async def scenario() -> tuple[bool, bool, float]:
        waiter = store.flush_waiter(asyncio.get_running_loop())
        assert waiter is not None
        _fail_commitlog_fdatasync(store, monkeypatch)
        started = time.monotonic()
        result = store.put_message(make_message(b"doomed"), flush_future=False)
        pending = await asyncio.wait_for(waiter.wait(_end(result)), 5)
        after = await asyncio.wait_for(waiter.wait(_end(result) + 1), 5)
        return pending, after, time.monotonic() - started

    pending, after, elapsed = asyncio.run(scenario())
    assert (pending, after) == (False, False)
    assert elapsed < 5
    assert store.put_message(make_message(b"x")).status is PutMessageStatus.SERVICE_NOT_AVAILABLE


def test_failed_async_flush_makes_the_store_unwritable(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _quiet_async_store(tiny_config, open_store)
    assert store.put_message(make_message(b"a")).is_ok
    calls = _fail_commitlog_fdatasync(store, monkeypatch)
    flusher = store.flush_commitlog
    assert flusher is not None
    flusher.flush_all()
    flusher.flush_all()
    assert len(calls) == 1 and flusher.failed
    assert store.put_message(make_message(b"b")).status is PutMessageStatus.SERVICE_NOT_AVAILABLE


def test_put_racing_shutdown_gets_its_future_resolved_at_once(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH"))
    group = store.group_commit
    assert group is not None
    group.shutdown()  # shutdown() got this far while a put was past its running check
    result = store.put_message(make_message(b"racing"))
    assert result.flush_future is not None and result.flush_future.done()
    assert result.flush_future.result() is True  # the final pass synced it
    last = store.commitlog.queue.last
    assert last is not None and last.flushed_position == last.wrote_position

    async def wait_late() -> bool:
        waiter = store.flush_waiter(asyncio.get_running_loop())
        assert waiter is not None
        late = store.put_message(make_message(b"late"), flush_future=False)
        return await asyncio.wait_for(waiter.wait(_end(late)), 1)

    assert asyncio.run(wait_late()) is True


def test_wait_flushed_defaults_to_the_sync_flush_timeout(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH", sync_flush_timeout=0.2))
    result = store.put_message(make_message(b"x"))
    assert result.flush_timeout == 0.2
    never: Future[bool] = Future()  # a flush that never answers
    stuck = dataclasses.replace(result, flush_future=never)
    started = time.monotonic()
    assert stuck.wait_flushed() is PutMessageStatus.FLUSH_DISK_TIMEOUT
    assert time.monotonic() - started < 5


class SyncSpy:
    """Wraps os.fdatasync to record, per commit-log segment, how many bytes had been written
    before a completed fdatasync of it began: what that sync is known to have made durable."""

    def __init__(self, store: MessageStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.synced: dict[int, int] = {}  # segment start offset -> durable bytes in it
        self.calls = 0
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            files = store.commitlog.queue.files
            mapped = next((m for m in files if m.fd == fd), None)
            extent = None if mapped is None else mapped.wrote_position
            real(fd)
            if mapped is not None and extent is not None:
                with self._lock:
                    self.calls += 1
                    start = mapped.file_from_offset
                    self.synced[start] = max(self.synced.get(start, 0), extent)

        monkeypatch.setattr(os, "fdatasync", fdatasync)

    def covers(self, end_offset: int) -> bool:
        """True when every commit-log byte below ``end_offset`` was synced."""
        size = self._store.commitlog.file_size
        with self._lock:
            return all(
                self.synced.get(start, 0) >= min(size, end_offset - start)
                for start in range(0, end_offset, size)
            )


def test_every_acknowledged_future_is_within_what_fdatasync_covered(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH"))
    spy = SyncSpy(store, monkeypatch)
    violations: list[int] = []
    results: list[PutMessageResult] = []
    lock = threading.Lock()

    def check(end: int) -> Callable[[Future[bool]], None]:
        def on_done(future: Future[bool]) -> None:  # runs where it is resolved, at that moment
            if future.result() and not spy.covers(end):
                violations.append(end)

        return on_done

    def writer(n: int) -> None:
        for i in range(60):  # ~110 bytes each: 4 writers roll several 4 KiB segments
            result = store.put_message(make_message(f"w{n}-{i}".encode()))
            assert result.flush_future is not None
            result.flush_future.add_done_callback(check(_end(result)))
            with lock:
                results.append(result)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.wait_flushed(10) for r in results] == [PutMessageStatus.PUT_OK] * 240
    assert violations == []
    assert spy.calls >= 1 and len(spy.synced) >= 2  # several segments were synced


def test_every_released_waiter_is_within_what_fdatasync_covered(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH"))
    spy = SyncSpy(store, monkeypatch)
    stop = threading.Event()

    def background_writer() -> None:  # appends from another thread while the loop waits
        i = 0
        while not stop.is_set() and i < 2000:
            store.put_message(make_message(f"bg{i}".encode()), flush_future=False)
            i += 1
            time.sleep(0.0005)

    async def scenario() -> list[tuple[bool, bool]]:
        waiter = store.flush_waiter(asyncio.get_running_loop())
        assert waiter is not None

        async def one(i: int) -> tuple[bool, bool]:
            await asyncio.sleep(i * 0.001)
            end = _end(store.put_message(make_message(f"a{i}".encode()), flush_future=False))
            flushed = await waiter.wait(end)
            return flushed, spy.covers(end)  # checked the moment the waiter was released

        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(150))), 30)

    thread = threading.Thread(target=background_writer)
    thread.start()
    try:
        outcomes = asyncio.run(scenario())
    finally:
        stop.set()
        thread.join(10)
    assert outcomes == [(True, True)] * 150


def test_timed_out_waits_leave_the_waiter_queue(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(tiny_config)
    group = GroupCommitService(store.commitlog, store.checkpoint)  # never started: no flushes

    async def scenario() -> tuple[list[bool], int, int]:
        waiter = AsyncFlushWaiter(group, asyncio.get_running_loop())
        results = await asyncio.wait_for(
            asyncio.gather(*(waiter.wait(10**9 + i, 0.01) for i in range(50))), 10
        )
        cancelled = asyncio.ensure_future(waiter.wait(10**9, 30))
        await asyncio.sleep(0)
        cancelled.cancel()
        live = asyncio.ensure_future(waiter.wait(10**9, 30))
        await asyncio.sleep(0.15)  # a few sweeps
        held = len(waiter._waits)
        live.cancel()
        await asyncio.sleep(0.1)
        return results, held, len(waiter._waits)

    results, held, after = asyncio.run(scenario())
    assert results == [False] * 50
    assert held == 1  # only the live wait: timed-out and cancelled ones were dropped
    assert after == 0


def test_refault_runs_after_the_writers_are_told(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faulting the next pages back in (up to 2 MiB of page faults) never delays an ack."""
    store = _quiet_async_store(tiny_config, open_store)
    group = GroupCommitService(store.commitlog, store.checkpoint)  # driven by hand
    future = group.submit(_end(store.put_message(make_message(b"a"))))
    seen: list[bool] = []
    monkeypatch.setattr(
        store.commitlog, "refault_after_sync", lambda _n: seen.append(future.done())
    )
    group.run_once()
    assert seen == [True] and future.result() is True


def test_a_stopped_group_commit_syncs_without_refaulting(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a stopped service the caller's own pass (maybe on the event loop, at shutdown)
    syncs and answers, and faults nothing back in: no writer comes after."""
    store = _quiet_async_store(tiny_config, open_store)
    group = GroupCommitService(store.commitlog, store.checkpoint)
    group.shutdown()
    refaulted: list[int] = []
    monkeypatch.setattr(store.commitlog, "refault_after_sync", refaulted.append)
    future = group.submit(_end(store.put_message(make_message(b"late"))))
    assert future.done() and future.result() is True and group.syncs == 1
    assert refaulted == []
