"""Records the dispatcher parses back from the log (after a restart, or past the description
bounds) are described in runs (``describe_runs``) and dispatched as batches: the same
consume-queue units and index entries as dispatching them from the writers' descriptions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import rmq_core.store.commitlog as commitlog_module
from rmq_core.common.message import MessageExtBrokerInner, MessageSysFlag
from rmq_core.store import EncodedBatch, MessageStore, StoreConfig
from rmq_core.store.commitlog import SCHEDULE_TOPIC, describe_runs
from tests.support.store_fixtures import FROZEN_STORE_NS, dispatched_files, roomy_config

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]


def _append_all(store: MessageStore, make_message: MakeMessage) -> None:
    """Single messages alternating queues, a run to one queue, a batch, a PREPARED message
    and a delayed one (SCHEDULE_TOPIC), with TAGS, KEYS and UNIQ_KEY."""
    for i in range(12):
        msg = make_message(f"m{i}".encode(), queue_id=0 if i < 6 else i % 2, TAGS=f"t{i % 3}",
                           UNIQ_KEY=f"U{i:010d}", KEYS=f"k{i} shared")  # fmt: skip
        assert store.put_message(msg).is_ok
    entries = [(0, b"b%d" % i, b"TAGS\x01tb\x02UNIQ_KEY\x01B%010d\x02" % i) for i in range(5)]
    batch = EncodedBatch("T", 2, 0, 1_700_000_000_000, "10.1.2.3:50000", "127.0.0.1:10911",
                         entries)  # fmt: skip
    assert store.put_encoded_batch(batch).is_ok
    prepared = make_message(b"half", queue_id=0, UNIQ_KEY="P0000000001")
    prepared.sys_flag = MessageSysFlag.TRANSACTION_PREPARED_TYPE
    assert store.put_message(prepared).is_ok
    delayed = make_message(b"later", topic=SCHEDULE_TOPIC, queue_id=1, TAGS="td", DELAY="2",
                           REAL_TOPIC="T", REAL_QID="0")  # fmt: skip
    assert store.put_message(delayed).is_ok
    assert store.put_message(make_message(b"last", queue_id=1, TAGS="t0")).is_ok


def test_parsed_back_records_give_the_same_units_and_index_entries(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commitlog_module.time, "time_ns", lambda: FROZEN_STORE_NS)
    described = open_store(roomy_config(tiny_config, "-described"))
    parsed = open_store(roomy_config(tiny_config, "-parsed"))
    _append_all(described, make_message)
    parsed.reput.shutdown()
    with parsed.reput.lock:  # nothing dispatched inline; then forget every description
        _append_all(parsed, make_message)
        parsed.commitlog.pending_dispatch.clear()
    parsed.sync_dispatch()
    assert parsed.dispatch_behind_bytes == 0
    described.sync_dispatch()
    described.flush()
    parsed.flush()
    expected = dispatched_files(described.root)
    assert len(expected) >= 5 and dispatched_files(parsed.root) == expected
    assert parsed.get_max_offset_in_queue("T", 2) == 5
    assert len(parsed.query_message("T", "shared", 32, 0, 2**62).messages) == 12


def test_describe_runs_splits_where_queue_or_kind_changes(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commitlog_module.time, "time_ns", lambda: FROZEN_STORE_NS)  # one store ms
    store = open_store(roomy_config(tiny_config))
    store.reput.shutdown()
    with store.reput.lock:
        for queue_id in (0, 0, 0, 1, 1, 0):
            assert store.put_message(make_message(b"x", queue_id=queue_id, TAGS="a")).is_ok
        prepared = make_message(b"half", queue_id=0)
        prepared.sys_flag = MessageSysFlag.TRANSACTION_PREPARED_TYPE
        assert store.put_message(prepared).is_ok
    mapped = store.commitlog.queue.files[0]
    wrote = mapped.wrote_position
    covered, runs = describe_runs(mapped.mm, 0, wrote, 0)
    assert [(run[3], run[4], len(run[7])) for run in runs] == [(0, 0, 3), (1, 0, 2), (0, 3, 1)]
    assert [run[0] for run in runs[1:]] == [runs[0][0] + runs[0][1], runs[1][0] + runs[1][1]]
    assert covered == sum(run[1] for run in runs) < wrote  # stops at the PREPARED record
    assert all(props == [b"TAGS\x01a\x02"] * len(props) for *_head, props in runs)
    assert describe_runs(mapped.mm, covered, wrote - covered, 0) == (0, [])
    monkeypatch.setattr(commitlog_module, "RUN_MAX_RECORDS", 2)
    covered_two, two = describe_runs(mapped.mm, 0, wrote, 0)
    assert [len(run[7]) for run in two] == [2] and covered_two == two[0][1]


def test_sync_flush_single_sends_are_readable_when_the_waiter_answers(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """Under SYNC_FLUSH ``put_message(msg, flush_future=False, defer_dispatch=True)`` (the
    broker's single send) defers the dispatch to the loop; the flush waiter answers only once
    it ran, also when it answers without yielding (bytes already flushed). Without
    ``defer_dispatch`` (the default, whatever WAIT says) the put dispatches inline."""
    store = open_store(roomy_config(tiny_config).replace(flush_disk_type="SYNC_FLUSH"))
    store.reput.shutdown()  # only the store's own passes below
    assert store.put_message(make_message(b"first")).is_ok
    store.sync_dispatch()  # the files exist: inline and deferred passes never create one

    async def send() -> None:
        waiter = store.flush_waiter(asyncio.get_running_loop())
        assert waiter is not None
        result = store.put_message(make_message(b"a"), flush_future=False,
                                   defer_dispatch=True)  # fmt: skip
        assert result.append_result is not None and store.dispatch_behind_bytes > 0
        assert await waiter.wait(result.append_result.end_offset)
        assert store.get_max_offset_in_queue("T", 0) == 2
        result = store.put_message(make_message(b"b"), flush_future=False,
                                   defer_dispatch=True)  # fmt: skip
        assert result.append_result is not None and store.dispatch_behind_bytes > 0
        store.group_commit.run_once()  # type: ignore[union-attr]  # flushed: no yield below
        assert await waiter.wait(result.append_result.end_offset)
        assert store.get_max_offset_in_queue("T", 0) == 3
        no_wait = store.put_message(make_message(b"c", WAIT="false"), flush_future=False)
        assert no_wait.is_ok and store.get_max_offset_in_queue("T", 0) == 4
        inline = store.put_message(make_message(b"d"), flush_future=False)
        assert inline.is_ok and store.get_max_offset_in_queue("T", 0) == 5

    asyncio.run(send())


RAW_PROPERTIES = [
    b"TAGS\x01TagA\x02UNIQ_KEY\x01C0A8000100002A9F00000000000007D0\x02",
    b"UNIQ_KEY\x01C0A8000100002A9F00000000000007D1\x02TAGS\x01TagB\x02",
    b"UNIQ_KEY\x01abcd\x02",
    b"UNIQ_KEY\x01\x02",
    b"UNIQ_KEY\x01C0A8",
    "UNIQ_KEY\x01ключ-уникальный\x02".encode(),
    b"XUNIQ_KEY\x01notthis\x02UNIQ_KEY\x01C0A8000100002A9F00000000000007D2\x02",
    b"TAGS\x01t\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C0A8000100002A9F00000000000007D3\x02",
    b"TAGS\x01\x02",
    b"WAIT\x01true\x02TAGS\x01late\x02",
    b"",
]


@pytest.mark.parametrize("raw", RAW_PROPERTIES)
def test_one_record_entries_match_the_batch_function(
    tiny_config: StoreConfig, open_store: OpenStore, raw: bytes
) -> None:
    index = open_store(roomy_config(tiny_config)).index
    for phys in (100, 5000):
        assert index.record_entries("T", phys, 120, raw, 0) == index.batch_entries(
            "T", phys, [120], [raw], 0
        )
    rollback = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE
    assert index.record_entries("T", 100, 120, raw, rollback) == []
    index.put_entries([(1, 5000)], 1_700_000_000_000)  # indexed up to 5000: skipped below it
    assert index.record_entries("T", 100, 120, raw, 0) == []
    assert index.record_entries("T", 6000, 120, raw, 0) == index.batch_entries(
        "T", 6000, [120], [raw], 0
    )
