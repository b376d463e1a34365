"""Pre-faulting ahead of the writer (both flush modes): the allocator thread zeroes the pages just
past the write position through the file descriptor; it never touches a written byte."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rmq_core.common.message_codec import decode_records
from rmq_core.store import EncodedBatch, MessageStore, PutMessageStatus, StoreConfig
from rmq_core.store.commitlog import WARM_AHEAD_BYTES, WARM_AHEAD_BYTES_SYNC
from rmq_core.store.mapped_file import NOT_WARMING

OpenStore = Callable[[StoreConfig], MessageStore]


def _batch(start: int, count: int) -> EncodedBatch:
    entries = [(0, f"body-{i}".encode() * 20, f"UNIQ_KEY\x01U{i}\x02".encode())
               for i in range(start, start + count)]  # fmt: skip
    return EncodedBatch("T", 0, 0, 1_700_000_000_000, "10.0.0.1:1", "127.0.0.1:10911", entries)


def test_warm_ahead_zeroes_only_past_the_writer(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=32 * 1024 * 1024))
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
