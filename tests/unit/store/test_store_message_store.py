"""MessageStore behaviour: layout on disk, puts, gets, batches, queries, offsets, filters."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_record, decode_records, java_string_hash
from rmq_core.store import (
    GetMessageStatus,
    MessageStore,
    PutMessageStatus,
    StoreConfig,
)
from rmq_core.store.formats.consume_queue import CQ_UNIT

OpenStore = Callable[[StoreConfig], MessageStore]
MakeMessage = Callable[..., MessageExtBrokerInner]


def _i32(v: int) -> bytes:
    return v.to_bytes(4, "big", signed=True)


def _i64(v: int) -> bytes:
    return v.to_bytes(8, "big", signed=True)


def test_golden_stored_record_bytes(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    msg = make_message(b"golden body", topic="GoldenTopic", queue_id=2, TAGS="TagA")
    msg.flag = 7
    result = store.put_message(msg)
    assert result.status is PutMessageStatus.PUT_OK
    append = result.append_result
    assert append is not None and append.wrote_offset == 0
    store.flush()
    body, topic, props = b"golden body", b"GoldenTopic", b"TAGS\x01TagA\x02"
    total = 91 + len(body) + len(topic) + len(props)
    expected = b"".join(
        [
            _i32(total),  # TOTALSIZE
            bytes.fromhex("DAA320A7"),  # MAGICCODE (V1)
            _i32(zlib.crc32(body) & 0x7FFFFFFF),  # BODYCRC, masked
            _i32(2),  # QUEUEID
            _i32(7),  # FLAG
            _i64(0),  # QUEUEOFFSET: first message of queue 2
            _i64(0),  # PHYSICALOFFSET
            _i32(0),  # SYSFLAG
            _i64(1_700_000_000_000),  # BORNTIMESTAMP
            bytes([10, 1, 2, 3]) + _i32(50000),  # BORNHOST
            _i64(append.store_timestamp),  # STORETIMESTAMP (assigned by the store)
            bytes([127, 0, 0, 1]) + _i32(10911),  # STOREHOST
            _i32(0),  # RECONSUMETIMES
            _i64(0),  # PREPARED_TRANSACTION_OFFSET
            _i32(len(body)) + body,
            bytes([len(topic)]) + topic,
            len(props).to_bytes(2, "big") + props,
        ]
    )
    segment = Path(tiny_config.commit_log_dir) / "00000000000000000000"
    assert segment.stat().st_size == 4096
    assert segment.read_bytes()[:total] == expected
    assert append.msg_id == "7F00000100002A9F0000000000000000"
    store.sync_dispatch()
    unit = Path(tiny_config.consume_queue_dir) / "GoldenTopic" / "2" / "00000000000000000000"
    assert CQ_UNIT.unpack_from(unit.read_bytes(), 0) == (0, total, java_string_hash("TagA"))


def test_put_get_round_trip_and_statuses(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    assert store.get_message("g", "T", 0, 0, 32).status is GetMessageStatus.NO_MATCHED_LOGIC_QUEUE
    for i in range(40):  # ~110 bytes each: rolls several 4 KiB segments
        assert store.put_message(make_message(f"m{i}".encode(), queue_id=i % 2)).is_ok
    store.sync_dispatch()
    assert len(os.listdir(tiny_config.commit_log_dir)) >= 2
    assert store.get_max_offset_in_queue("T", 0) == 20
    got = store.get_message("g", "T", 0, 0, 8)
    assert got.status is GetMessageStatus.FOUND
    assert got.next_begin_offset == 8 and got.max_offset == 20 and got.min_offset == 0
    decoded = decode_records(got.body())
    assert [m.body for m in decoded] == [f"m{i}".encode() for i in range(0, 16, 2)]
    assert [m.queue_offset for m in decoded] == list(range(8))
    del got, decoded
    at_end = store.get_message("g", "T", 0, 20, 8)
    assert (at_end.status, at_end.next_begin_offset) == (GetMessageStatus.OFFSET_OVERFLOW_ONE, 20)
    beyond = store.get_message("g", "T", 0, 25, 8)
    assert beyond.status is GetMessageStatus.OFFSET_OVERFLOW_BADLY
    assert beyond.next_begin_offset == 0  # min offset is 0, as RocketMQ answers
    # every record is readable by physical offset, including across the segment rolls
    for offset in range(0, 20, 3):
        got = store.get_message("g", "T", 1, offset, 1)
        raw = bytes(got.messages[0])
        del got
        phys = decode_record(raw)[0].commitlog_offset
        looked = store.look_message_by_offset(phys)
        assert looked is not None and looked.body == f"m{offset * 2 + 1}".encode()
        assert store.select_one_message_by_offset(phys) == raw


def test_segment_end_gets_blank_filler(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    offsets = []
    for _ in range(5):
        result = store.put_message(make_message(b"x" * 900))
        assert result.append_result is not None
        offsets.append(result.append_result.wrote_offset)
    assert offsets[4] == 4096  # 4 records of ~1 KiB fill the first segment
    store.flush()
    data = (Path(tiny_config.commit_log_dir) / "00000000000000000000").read_bytes()
    end = offsets[3] + (offsets[3] - offsets[2])
    assert data[end : end + 8] == _i32(4096 - end) + bytes.fromhex("CBD43194")


def test_refused_messages(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config.replace(max_message_size=1000))
    assert store.put_message(make_message(b"x" * 1001)).status is PutMessageStatus.MESSAGE_ILLEGAL
    big_props = make_message(b"x", P="v" * 40000)
    assert store.put_message(big_props).status is PutMessageStatus.PROPERTIES_SIZE_EXCEEDED
    assert store.put_message(make_message(b"x", topic="a/b")).status is (
        PutMessageStatus.MESSAGE_ILLEGAL
    )
    too_big_for_segment = open_store(
        tiny_config.replace(store_path_root_dir=tiny_config.store_path_root_dir + "2")
    )
    result = too_big_for_segment.put_message(make_message(b"x" * 5000))
    assert result.status is PutMessageStatus.MESSAGE_ILLEGAL
    assert store.put_message(make_message(b"ok")).is_ok


def test_batch_is_consecutive_in_one_segment(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    assert store.put_message(make_message(b"x" * 3000)).is_ok
    batch = [make_message(f"b{i}".encode() * 50, UNIQ_KEY=f"U{i}") for i in range(5)]
    result = store.put_messages(batch)
    append = result.append_result
    assert result.is_ok and append is not None
    assert append.wrote_offset == 4096  # did not fit behind the first record: next segment
    assert append.msg_num == 5 and append.queue_offset == 1
    assert len(append.msg_id.split(",")) == 5
    store.sync_dispatch()
    got = store.get_message("g", "T", 0, 1, 10)
    assert [m.properties["UNIQ_KEY"] for m in decode_records(got.body())] == [
        f"U{i}" for i in range(5)
    ]
    assert [m.queue_offset for m in decode_records(got.body())] == [1, 2, 3, 4, 5]


def test_query_by_key_and_unique_key(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    for i in range(30):  # more entries than one index file holds (16)
        store.put_message(
            make_message(f"q{i}".encode(), KEYS=f"k{i % 5} order{i}", UNIQ_KEY=f"U{i}")
        )
    store.put_message(make_message(b"other", topic="Other", KEYS="k1"))
    store.sync_dispatch()
    assert len(os.listdir(tiny_config.index_dir)) >= 2
    found = store.query_message("T", "k1", 32, 0, 2**62)
    bodies = sorted(m.body for m in decode_records(found.body()))
    assert bodies == sorted(f"q{i}".encode() for i in range(1, 30, 5))
    found = store.query_message("T", "U17", 32, 0, 2**62)
    assert [m.body for m in decode_records(found.body())] == [b"q17"]
    assert store.query_message("T", "nope", 32, 0, 2**62).messages == []
    assert store.query_message("T", "k1", 2, 0, 2**62).commitlog_offsets.__len__() == 2
    assert store.query_message("T", "k1", 32, 0, 1000).messages == []  # outside the window


def test_offset_by_time(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    stamps = []
    for i in range(10):
        result = store.put_message(make_message(f"t{i}".encode()))
        assert result.append_result is not None
        stamps.append(result.append_result.store_timestamp)
    store.sync_dispatch()
    assert store.get_offset_in_queue_by_time("T", 0, 0) == 0
    assert store.get_offset_in_queue_by_time("T", 0, stamps[-1] + 1) == 10
    assert store.get_offset_in_queue_by_time("T", 0, stamps[-1] + 1, "UPPER") == 9
    middle = stamps[5]
    lower = store.get_offset_in_queue_by_time("T", 0, middle)
    assert stamps[lower] >= middle and (lower == 0 or stamps[lower - 1] < middle)
    upper = store.get_offset_in_queue_by_time("T", 0, middle, "UPPER")
    assert stamps[upper] <= middle and (upper == 9 or stamps[upper + 1] > middle)
    assert store.get_earliest_message_time("T", 0) == stamps[0]
    assert store.get_earliest_message_time("T", 5) == -1


class _TagFilter:
    def __init__(self, tag: str, prop: str | None = None) -> None:
        self.code = java_string_hash(tag)
        self.prop = prop
        self.commit_log_checks = 0

    def is_matched_by_consume_queue(self, tags_code: int | None) -> bool:
        return tags_code == self.code

    def is_matched_by_commit_log(self, properties: Mapping[str, str] | None) -> bool:
        self.commit_log_checks += 1
        return self.prop is None or (properties is not None and "color" in properties)


def test_filters_on_tags_and_properties(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    for i in range(12):
        props = {"TAGS": "A" if i % 3 == 0 else "B"}
        if i % 2 == 0:
            props["color"] = "red"
        store.put_message(make_message(f"f{i}".encode(), **props))
    store.sync_dispatch()
    only_a = store.get_message("g", "T", 0, 0, 32, _TagFilter("A"))
    assert [m.body for m in decode_records(only_a.body())] == [b"f0", b"f3", b"f6", b"f9"]
    assert only_a.next_begin_offset == 12
    colored = store.get_message("g", "T", 0, 0, 32, _TagFilter("A", prop="color"))
    assert [m.body for m in decode_records(colored.body())] == [b"f0", b"f6"]
    none = store.get_message("g", "T", 0, 0, 32, _TagFilter("C"))
    assert none.status is GetMessageStatus.NO_MATCHED_MESSAGE and none.next_begin_offset == 12


def test_transactional_records_skip_consume_queue(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    prepared = make_message(b"half")
    prepared.sys_flag = 0x4
    result = store.put_message(prepared)
    assert result.append_result is not None and result.append_result.queue_offset == 0
    assert store.put_message(make_message(b"normal")).append_result.queue_offset == 0  # type: ignore[union-attr]
    store.sync_dispatch()
    assert store.get_max_offset_in_queue("T", 0) == 1


def test_arrival_listener_and_restart_continues_offsets(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    store = MessageStore(tiny_config)
    store.start()
    arrivals: list[tuple[str, int, int, int, str | None]] = []
    store.add_arrival_listener(
        lambda t, q, off, tags, ts, props: arrivals.append((t, q, off, tags, props.get("TAGS")))
    )
    for i in range(5):
        store.put_message(make_message(f"a{i}".encode(), TAGS="x"))
    store.sync_dispatch()
    assert arrivals == [("T", 0, i + 1, java_string_hash("x"), "x") for i in range(5)]
    end = store.max_phy_offset
    store.shutdown()
    again = MessageStore(tiny_config)
    report = again.start()
    try:
        assert report.scan_from == end and not report.dropped
        result = again.put_message(make_message(b"after"))
        assert result.append_result is not None
        assert result.append_result.queue_offset == 5
        assert result.append_result.wrote_offset == end
    finally:
        again.shutdown()


def test_consume_queues_and_index_rebuild_from_commit_log(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    store = MessageStore(tiny_config)
    store.start()
    for i in range(25):
        store.put_message(make_message(f"r{i}".encode(), queue_id=i % 3, KEYS=f"key{i}"))
    store.shutdown()
    for directory in (tiny_config.consume_queue_dir, tiny_config.index_dir):
        for dirpath, _dirs, files in os.walk(directory):
            for name in files:
                os.unlink(os.path.join(dirpath, name))
    rebuilt = MessageStore(tiny_config)
    report = rebuilt.start()
    try:
        assert report.redispatched_from == 0
        assert [rebuilt.get_max_offset_in_queue("T", q) for q in range(3)] == [9, 8, 8]
        got = rebuilt.get_message("g", "T", 2, 0, 32)
        assert [m.body for m in decode_records(got.body())] == [
            f"r{i}".encode() for i in range(2, 25, 3)
        ]
        del got
        found = rebuilt.query_message("T", "key13", 4, 0, 2**62)
        assert [m.body for m in decode_records(found.body())] == [b"r13"]
    finally:
        rebuilt.shutdown()


def test_delete_topics(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    store.put_message(make_message(b"x", topic="Gone"))
    store.put_message(make_message(b"y", topic="Kept"))
    store.sync_dispatch()
    assert store.delete_topics({"Gone"}) == 1
    assert store.get_max_offset_in_queue("Gone", 0) == 0
    assert not os.path.exists(os.path.join(tiny_config.consume_queue_dir, "Gone"))
    assert store.get_max_offset_in_queue("Kept", 0) == 1
    assert store.put_message(make_message(b"z", topic="Gone")).append_result.queue_offset == 0  # type: ignore[union-attr]


def test_runtime_info_and_service_not_available(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    store = MessageStore(tiny_config)
    assert store.put_message(make_message()).status is PutMessageStatus.SERVICE_NOT_AVAILABLE
    store.start()
    store.put_message(make_message())
    info = store.runtime_info()
    assert info["commitLogMaxOffset"] == str(store.max_phy_offset)
    assert all(isinstance(v, str) for v in info.values())
    store.shutdown()
    assert store.put_message(make_message()).status is PutMessageStatus.SERVICE_NOT_AVAILABLE


def test_second_process_cannot_open_a_locked_store(
    tiny_config: StoreConfig, open_store: OpenStore
) -> None:
    import subprocess
    import sys

    open_store(tiny_config)
    code = (
        "import sys; from rmq_core.store import MessageStore, StoreConfig\n"
        "from rmq_core.errors import StoreError\n"
        f"s = MessageStore(StoreConfig(store_path_root_dir={tiny_config.store_path_root_dir!r}))\n"
        "try:\n    s.start()\nexcept StoreError as e:\n    print('locked', e); sys.exit(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "locked" in proc.stdout


def test_index_topic_hash_cache_is_bounded(
    tiny_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rmq_core.store.index as index_module
    from rmq_core.store.index import IndexService, key_hash

    monkeypatch.setattr(index_module, "_TOPIC_PREFIX_LIMIT", 4, raising=False)
    service = IndexService(tiny_config.index_dir, 8, 16)
    for n in range(20):
        assert service._hash(f"Topic{n}", "key") == key_hash(f"Topic{n}", "key")
        assert len(service._topic_prefix) <= 4


def test_index_key_head_cache_matches_java_hash_and_is_bounded(
    tiny_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rmq_core.store.index as index_module
    from rmq_core.store.index import IndexService, key_hash

    monkeypatch.setattr(index_module, "_HEAD_CACHE_LIMIT", 3, raising=False)
    service = IndexService(tiny_config.index_dir, 8, 16)
    keys = [f"7F0000010000{n:04X}C0DE1F2A0000{m:04X}" for n in range(6) for m in range(3)]
    keys += ["abcd", "abcde", "ключ-12345", "x" * 5000, "\ufffd" * 7]
    for key in keys:
        for topic in ("T", "主题"):
            assert service._hash(topic, key) == key_hash(topic, key), (topic, key)
            assert len(service._heads) <= 3


@pytest.mark.parametrize("host", ["127.0.0.1:10911", "[::1]:10911", "10.0.0.255:1"])
def test_batch_msg_ids_are_the_offset_ids_of_each_record(host: str) -> None:
    from rmq_core.common.message_codec import create_offset_msg_id
    from rmq_core.store.results import AppendMessageResult, AppendMessageStatus

    offsets = tuple(range(2**40, 2**40 + 5 * 1100, 1100))
    batch = AppendMessageResult(AppendMessageStatus.PUT_OK, offsets[0], 1, host, 0, 0, 5, offsets)
    assert batch.msg_id == ",".join(create_offset_msg_id(host, o) for o in offsets)
    single = AppendMessageResult(AppendMessageStatus.PUT_OK, 0, 1, host)
    assert single.msg_id == create_offset_msg_id(host, 0)
