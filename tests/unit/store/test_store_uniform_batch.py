"""``CommitLog.put_encoded`` of a uniform batch (every body of one length, every properties
string of one length, no ``__CRC32#`` property): packed by one struct straight into the segment,
with the same bytes, results, refusals and dispatch as ``put_messages`` of the same messages."""

from __future__ import annotations

import mmap
import tracemalloc
from collections.abc import Callable

import pytest

import rmq_core.store.commitlog as commitlog_module
from rmq_core.common.message import MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import decode_records
from rmq_core.store import EncodedBatch, MessageStore, PutMessageStatus, StoreConfig
from tests.support.store_fixtures import FROZEN_STORE_NS, dispatched_files, roomy_config

OpenStore = Callable[[StoreConfig], MessageStore]
Entries = list[tuple[int, bytes, bytes]]

_BORN = "10.1.2.3:50000"
_STORE = "127.0.0.1:10911"
_BORN_MS = 1_700_000_000_000


def _twin_stores(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> tuple[MessageStore, MessageStore]:
    """Two roomy stores side by side, for ``put_messages`` and for ``put_encoded_batch``, under
    one frozen store clock (index files hold store times)."""
    monkeypatch.setattr(commitlog_module.time, "time_ns", lambda: FROZEN_STORE_NS)
    return (open_store(roomy_config(tiny_config, "-messages")),
            open_store(roomy_config(tiny_config, "-encoded")))  # fmt: skip


def _store_files(*stores: MessageStore) -> list[dict[str, bytes]]:
    """Every commit-log, consume-queue and index file of each store, once dispatched and
    flushed."""
    for store in stores:
        store.sync_dispatch()
        store.flush()
    return [dispatched_files(store.root, commitlog=True) for store in stores]


def _uniform(count: int, start: int = 0, flags: tuple[int, ...] = (0,)) -> Entries:
    """``count`` entries with bodies of one length and properties of one length (contents
    differ), flags cycling through ``flags``."""
    return [
        (
            flags[i % len(flags)],
            b"%06d" % i * 30,
            b"TAGS\x01T%d\x02UNIQ_KEY\x01U%08d\x02" % (i % 3, i),
        )
        for i in range(start, start + count)
    ]


def _messages(
    entries: Entries, queue_id: int = 0, sys_flag: int = 0, born: str = _BORN, store: str = _STORE
) -> list[MessageExtBrokerInner]:
    return [
        MessageExtBrokerInner(topic="T", body=body, flag=flag, queue_id=queue_id,
                              sys_flag=sys_flag, born_timestamp=_BORN_MS, born_host=born,
                              store_host=store, properties_string=props.decode())
        for flag, body, props in entries
    ]  # fmt: skip


def _batch(
    entries: Entries, queue_id: int = 0, sys_flag: int = 0, born: str = _BORN, store: str = _STORE
) -> EncodedBatch:
    return EncodedBatch("T", queue_id, sys_flag, _BORN_MS, born, store, entries)


def test_uniform_batches_store_what_put_messages_stores(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = _twin_stores(tiny_config, open_store, monkeypatch)
    prepared = MessageSysFlag.TRANSACTION_PREPARED_TYPE
    plan = [(0, 1, 0, 0, (0,)), (1, 7, 1, 0, (0, -5, 2**31 - 1, -(2**31))), (8, 32, 0, 0, (3,)),
            (40, 3, 1, prepared, (0,)), (43, 9, 1, 0, (0,))]  # fmt: skip
    for start, count, queue_id, sys_flag, flags in plan:
        entries = _uniform(count, start, flags)
        a = old.put_messages(_messages(entries, queue_id, sys_flag))
        b = new.put_encoded_batch(_batch(entries, queue_id, sys_flag))
        assert a.status is b.status is PutMessageStatus.PUT_OK
        assert a.append_result == b.append_result
    expected, got = _store_files(old, new)
    assert got == expected
    got = new.get_message("g", "T", 1, 0, 64)
    assert [m.body for m in decode_records(got.body())] == [
        e[1] for e in _uniform(7, 1) + _uniform(9, 43)
    ]
    flags = [m.flag for m in decode_records(got.body())][:7]
    assert flags == [-5, 2**31 - 1, -(2**31), 0, -5, 2**31 - 1, -(2**31)]
    assert new.query_message("T", "U00000041", 4, 0, 2**62).commitlog_offsets  # prepared


def test_a_uniform_batch_rolls_to_the_next_segment_as_put_messages_does(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = _twin_stores(tiny_config, open_store, monkeypatch)
    start = 0
    while new.commitlog.max_offset < new.commitlog.file_size - 2000:
        entries = _uniform(4, start)
        assert old.put_messages(_messages(entries)).is_ok
        assert new.put_encoded_batch(_batch(entries)).is_ok
        start += 4
    files = len(new.commitlog.queue.files)
    entries = _uniform(10, start)  # does not fit the rest of the segment
    a, b = old.put_messages(_messages(entries)), new.put_encoded_batch(_batch(entries))
    assert a.append_result == b.append_result and len(new.commitlog.queue.files) == files + 1
    expected, got = _store_files(old, new)
    assert got == expected


@pytest.mark.parametrize(
    ("born", "store"),
    [("[fe80::1]:50000", "127.0.0.1:10911"), ("10.1.2.3:1", "[::1]:10911"), ("[::2]:1", "[::1]:2")],
)
@pytest.mark.parametrize(
    "sys_flag",
    [0, MessageSysFlag.TRANSACTION_PREPARED_TYPE, MessageSysFlag.TRANSACTION_ROLLBACK_TYPE],
)
def test_uniform_batches_with_ipv6_hosts_and_transactions_match_put_messages(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    monkeypatch: pytest.MonkeyPatch,
    born: str,
    store: str,
    sys_flag: int,
) -> None:
    old, new = _twin_stores(tiny_config, open_store, monkeypatch)
    for start, count in ((0, 5), (5, 32), (37, 1)):
        entries = _uniform(count, start, (0, 7))
        a = old.put_messages(_messages(entries, 1, sys_flag, born, store))
        b = new.put_encoded_batch(_batch(entries, 1, sys_flag, born, store))
        assert a.is_ok and b.is_ok and a.append_result == b.append_result
    expected, got = _store_files(old, new)
    assert got == expected


def test_a_uniform_run_longer_than_one_struct_is_packed_in_chunks_alike(
    tiny_config: StoreConfig, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs longer than ``_UNIFORM_CHUNK`` records take several struct calls: the same bytes
    as ``put_messages`` at every chunk boundary (and a last, shorter chunk)."""
    old, new = _twin_stores(tiny_config, open_store, monkeypatch)
    count = 2 * commitlog_module._UNIFORM_CHUNK + 22
    entries = _uniform(count, 0, (0, -1, 9))
    a, b = old.put_messages(_messages(entries)), new.put_encoded_batch(_batch(entries))
    assert a.is_ok and b.is_ok and a.append_result == b.append_result
    expected, got = _store_files(old, new)
    assert got == expected


def test_uniform_struct_cache_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached struct holds 13 format codes per record (~440 bytes): packing runs of many
    records, of many counts, must not cache one struct per count (16 shapes of 2,000 records
    would hold ~14 MB; chunks of at most ``_UNIFORM_CHUNK`` records hold well under 1 MB)."""
    monkeypatch.setattr(commitlog_module, "_UNIFORM_STRUCTS", {})
    middle, head, whole = commitlog_module._HEADS[(False, False)]
    hosts = (b"\x01" * 4, 1, b"\x02" * 4, 2, 0, middle, head, whole)
    topic_field = b"\x01T"
    buf = mmap.mmap(-1, 4 * 1024 * 1024)
    tracemalloc.start()
    try:
        for count in range(2_000, 2_016):
            entries = [(0, b"", b"UNIQ_KEY\x01%020d\x02" % i) for i in range(count)]
            size = head.size + len(topic_field) + 2 + len(entries[0][2])
            run = (entries, [size] * count, [0] * count, (0, 1, hosts, 0, 0))
            flags, bodies, props = zip(*entries, strict=True)
            commitlog_module._pack_uniform_into(buf, 0, run, (flags, bodies, props), 0, 1,
                                                topic_field, 0, 0, 2)  # fmt: skip
            del entries, run, flags, bodies, props
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        buf.close()
    assert held < 4 * 1024 * 1024


@pytest.mark.parametrize("flag", [2**31, -(2**31) - 1])
def test_a_uniform_batch_with_a_flag_out_of_range_is_refused_unwritten(
    tiny_config: StoreConfig, open_store: OpenStore, flag: int
) -> None:
    store = open_store(roomy_config(tiny_config))
    assert store.put_encoded_batch(_batch(_uniform(3))).is_ok
    end = store.commitlog.max_offset
    mapped = store.commitlog.queue.files[-1]
    refused = store.put_encoded_batch(_batch(_uniform(5, 3, (0, 0, flag))))
    assert refused.status is PutMessageStatus.MESSAGE_ILLEGAL
    assert store.commitlog.max_offset == end
    assert bytes(mapped.mm[end : end + 1024]) == bytes(1024)  # not one byte past the end


def test_a_uniform_batch_with_a_born_time_out_of_range_is_refused_unwritten(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(roomy_config(tiny_config))
    mapped = store.commitlog.queue.files[-1]
    late = EncodedBatch("T", 0, 0, 2**63, _BORN, _STORE, _uniform(4))
    assert store.put_encoded_batch(late).status is PutMessageStatus.MESSAGE_ILLEGAL
    assert store.commitlog.max_offset == 0 and bytes(mapped.mm[:1024]) == bytes(1024)
    assert store.put_encoded_batch(_batch(_uniform(4))).is_ok


def test_uniform_structs_are_cached_per_shape_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commitlog_module, "_UNIFORM_STRUCTS", {})
    monkeypatch.setattr(commitlog_module, "_UNIFORM_STRUCT_LIMIT", 3)
    first = commitlog_module._uniform_struct(2, 44, 10, 2, 5)
    assert commitlog_module._uniform_struct(2, 44, 10, 2, 5) is first
    assert first.size == 2 * (36 + 44 + 4 + 10 + 2 + 2 + 5)
    for body in (11, 12, 13):
        commitlog_module._uniform_struct(2, 44, body, 2, 5)
    assert len(commitlog_module._UNIFORM_STRUCTS) <= 3
