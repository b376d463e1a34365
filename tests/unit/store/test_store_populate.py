"""``MappedFile.populate`` (MADV_POPULATE_WRITE through ctypes) and the commit log's use of it:
under SYNC_FLUSH, faulting back in what each fdatasync write-protected (pre-faulting ahead of
the writer writes zeros in both modes); the flush waiter's queue of waits in offset order."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import mmap
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import rmq_core.store.mapped_file as mapped_file_module
from rmq_core.common.message_codec import decode_records
from rmq_core.store import EncodedBatch, MessageStore, StoreConfig
from rmq_core.store.commitlog import REFAULT_MIN_BYTES, WARM_AHEAD_BYTES, WARM_AHEAD_BYTES_SYNC
from rmq_core.store.flush import AsyncFlushWaiter, GroupCommitService
from rmq_core.store.mapped_file import NOT_WARMING, PAGE_SIZE, MappedFile, populate_supported

OpenStore = Callable[[StoreConfig], MessageStore]


class _RecordingMadvise:
    """Stands in for libc's ``madvise``: records (offset in the mapping, length, advice) and
    answers ``result`` (setting ``errno`` when it is -1)."""

    def __init__(self, base: Callable[[], int], result: int = 0, error: int = 0) -> None:
        self.base = base
        self.result = result
        self.error = error
        self.calls: list[tuple[int, int, int]] = []

    def __call__(self, address: int, length: int, advice: int) -> int:
        self.calls.append((address - self.base(), length, advice))
        if self.result:
            ctypes.set_errno(self.error)
        return self.result


def _file(tmp_path: Path, size: int = 1024 * 1024) -> MappedFile:
    return MappedFile(str(tmp_path / "f"), size, 0, create=True)


def test_populate_changes_no_byte(tmp_path: Path) -> None:
    mapped = _file(tmp_path)
    data = os.urandom(10_000)
    mapped.mm[100 : 100 + len(data)] = data
    done = mapped.populate(5_000, 200_000)  # unaligned start: its page is included
    assert done is populate_supported()
    assert bytes(mapped.mm[100 : 100 + len(data)]) == data
    assert bytes(mapped.mm[100 + len(data) : 300_000]).count(0) == 300_000 - 100 - len(data)
    assert mapped.try_close()  # no buffer export left behind by reading the address


def test_populate_of_nothing_or_a_closed_file_does_nothing(tmp_path: Path) -> None:
    mapped = _file(tmp_path)
    assert mapped.populate(4096, 4096) is False
    assert mapped.populate(mapped.file_size, mapped.file_size + 4096) is False
    assert mapped.try_close()
    assert mapped.populate(0, 4096) is False


def test_populate_passes_page_aligned_ranges_within_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapped = _file(tmp_path)
    fake = _RecordingMadvise(lambda: mapped_file_module._address_of(mapped.mm))
    monkeypatch.setattr(mapped_file_module, "_madvise", fake)
    assert mapped.populate(PAGE_SIZE + 10, mapped.file_size + 5_000)
    assert fake.calls == [(PAGE_SIZE, mapped.file_size - PAGE_SIZE, 23)]
    assert mapped.try_close()


def test_a_failing_madvise_returns_false_and_leaves_populate_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Support is decided once, by the import-time probe: a later refusal (EINVAL for this
    range, ENOMEM) fails that call only, and the next populate asks the kernel again."""
    mapped = _file(tmp_path)
    for error in (errno.EINVAL, errno.ENOMEM):
        failing = _RecordingMadvise(lambda: 0, result=-1, error=error)
        monkeypatch.setattr(mapped_file_module, "_madvise", failing)
        assert mapped.populate(0, 8192) is False and populate_supported()
        assert mapped.populate(0, 8192) is False and len(failing.calls) == 2
    assert mapped.try_close()


def test_the_probe_decides_support_on_a_page_of_its_own() -> None:
    calls: list[tuple[int, int, int]] = []

    def answering(result: int) -> Callable[[int, int, int], int]:
        def madvise(address: int, length: int, advice: int) -> int:
            calls.append((address, length, advice))
            return result

        return madvise

    taking, refusing = answering(0), answering(-1)
    assert mapped_file_module._probe(taking) is taking
    assert mapped_file_module._probe(refusing) is None
    assert mapped_file_module._probe(None) is None
    assert [(length, advice) for _address, length, advice in calls] == [(PAGE_SIZE, 23)] * 2
    assert calls[0][0] and calls[0][0] % PAGE_SIZE == 0


def _gated_madvise(
    gate: threading.Event, entered: threading.Event, seen_closed: list[bool], mapped: MappedFile
) -> Callable[[int, int, int], int]:
    """The real madvise, entered only once ``gate`` is set or ``_GATE_SECONDS`` passed (as if
    preempted after the GIL release, or in a long populate); records whether ``mapped`` was
    closed meanwhile (and then does not advise the freed address)."""
    real = mapped_file_module._madvise
    assert real is not None

    def gated(address: int, length: int, advice: int) -> int:
        entered.set()
        gate.wait(_GATE_SECONDS)
        seen_closed.append(mapped.closed)
        return -1 if mapped.closed else real(address, length, advice)

    return gated


_GATE_SECONDS = 0.1
"""How long a populate in flight waits for the test's close: the fixed code's close waits for
it (so the test takes this long); without the lock the close does not wait and the gate opens
at once."""
needs_populate = pytest.mark.skipif(not populate_supported(), reason="no MADV_POPULATE_WRITE")


@needs_populate
def test_a_file_being_populated_is_not_unmapped_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapped = _file(tmp_path, 4 * 1024 * 1024)
    gate, entered, seen_closed = threading.Event(), threading.Event(), []
    monkeypatch.setattr(mapped_file_module, "_madvise",
                        _gated_madvise(gate, entered, seen_closed, mapped))  # fmt: skip
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(mapped.populate(0, mapped.file_size)))
    worker.start()
    try:
        assert entered.wait(10)
        assert mapped.try_close()  # waits for the madvise in flight
        gate.set()
    finally:
        gate.set()
        worker.join(10)
    assert seen_closed == [False] and results == [True] and mapped.closed


@needs_populate
def test_populate_stays_on_after_a_reused_address_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mapping taking the addresses a close freed (read-only here: madvise answers EINVAL)
    while a populate of the closed file is in flight must not turn populate off."""
    size = 4 * 1024 * 1024
    mapped = _file(tmp_path, size)
    address = mapped_file_module._address_of(mapped.mm)
    real = mapped_file_module._madvise
    assert real is not None
    gate, entered = threading.Event(), threading.Event()

    def gated(address: int, length: int, advice: int) -> int:
        entered.set()
        gate.wait(_GATE_SECONDS)
        return real(address, length, advice)  # on whatever is mapped there now

    monkeypatch.setattr(mapped_file_module, "_madvise", gated)
    libc = ctypes.CDLL(None)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    worker = threading.Thread(target=mapped.populate, args=(0, size))
    worker.start()
    other = None
    try:
        assert entered.wait(10)
        assert mapped.try_close()
        other = libc.mmap(address, size, mmap.PROT_READ,
                          mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)  # fmt: skip
        gate.set()
        worker.join(10)
        assert not worker.is_alive()
        assert populate_supported()
    finally:
        gate.set()
        worker.join(10)
        if other not in (None, ctypes.c_void_p(-1).value):
            libc.munmap(other, size)


def _batch(start: int, count: int) -> EncodedBatch:
    entries = [(0, f"body-{i}".encode() * 20, f"UNIQ_KEY\x01U{i}\x02".encode())
               for i in range(start, start + count)]  # fmt: skip
    return EncodedBatch("T", 0, 0, 1_700_000_000_000, "10.0.0.1:1", "127.0.0.1:10911", entries)


def _recorded(store: MessageStore, monkeypatch: pytest.MonkeyPatch) -> tuple[
    _RecordingMadvise, list[tuple[int, int]]
]:  # fmt: skip
    """A recording madvise (succeeding) and the list of zeroing steps, both installed."""
    mapped = store.commitlog.queue.files[-1]
    fake = _RecordingMadvise(lambda: mapped_file_module._address_of(mapped.mm))
    monkeypatch.setattr(mapped_file_module, "_madvise", fake)
    zeroed: list[tuple[int, int]] = []
    warm = MappedFile.warm

    def recording_warm(self: MappedFile, position: int = 0, end: int | None = None) -> None:
        zeroed.append((position, end or self.file_size))
        warm(self, position, end)

    monkeypatch.setattr(MappedFile, "warm", recording_warm)
    return fake, zeroed


@pytest.mark.parametrize(
    ("flush_disk_type", "window"),
    [("ASYNC_FLUSH", WARM_AHEAD_BYTES), ("SYNC_FLUSH", WARM_AHEAD_BYTES_SYNC)],
)
def test_warm_ahead_writes_zeros_and_never_populates(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    monkeypatch: pytest.MonkeyPatch,
    flush_disk_type: str,
    window: int,
) -> None:
    """Pre-faulting ahead of the writer writes zeros in both flush modes: populating the
    window slowed the live broker (see ``CommitLog.warm_ahead``); populate is only for the
    pages an fdatasync write-protected."""
    config = tiny_config.replace(mapped_file_size_commit_log=32 * 1024 * 1024,
                                 flush_disk_type=flush_disk_type)  # fmt: skip
    store = open_store(config)
    store.allocator.shutdown()  # only this test's warm_ahead call pre-faults
    assert store.put_encoded_batch(_batch(0, 10)).is_ok
    commitlog = store.commitlog
    mapped = commitlog.queue.files[-1]
    fake, zeroed = _recorded(store, monkeypatch)
    wrote = mapped.warmed_to = mapped.wrote_position  # as if nothing was pre-faulted yet
    commitlog.warm_ahead()
    assert fake.calls == [] and zeroed and zeroed[-1][1] == wrote + window
    assert mapped.warmed_to == wrote + window and mapped.warming_from == NOT_WARMING
    assert store.put_encoded_batch(_batch(10, 10)).is_ok
    store.sync_dispatch()
    got = store.get_message("g", "T", 0, 0, 32)
    assert [m.body for m in decode_records(got.body())] == [
        e[1] for e in _batch(0, 10).entries + _batch(10, 10).entries
    ]


def test_refault_after_sync_faults_the_next_synced_bytes_back_in(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an fdatasync the pages the writer stores into next are faulted back in writable,
    as many bytes as the sync covered (at least REFAULT_MIN_BYTES, at most the warm window)."""
    config = tiny_config.replace(mapped_file_size_commit_log=32 * 1024 * 1024,
                                 flush_disk_type="SYNC_FLUSH")  # fmt: skip
    store = open_store(config)
    store.allocator.shutdown()
    assert store.put_encoded_batch(_batch(0, 10), flush_future=False).is_ok
    mapped = store.commitlog.queue.files[-1]
    fake, _zeroed = _recorded(store, monkeypatch)
    wrote = mapped.wrote_position
    first = wrote // PAGE_SIZE * PAGE_SIZE  # the writer's own page too
    for synced, length in (
        (100_000, 100_000),
        (10, REFAULT_MIN_BYTES),
        (10**9, WARM_AHEAD_BYTES_SYNC),
    ):
        store.commitlog.refault_after_sync(synced)
        assert fake.calls[-1] == (first, wrote + length - first, 23)
    assert bytes(mapped.mm[wrote : wrote + 4096]) == bytes(4096)


def test_the_group_commit_refaults_what_each_sync_covered(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tiny_config.replace(flush_interval=60.0,
                                           flush_commit_log_thorough_interval=3600))  # fmt: skip
    group = GroupCommitService(store.commitlog, store.checkpoint)  # driven by hand
    refaulted: list[int] = []
    monkeypatch.setattr(store.commitlog, "refault_after_sync", refaulted.append)
    group.run_once()  # nothing written: no sync, nothing to fault back in
    assert refaulted == []
    first = store.put_encoded_batch(_batch(0, 3)).append_result
    assert first is not None
    group.run_once()
    second = store.put_encoded_batch(_batch(3, 2)).append_result
    assert second is not None
    group.run_once()
    assert refaulted == [first.end_offset, second.end_offset - first.end_offset]


def test_waits_out_of_offset_order_are_answered_in_order(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(tiny_config.replace(flush_interval=60.0,
                                           flush_commit_log_thorough_interval=3600))  # fmt: skip
    group = GroupCommitService(store.commitlog, store.checkpoint)  # never started

    async def scenario() -> tuple[list[int], list[bool]]:
        waiter = AsyncFlushWaiter(group, asyncio.get_running_loop())
        ends = [300, 100, 200, 100, 400]
        waits = [asyncio.ensure_future(waiter.wait(end)) for end in ends]
        await asyncio.sleep(0)
        queued = [entry[0] for entry in waiter._waits]
        waiter._release(250)  # covers 100, 100 and 200
        await asyncio.sleep(0)
        answered = [w.done() for w in waits]
        waiter._release(400)
        return queued, answered + list(await asyncio.gather(*waits))

    queued, outcome = asyncio.run(scenario())
    assert queued == [100, 100, 200, 300, 400]
    assert outcome[:5] == [False, True, True, True, False] and outcome[5:] == [True] * 5
