"""``MessageStore.put_encoded_batch``: the same bytes, results, refusals and dispatch as
``put_messages`` of the same messages, without a message object per entry."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import rmq_core.store.commitlog as commitlog_module
from rmq_core.common.message import MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import decode_records
from rmq_core.store import EncodedBatch, MessageStore, PutMessageStatus, StoreConfig
from rmq_core.store.formats.index import HEADER
from rmq_core.store.index import IndexService, key_hash
from rmq_core.store.report import RecoveryReport

OpenStore = Callable[[StoreConfig], MessageStore]
MakeMessage = Callable[..., MessageExtBrokerInner]

_BORN = "10.1.2.3:50000"
_STORE = "127.0.0.1:10911"
_BORN_MS = 1_700_000_000_000


class _FrozenClock:
    """Stands in for the ``time`` module in the commit log: one store time for every append."""

    @staticmethod
    def time_ns() -> int:
        return 1_750_000_000_000 * 1_000_000


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(commitlog_module, "time", _FrozenClock)
    yield


def _entries(count: int, start: int = 0) -> list[tuple[int, bytes, bytes]]:
    out = []
    for i in range(start, start + count):
        props = f"TAGS\x01Tag{i % 3}\x02UNIQ_KEY\x01U{i:08d}\x02"
        if i % 4 == 1:
            props += f"KEYS\x01k{i} shared\x02"
        out.append((i % 5, f"body-{i}".encode() * (1 + i % 7), props.encode()))
    return out


def _messages(
    entries: list[tuple[int, bytes, bytes]], topic: str = "T", queue_id: int = 0, sys_flag: int = 0
) -> list[MessageExtBrokerInner]:
    return [
        MessageExtBrokerInner(
            topic=topic,
            body=body,
            flag=flag,
            queue_id=queue_id,
            sys_flag=sys_flag,
            born_timestamp=_BORN_MS,
            born_host=_BORN,
            store_host=_STORE,
            properties_string=props.decode(),
        )
        for flag, body, props in entries
    ]


def _batch(
    entries: list[tuple[int, bytes, bytes]], topic: str = "T", queue_id: int = 0, sys_flag: int = 0
) -> EncodedBatch:
    return EncodedBatch(topic, queue_id, sys_flag, _BORN_MS, _BORN, _STORE, entries)


def _tree(root: str) -> dict[str, bytes]:
    """Every file under ``root`` except the lock, checkpoint and abort marker."""
    out: dict[str, bytes] = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if rel.split(os.sep)[0] in ("lock", "checkpoint", "abort", "index"):
                continue
            with open(path, "rb") as fh:
                out[rel] = fh.read()
    return out


def _config(base: StoreConfig, tmp_path: Path, name: str, **changes: object) -> StoreConfig:
    return base.replace(store_path_root_dir=str(tmp_path / name), **changes)


@pytest.mark.parametrize("crc", [False, True], ids=["plain", "prop-crc"])
def test_same_bytes_results_and_dispatch_as_put_messages(
    tiny_config: StoreConfig, open_store: OpenStore, tmp_path: Path, frozen_clock: None, crc: bool
) -> None:
    old = open_store(_config(tiny_config, tmp_path, "messages", enabled_append_prop_crc=crc))
    new = open_store(_config(tiny_config, tmp_path, "encoded", enabled_append_prop_crc=crc))
    for start, count, queue_id in ((0, 3, 0), (3, 5, 1), (8, 1, 0), (9, 6, 1), (15, 7, 0)):
        entries = _entries(count, start)
        a = old.put_messages(_messages(entries, queue_id=queue_id))
        b = new.put_encoded_batch(_batch(entries, queue_id=queue_id))
        assert a.status is b.status is PutMessageStatus.PUT_OK
        assert a.append_result == b.append_result
    old.sync_dispatch()
    new.sync_dispatch()
    old.flush()
    new.flush()
    old_files = _tree(old.root)
    assert _tree(new.root) == old_files
    assert any(name.startswith("consumequeue") for name in old_files)
    for queue_id in (0, 1):
        got_old = old.get_message("g", "T", queue_id, 0, 64)
        got_new = new.get_message("g", "T", queue_id, 0, 64)
        assert got_new.body() == got_old.body() and got_new.message_queue_offsets
        assert got_new.max_offset == got_old.max_offset
    for key in ("U00000009", "k13", "shared"):
        found_old = old.query_message("T", key, 32, 0, 2**62)
        found_new = new.query_message("T", key, 32, 0, 2**62)
        assert found_new.commitlog_offsets == found_old.commitlog_offsets
        assert found_new.commitlog_offsets
    bodies = [m.body for m in decode_records(new.get_message("g", "T", 1, 0, 64).body())]
    assert bodies == [e[1] for e in _entries(5, 3) + _entries(6, 9)]


def test_index_files_match_record_by_record_rebuild(
    tiny_config: StoreConfig, tmp_path: Path
) -> None:
    """Batch dispatch writes the same index files (entries, slots, headers) as rebuilding them
    record by record from the log, across several index files."""
    config = _config(tiny_config, tmp_path, "index")
    store = MessageStore(config)
    store.start()
    assert store.put_encoded_batch(_batch(_entries(5))).is_ok
    assert store.put_encoded_batch(_batch(_entries(7, 5))).is_ok
    store.sync_dispatch()
    store.shutdown()
    written = _index_files(config)
    assert len(written) >= 2
    for name in os.listdir(config.index_dir):
        os.unlink(os.path.join(config.index_dir, name))
    rebuilt = MessageStore(config)
    rebuilt.start()
    rebuilt.shutdown()
    assert _index_files(config) == written


def _index_files(config: StoreConfig) -> list[bytes]:
    names = sorted(os.listdir(config.index_dir))
    return [_read(os.path.join(config.index_dir, name)) for name in names]


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def test_refusals_match_put_messages(
    tiny_config: StoreConfig, open_store: OpenStore, tmp_path: Path
) -> None:
    store = open_store(tiny_config.replace(max_message_size=1000))
    twin = open_store(_config(tiny_config, tmp_path, "twin", max_message_size=1000))
    refused: list[tuple[str, int, list[tuple[int, bytes, bytes]]]] = [
        ("T", 0, []),
        ("a/b", 0, _entries(1)),
        ("T", -1, _entries(1)),
        ("T", 0, [(0, b"x" * 1001, b"")]),  # body over maxMessageSize
        ("T", 0, [(0, b"x", b"P\x01" + b"v" * 40000 + b"\x02")]),  # properties too long
        ("T", 0, [(0, b"x", b"P\x01a\x00b\x02")]),  # NUL in properties
        ("T", 0, [(0, b"x", b"P\x01a\x02"), (0, b"y", b"P\x01b")]),  # not \x02-terminated
        ("T", 0, [(0, b"x" * 900, b"")] * 5),  # the batch does not fit a segment
    ]
    for topic, queue_id, entries in refused:
        expected = twin.put_messages(_messages(entries, topic, queue_id)).status
        got = store.put_encoded_batch(_batch(entries, topic, queue_id)).status
        assert got is expected is not PutMessageStatus.PUT_OK, (topic, queue_id, entries[:1])
    illegal = [
        _batch([(0, b"x", b"P\x01\xff\xfe\x02")]),  # not UTF-8: recovery could not read it
        _batch([(2**31, b"x", b"")]),  # flag out of its int32 field
        EncodedBatch("T", 0, 0, _BORN_MS, "nohost", _STORE, _entries(1)),
    ]
    for batch in illegal:
        assert store.put_encoded_batch(batch).status is PutMessageStatus.MESSAGE_ILLEGAL
    assert store.max_phy_offset == 0  # nothing written by a refused batch
    ok = store.put_encoded_batch(_batch([(0, b"x", "P\x01\u00e9\x02".encode())]))
    assert ok.is_ok and ok.append_result is not None and ok.append_result.wrote_offset == 0
    store.shutdown()
    assert store.put_encoded_batch(_batch(_entries(1))).status is (
        PutMessageStatus.SERVICE_NOT_AVAILABLE
    )


def test_prepared_and_rollback_batches_get_offset_zero_and_no_units(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(tiny_config)
    prepared = MessageSysFlag.TRANSACTION_PREPARED_TYPE
    rollback = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE
    first = store.put_encoded_batch(_batch(_entries(2), sys_flag=prepared))
    second = store.put_encoded_batch(_batch(_entries(2, 2), sys_flag=rollback))
    third = store.put_encoded_batch(_batch(_entries(3, 4)))
    assert first.append_result is not None and first.append_result.queue_offset == 0
    assert second.append_result is not None and second.append_result.queue_offset == 0
    assert third.append_result is not None and third.append_result.queue_offset == 0
    store.sync_dispatch()
    assert store.get_max_offset_in_queue("T", 0) == 3
    got = store.get_message("g", "T", 0, 0, 32)
    assert [m.body for m in decode_records(got.body())] == [e[1] for e in _entries(3, 4)]
    assert store.query_message("T", "U00000000", 4, 0, 2**62).commitlog_offsets  # prepared
    assert not store.query_message("T", "U00000002", 4, 0, 2**62).commitlog_offsets  # rollback


def test_sync_flush_future_follows_the_first_entrys_wait_property(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH"))
    waited = store.put_encoded_batch(_batch(_entries(2)))
    assert waited.flush_future is not None
    assert waited.wait_flushed(5) is PutMessageStatus.PUT_OK
    unwaited = store.put_encoded_batch(_batch([(0, b"x", b"WAIT\x01false\x02")]))
    assert unwaited.is_ok and unwaited.flush_future is None
    no_future = store.put_encoded_batch(_batch(_entries(1)), flush_future=False)
    assert no_future.is_ok and no_future.flush_future is None


def test_arrival_listener_called_once_per_batch_and_tags_code(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    store = open_store(tiny_config)
    calls: list[tuple[str, int, int, int, object]] = []
    store.add_arrival_listener(
        lambda topic, queue_id, offset, tags, _ts, props: calls.append(
            (topic, queue_id, offset, tags, props)
        )
    )
    same_tags = [(0, b"a", b"TAGS\x01X\x02"), (0, b"b", b"TAGS\x01X\x02")]
    assert store.put_encoded_batch(_batch(same_tags)).is_ok
    store.sync_dispatch()
    assert [c[:3] for c in calls] == [("T", 0, 2)] and calls[0][4] is None
    calls.clear()
    assert store.put_encoded_batch(_batch(_entries(4))).is_ok  # Tag0, Tag1, Tag2, Tag0
    store.sync_dispatch()
    assert [c[2] for c in calls] == [6, 6, 6] and len({c[3] for c in calls}) == 3
    calls.clear()
    assert store.put_encoded_batch(_batch(same_tags[:1])).is_ok  # one record: its properties
    store.sync_dispatch()
    assert len(calls) == 1 and calls[0][4] is not None and dict(calls[0][4])["TAGS"] == "X"


def test_recovery_rebuilds_what_batch_dispatch_wrote(
    tiny_config: StoreConfig, tmp_path: Path
) -> None:
    """After a crash that lost the consume queues and index, dispatch rebuilds them from the
    log (the parse path) exactly as batch dispatch wrote them."""
    config = _config(tiny_config, tmp_path, "rebuild")
    store = MessageStore(config)
    store.start()
    for start in range(0, 40, 8):
        assert store.put_encoded_batch(_batch(_entries(8, start), queue_id=start % 3)).is_ok
    store.sync_dispatch()
    store.shutdown()
    before = {q: _read_queue(config, q) for q in range(3)}
    for directory in (config.consume_queue_dir, config.index_dir):
        for root, _dirs, files in os.walk(directory):
            for name in files:
                os.unlink(os.path.join(root, name))
    reopened = MessageStore(config)
    reopened.start()
    try:
        reopened.sync_dispatch()
        for queue_id in range(3):
            got = reopened.get_message("g", "T", queue_id, 0, 64)
            assert [m.body for m in decode_records(got.body())] == before[queue_id]
        assert reopened.query_message("T", "k33", 4, 0, 2**62).commitlog_offsets
    finally:
        reopened.shutdown()


def _read_queue(config: StoreConfig, queue_id: int) -> list[bytes]:
    store = MessageStore(config)
    store.start()
    try:
        got = store.get_message("g", "T", queue_id, 0, 64)
        return [m.body for m in decode_records(got.body())]
    finally:
        store.shutdown()


def test_index_repairs_entries_written_past_its_header(tmp_path: Path) -> None:
    """A crash between a batch's index entries and the header: loading the newest file drops
    the entries past ``indexCount`` and points their slots back along the chains, so older
    entries sharing a slot stay reachable."""
    directory = str(tmp_path / "index")
    service = IndexService(directory, 2, 64)
    service.load(RecoveryReport())
    older = [(service._hash("T", f"k{i}"), 100 + i) for i in range(4)]
    service.put_entries(older, 1_700_000_000_000)
    index_file = service.files[-1]
    header = bytes(index_file.mapped.mm[: HEADER.size])
    crashed = [(service._hash("T", f"k{i}"), 200 + i) for i in range(4)]
    service.put_entries(crashed, 1_700_000_000_000)
    index_file.mapped.mm[: HEADER.size] = header  # the header write never happened
    index_file.mapped.mm.flush()
    service.close()
    reloaded = IndexService(directory, 2, 64)
    report = RecoveryReport()
    reloaded.load(report)
    assert report.index_entries_dropped == 4
    for i in range(4):
        offsets, _ts, _phy = reloaded.query("T", f"k{i}", 8, 0, 2**62)
        assert offsets == [100 + i]
    reloaded.put_entries(crashed, 1_700_000_000_000)  # the dispatcher writes them again
    for i in range(4):
        assert reloaded.query("T", f"k{i}", 8, 0, 2**62)[0] == [200 + i, 100 + i]
    reloaded.close()


def test_batch_index_hashes_equal_java_hash_of_topic_and_key(tmp_path: Path) -> None:
    """The batch path hashes UNIQ_KEY from its bytes, reusing the previous key's head and a
    cache of tail shares: the result is abs(Java hashCode of topic#key) for every kind of key
    (producer ids sharing a head, short, non-ASCII, a non-ASCII tail after an ASCII head)."""
    service = IndexService(str(tmp_path / "index"), 8, 16)
    keys = [f"C0A8000100002A9F{i * 7919:016X}" for i in range(300)]
    keys += ["k", "abcd", "abcde", "\u00e9" * 6, "h\u00e9llo-world"]
    # same byte length and head as the key before, non-ASCII tail: the general path
    keys += ["C0A8000100002A9F000000000000ABCD", "C0A8000100002A9F00000000000000\u00e9"]
    keys += [f"prefix-{i}" for i in range(50)]
    props = [
        (f"UNIQ_KEY\x01{k}\x02" if i % 3 else f"TAGS\x01x\x02UNIQ_KEY\x01{k}\x02").encode()
        for i, k in enumerate(keys)
    ]
    entries = service.batch_entries("Topic", 0, [10] * len(props), props, 0)
    assert [h for h, _phys in entries] == [key_hash("Topic", k) for k in keys]
    assert [phys for _h, phys in entries] == [10 * i for i in range(len(keys))]


def test_a_refused_append_at_a_segment_end_writes_no_filler(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    """A flag or born timestamp out of its field's range is refused before the BLANK filler
    and the next segment an append that does not fit the segment's rest would need."""
    store = open_store(tiny_config)
    while store.commitlog.max_offset < tiny_config.mapped_file_size_commit_log - 600:
        assert store.put_encoded_batch(_batch(_entries(1))).is_ok
    end, files = store.commitlog.max_offset, len(store.commitlog.queue.files)
    big = b"x" * 800  # does not fit the rest of the segment
    refused = [
        store.put_encoded_batch(_batch([(2**31, big, b"")])),
        store.put_messages(_messages([(2**31, big, b"")])),
        store.put_message(_messages([(2**31, big, b"")])[0]),
    ]
    late = _messages([(0, big, b"")])[0]
    late.born_timestamp = 2**63
    refused.append(store.put_message(late))
    assert [r.status for r in refused] == [PutMessageStatus.MESSAGE_ILLEGAL] * 4
    assert store.commitlog.max_offset == end and len(store.commitlog.queue.files) == files
    assert store.put_encoded_batch(_batch([(0, big, b"")])).is_ok  # rolls now
    assert store.commitlog.max_offset > end and len(store.commitlog.queue.files) == files + 1
