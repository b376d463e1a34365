"""``CommitLog.put_encoded`` of a uniform batch (every body of one length, every properties
string of one length, no ``__CRC32#`` property): packed by one struct straight into the segment,
with the same bytes, results, refusals and dispatch as ``put_messages`` of the same messages."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import rmq_core.store.commitlog as commitlog_module
from rmq_core.common.message import MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import decode_records
from rmq_core.store import EncodedBatch, MessageStore, PutMessageStatus, StoreConfig

OpenStore = Callable[[StoreConfig], MessageStore]
Entries = list[tuple[int, bytes, bytes]]

_BORN = "10.1.2.3:50000"
_STORE = "127.0.0.1:10911"
_BORN_MS = 1_700_000_000_000


class _FrozenClock:
    """Stands in for the ``time`` module in the commit log: one store time for every append
    (index files hold store times)."""

    @staticmethod
    def time_ns() -> int:
        return 1_750_000_000_000 * 1_000_000


_SEGMENT = 64 * 1024


def _roomy(config: StoreConfig, root: Path) -> StoreConfig:
    """``config`` rooted at ``root`` with 64 KiB segments (a batch of 32 fits) and consume
    queues and index files no test here fills."""
    return config.replace(store_path_root_dir=str(root), mapped_file_size_commit_log=_SEGMENT,
                          mapped_file_size_consume_queue=1000 * 20, max_index_num=1000,
                          max_hash_slot_num=64)  # fmt: skip


def frozen_store_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commitlog_module, "time", _FrozenClock)


def store_files(root: str) -> dict[str, bytes]:
    """Every commit-log, consume-queue and index file under ``root`` by relative path (index
    files, named after the wall clock, by their rank)."""
    out: dict[str, bytes] = {}
    for sub in ("commitlog", "consumequeue", "index"):
        for directory, _dirs, names in os.walk(os.path.join(root, sub)):
            for rank, name in enumerate(sorted(names)):
                path = os.path.join(directory, name)
                key = f"index #{rank}" if sub == "index" else os.path.relpath(path, root)
                with open(path, "rb") as fh:
                    out[key] = fh.read()
    return out


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
    entries: Entries, queue_id: int = 0, sys_flag: int = 0
) -> list[MessageExtBrokerInner]:
    return [
        MessageExtBrokerInner(topic="T", body=body, flag=flag, queue_id=queue_id,
                              sys_flag=sys_flag, born_timestamp=_BORN_MS, born_host=_BORN,
                              store_host=_STORE, properties_string=props.decode())
        for flag, body, props in entries
    ]  # fmt: skip


def _batch(entries: Entries, queue_id: int = 0, sys_flag: int = 0) -> EncodedBatch:
    return EncodedBatch("T", queue_id, sys_flag, _BORN_MS, _BORN, _STORE, entries)


def test_uniform_batches_store_what_put_messages_stores(
    tiny_config: StoreConfig, open_store: OpenStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_store_time(monkeypatch)
    old = open_store(_roomy(tiny_config, tmp_path / "messages"))
    new = open_store(_roomy(tiny_config, tmp_path / "encoded"))
    prepared = MessageSysFlag.TRANSACTION_PREPARED_TYPE
    plan = [(0, 1, 0, 0, (0,)), (1, 7, 1, 0, (0, -5, 2**31 - 1, -(2**31))), (8, 32, 0, 0, (3,)),
            (40, 3, 1, prepared, (0,)), (43, 9, 1, 0, (0,))]  # fmt: skip
    for start, count, queue_id, sys_flag, flags in plan:
        entries = _uniform(count, start, flags)
        a = old.put_messages(_messages(entries, queue_id, sys_flag))
        b = new.put_encoded_batch(_batch(entries, queue_id, sys_flag))
        assert a.status is b.status is PutMessageStatus.PUT_OK
        assert a.append_result == b.append_result
    for store in (old, new):
        store.sync_dispatch()
        store.flush()
    assert store_files(new.root) == store_files(old.root)
    got = new.get_message("g", "T", 1, 0, 64)
    assert [m.body for m in decode_records(got.body())] == [
        e[1] for e in _uniform(7, 1) + _uniform(9, 43)
    ]
    flags = [m.flag for m in decode_records(got.body())][:7]
    assert flags == [-5, 2**31 - 1, -(2**31), 0, -5, 2**31 - 1, -(2**31)]
    assert new.query_message("T", "U00000041", 4, 0, 2**62).commitlog_offsets  # prepared


def test_a_uniform_batch_rolls_to_the_next_segment_as_put_messages_does(
    tiny_config: StoreConfig, open_store: OpenStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_store_time(monkeypatch)
    old = open_store(_roomy(tiny_config, tmp_path / "messages"))
    new = open_store(_roomy(tiny_config, tmp_path / "encoded"))
    start = 0
    while new.commitlog.max_offset < _SEGMENT - 2000:
        entries = _uniform(4, start)
        assert old.put_messages(_messages(entries)).is_ok
        assert new.put_encoded_batch(_batch(entries)).is_ok
        start += 4
    files = len(new.commitlog.queue.files)
    entries = _uniform(10, start)  # does not fit the rest of the segment
    a, b = old.put_messages(_messages(entries)), new.put_encoded_batch(_batch(entries))
    assert a.append_result == b.append_result and len(new.commitlog.queue.files) == files + 1
    for store in (old, new):
        store.sync_dispatch()
        store.flush()
    assert store_files(new.root) == store_files(old.root)


@pytest.mark.parametrize("flag", [2**31, -(2**31) - 1])
def test_a_uniform_batch_with_a_flag_out_of_range_is_refused_unwritten(
    tiny_config: StoreConfig, open_store: OpenStore, tmp_path: Path, flag: int
) -> None:
    store = open_store(_roomy(tiny_config, tmp_path / "store"))
    assert store.put_encoded_batch(_batch(_uniform(3))).is_ok
    end = store.commitlog.max_offset
    mapped = store.commitlog.queue.files[-1]
    refused = store.put_encoded_batch(_batch(_uniform(5, 3, (0, 0, flag))))
    assert refused.status is PutMessageStatus.MESSAGE_ILLEGAL
    assert store.commitlog.max_offset == end
    assert bytes(mapped.mm[end : end + 1024]) == bytes(1024)  # not one byte past the end


def test_a_uniform_batch_with_a_born_time_out_of_range_is_refused_unwritten(
    tiny_config: StoreConfig, open_store: OpenStore, tmp_path: Path
) -> None:
    store = open_store(_roomy(tiny_config, tmp_path / "store"))
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
