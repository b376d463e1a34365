"""Pre-faulting ahead of the writer (both flush modes): the allocator thread zeroes the pages just
past the write position through the file descriptor; it never touches a written byte."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_records
from rmq_core.store import EncodedBatch, MessageStore, PutMessageStatus, StoreConfig
from rmq_core.store.commitlog import WARM_AHEAD_BYTES, WARM_AHEAD_BYTES_SYNC, WARM_STEP_BYTES
from rmq_core.store.mapped_file import NOT_WARMING, PAGE_SIZE, MappedFile

OpenStore = Callable[[StoreConfig], MessageStore]


def _batch(start: int, count: int) -> EncodedBatch:
    entries = [(0, f"body-{i}".encode() * 20, f"UNIQ_KEY\x01U{i}\x02".encode())
               for i in range(start, start + count)]  # fmt: skip
    return EncodedBatch("T", 0, 0, 1_700_000_000_000, "10.0.0.1:1", "127.0.0.1:10911", entries)


def test_warm_ahead_zeroes_only_past_the_writer(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=32 * 1024 * 1024))
    store.allocator.shutdown()  # lets a warm it started finish; only this test's call follows
    assert store.put_encoded_batch(_batch(0, 10)).is_ok
    commitlog = store.commitlog
    mapped = commitlog.queue.files[-1]
    commitlog.warm_ahead()
    assert mapped.warmed_to >= mapped.wrote_position + WARM_AHEAD_BYTES - 4096
    assert mapped.warming_from == NOT_WARMING and not mapped.warm_lock.locked()
    assert bytes(mapped.mm[mapped.wrote_position : mapped.warmed_to]).count(0) == (
        mapped.warmed_to - mapped.wrote_position
    )
    store.sync_dispatch()
    got = store.get_message("g", "T", 0, 0, 32)
    assert [m.body for m in decode_records(got.body())] == [_batch(0, 10).entries[i][1]
                                                           for i in range(10)]  # fmt: skip


def test_appends_racing_the_warmer_keep_every_record(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    """A writer appending while another thread warms again and again: every record reads back
    intact (a writer reaching the range being zeroed waits for it)."""
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=64 * 1024 * 1024,
                                           max_message_size=4 * 1024 * 1024))  # fmt: skip
    commitlog = store.commitlog
    done = threading.Event()

    def warm_forever() -> None:
        while not done.is_set():
            commitlog.warm_ahead()

    warmer = threading.Thread(target=warm_forever)
    warmer.start()
    try:
        for start in range(0, 3000, 30):
            assert store.put_encoded_batch(_batch(start, 30)).is_ok
    finally:
        done.set()
        warmer.join(10)
    store.sync_dispatch()
    bodies = []
    offset = 0
    while offset < 3000:
        got = store.get_message("g", "T", 0, offset, 32)
        records = decode_records(got.body())
        assert records
        bodies.extend(m.body for m in records)
        offset = got.next_begin_offset
    assert bodies == [f"body-{i}".encode() * 20 for i in range(3000)]


def test_warming_under_sync_flush_keeps_records(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    """SYNC_FLUSH pre-faults too (blocks allocated by the next fdatasync); the records written
    over the zeros are flushed and read back intact."""
    config = tiny_config.replace(flush_disk_type="SYNC_FLUSH")
    store = open_store(config.replace(mapped_file_size_commit_log=32 * 1024 * 1024))
    store.allocator.shutdown()  # lets a warm it started finish; only this test's call follows
    assert store.put_encoded_batch(_batch(0, 3), flush_future=False).is_ok
    commitlog = store.commitlog
    commitlog.warm_ahead()
    mapped = commitlog.queue.files[-1]
    assert mapped.warmed_to >= mapped.wrote_position + WARM_AHEAD_BYTES_SYNC - 4096
    assert mapped.warmed_to < mapped.wrote_position + WARM_AHEAD_BYTES
    result = store.put_encoded_batch(_batch(3, 3))
    assert result.is_ok and result.wait_flushed(10) is PutMessageStatus.PUT_OK
    store.sync_dispatch()
    got = store.get_message("g", "T", 0, 0, 32)
    assert [m.body for m in decode_records(got.body())] == [f"body-{i}".encode() * 20
                                                           for i in range(6)]  # fmt: skip


def _read_all(store: MessageStore, count: int) -> list[bytes]:
    store.sync_dispatch()
    got = store.get_message("g", "T", 0, 0, count)
    bodies = [m.body for m in decode_records(got.body())]
    del got
    return bodies


def test_warm_ahead_zeroes_in_steps_outside_the_commit_log_lock(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step is claimed from the writer's position and zeroed without the commit-log lock,
    so a writer reaching the range being zeroed waits for one step at most (where
    MADV_POPULATE_WRITE is missing: see test_store_populate)."""
    monkeypatch.setattr("rmq_core.store.mapped_file._madvise", None)
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=32 * 1024 * 1024))
    store.allocator.shutdown()  # only this test's warm_ahead call pre-faults
    assert store.put_encoded_batch(_batch(0, 10)).is_ok
    commitlog = store.commitlog
    mapped = commitlog.queue.files[-1]
    steps: list[tuple[int, int, bool]] = []
    warm = MappedFile.warm

    def recording_warm(self: MappedFile, position: int = 0, end: int | None = None) -> None:
        steps.append((position, end or self.file_size, commitlog.lock.locked()))
        warm(self, position, end)

    monkeypatch.setattr(MappedFile, "warm", recording_warm)
    wrote = mapped.warmed_to = mapped.wrote_position  # as if nothing was pre-faulted yet
    commitlog.warm_ahead()
    first = -(-wrote // PAGE_SIZE) * PAGE_SIZE
    assert steps[0][0] == first and steps[-1][1] == wrote + WARM_AHEAD_BYTES
    assert all(end - start <= WARM_STEP_BYTES and not locked for start, end, locked in steps)
    assert [start for start, _end, _locked in steps[1:]] == [end for _s, end, _l in steps[:-1]]
    assert mapped.warmed_to == wrote + WARM_AHEAD_BYTES and mapped.warming_from == NOT_WARMING


def test_a_warmed_segment_wakes_the_warmer_no_more(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Near its end (here: a segment smaller than the window) the segment is warmed to its
    last byte, and appends into it then leave the allocator thread alone."""
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=4 * 1024 * 1024))
    store.allocator.shutdown()  # only this test's warm_ahead call pre-faults
    assert store.put_encoded_batch(_batch(0, 10)).is_ok
    commitlog = store.commitlog
    commitlog.warm_ahead()
    mapped = commitlog.queue.files[-1]
    assert mapped.warmed_to == mapped.file_size
    wakeups: list[int] = []
    monkeypatch.setattr(store.allocator, "wakeup", lambda: wakeups.append(1))
    for start in range(10, 100, 10):
        assert store.put_encoded_batch(_batch(start, 10)).is_ok
        assert store.put_message(_message(start)).is_ok
    assert wakeups == []
    assert len(_read_all(store, 200)) == 100 + 9


def _message(i: int) -> MessageExtBrokerInner:
    return MessageExtBrokerInner(topic="T", body=b"single-%d" % i, queue_id=0,
                                 properties={"UNIQ_KEY": f"S{i}"}, born_timestamp=1,
                                 born_host="10.0.0.1:1", store_host="127.0.0.1:10911")  # fmt: skip


class _SignallingLock:
    """A lock that says when a thread starts waiting in ``with lock:``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entered = threading.Event()

    def acquire(self) -> bool:
        return self.lock.acquire()

    def release(self) -> None:
        self.lock.release()

    def locked(self) -> bool:
        return self.lock.locked()

    def __enter__(self) -> _SignallingLock:
        self.entered.set()
        self.lock.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.lock.release()


def _zeroing_past_ten_records(
    store: MessageStore,
) -> tuple[MappedFile, int, _SignallingLock, int]:
    """Ten records stored, no warmer thread (the test plays the warmer), and the range from the
    page after the writer marked as being zeroed with its lock held: (segment, write position,
    that lock, the range's start)."""
    store.allocator.shutdown()
    assert store.put_encoded_batch(_batch(0, 10)).is_ok
    mapped = store.commitlog.queue.files[-1]
    wrote = mapped.wrote_position
    lock = _SignallingLock()
    mapped.warm_lock = lock  # type: ignore[assignment]
    lock.acquire()
    start = -(-wrote // PAGE_SIZE) * PAGE_SIZE
    mapped.warming_from = start
    return mapped, wrote, lock, start


def test_a_writer_reaching_the_range_being_zeroed_waits_for_it(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    """Deterministic: the range just past the writer is "being zeroed" (its lock held, its
    start set); the writer blocks on the lock before writing, and once the zeros are written
    and the lock released its records land and read back."""
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=32 * 1024 * 1024))
    mapped, wrote, lock, start = _zeroing_past_ten_records(store)
    results: list[bool] = []
    writer = threading.Thread(target=lambda: results.append(
        store.put_encoded_batch(_batch(10, 10)).is_ok))  # fmt: skip
    writer.start()
    try:
        assert lock.entered.wait(10)  # the writer waits for the range being zeroed ...
        assert mapped.wrote_position == wrote and results == []  # ... before writing
        mapped.warm(start, start + WARM_STEP_BYTES)
        mapped.warmed_to = start + WARM_STEP_BYTES
        mapped.warming_from = NOT_WARMING
    finally:
        lock.release()
        writer.join(10)
    assert results == [True] and mapped.wrote_position > wrote
    assert _read_all(store, 32) == [f"body-{i}".encode() * 20 for i in range(20)]


def test_a_single_put_reaching_the_range_being_zeroed_waits_for_it(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    """The single-put path checks for room inline: a put reaching ``warming_from`` must still
    wait for the range being zeroed, as a batch does."""
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=32 * 1024 * 1024))
    mapped, wrote, lock, _start = _zeroing_past_ten_records(store)
    big = _message(10)
    big.body = b"x" * (PAGE_SIZE + 100)  # reaches past the page boundary being zeroed
    results: list[bool] = []
    writer = threading.Thread(target=lambda: results.append(store.put_message(big).is_ok))
    writer.start()
    try:
        assert lock.entered.wait(10)  # the writer waits for the range being zeroed ...
        assert mapped.wrote_position == wrote and results == []  # ... before writing
        mapped.warming_from = NOT_WARMING
    finally:
        lock.release()
        writer.join(10)
    assert results == [True] and mapped.wrote_position > wrote
    assert _read_all(store, 32)[10:] == [big.body]
