"""Recovery on bad input: unknown files, wrong-sized or truncated segments, damaged
checkpoint, corrupt records, damaged consume-queue and index files. The store always starts,
keeps every intact record before the damage and reports what it dropped."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_records
from rmq_core.store import MessageStore, StoreConfig

MakeMessage = Callable[..., MessageExtBrokerInner]


def _fill(config: StoreConfig, make_message: MakeMessage, count: int = 30) -> list[int]:
    """Write ``count`` ~200-byte messages (several segments) and shut down; return offsets."""
    store = MessageStore(config)
    store.start()
    offsets = []
    for i in range(count):
        result = store.put_message(make_message(f"body-{i:03d}".encode() * 10, KEYS=f"k{i}"))
        assert result.append_result is not None
        offsets.append(result.append_result.wrote_offset)
    store.shutdown()
    return offsets


def _bodies(store: MessageStore) -> list[bytes]:
    got = store.get_message("g", "T", 0, 0, 1000, max_total_bytes=1 << 30)
    return [m.body for m in decode_records(got.body())]


def _expected(count: int) -> list[bytes]:
    return [f"body-{i:03d}".encode() * 10 for i in range(count)]


def _segments(config: StoreConfig) -> list[Path]:
    return sorted(Path(config.commit_log_dir).iterdir())


def test_unknown_files_are_reported_and_left_alone(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    _fill(tiny_config, make_message)
    strangers = [
        Path(tiny_config.commit_log_dir) / "notes.txt",
        Path(tiny_config.consume_queue_dir) / "T" / "zero",
        Path(tiny_config.index_dir) / "README",
    ]
    for path in strangers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not ours")
    store = MessageStore(tiny_config)
    report = store.start()
    try:
        assert sorted(report.unknown_files) == sorted(str(p) for p in strangers)
        assert not report.dropped
        assert _bodies(store) == _expected(30)
    finally:
        store.shutdown()
    assert all(p.read_text() == "not ours" for p in strangers)


def test_truncated_segment_keeps_records_before_the_cut(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    offsets = _fill(tiny_config, make_message, count=60)
    second = _segments(tiny_config)[1]
    base = int(second.name)
    cut = next(o for o in offsets if o > base + 500) + 50  # inside a record of segment 2
    with open(second, "r+b") as fh:
        fh.truncate(cut - base)
    store = MessageStore(tiny_config)
    report = store.start()
    try:
        kept = sum(1 for o in offsets if o < cut - 50)
        assert _bodies(store) == _expected(kept)
        assert store.max_phy_offset == cut - 50
        assert report.lost_data and any("extended" in n for n in report.notes)
        assert report.quarantined  # the later segments went to quarantine, not away
        assert all(os.path.exists(p) for p in report.quarantined)
        assert store.put_message(make_message(b"next")).append_result.queue_offset == kept  # type: ignore[union-attr]
    finally:
        store.shutdown()


def test_oversized_segment_is_quarantined_with_its_successors(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    offsets = _fill(tiny_config, make_message)
    segments = _segments(tiny_config)
    with open(segments[1], "ab") as fh:
        fh.write(b"\xff" * 100)
    store = MessageStore(tiny_config)
    report = store.start()
    try:
        base = int(segments[1].name)
        assert _bodies(store) == _expected(sum(1 for o in offsets if o < base))
        assert len(report.quarantined) == len(segments) - 1
        assert any("larger" in d.reason for d in report.dropped)
    finally:
        store.shutdown()


def test_missing_or_damaged_checkpoint_means_full_scan(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    _fill(tiny_config, make_message)
    checkpoint = Path(tiny_config.store_path_root_dir) / "checkpoint"
    for damage in (b"garbage", None):
        if damage is None:
            checkpoint.unlink()
        else:
            checkpoint.write_bytes(damage)
        store = MessageStore(tiny_config)
        report = store.start()
        try:
            assert report.checkpoint_status == ("missing" if damage is None else "damaged")
            assert report.records_scanned == 30 and report.scan_from == 0
            assert _bodies(store) == _expected(30)
        finally:
            store.shutdown()


def test_corrupt_body_ends_the_log_after_a_crash(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    offsets = _fill(tiny_config, make_message)
    victim = offsets[17]
    path = Path(tiny_config.commit_log_dir) / f"{victim - victim % 4096:020d}"
    with open(path, "r+b") as fh:
        fh.seek(victim % 4096 + 100)  # inside the body
        byte = fh.read(1)
        fh.seek(victim % 4096 + 100)
        fh.write(bytes([byte[0] ^ 0x40]))
    Path(tiny_config.store_path_root_dir, "abort").touch()
    store = MessageStore(tiny_config)
    report = store.start()
    try:
        assert _bodies(store) == _expected(17)
        assert any("body CRC" in d.reason for d in report.dropped)
        assert store.query_message("T", "k16", 4, 0, 2**62).messages != []
        assert store.query_message("T", "k17", 4, 0, 2**62).messages == []
        assert store.look_message_by_offset(victim) is None
    finally:
        store.shutdown()


def test_damaged_consume_queue_tail_is_dropped_and_refilled(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    _fill(tiny_config, make_message, count=12)
    cq_dir = Path(tiny_config.consume_queue_dir) / "T" / "0"
    last = sorted(cq_dir.iterdir())[-1]
    data = bytearray(last.read_bytes())
    used = len(data.rstrip(b"\x00"))
    used += (-used) % 20
    data[used - 20 : used - 8] = (12345).to_bytes(8, "big") + (77).to_bytes(4, "big")
    last.write_bytes(bytes(data))
    store = MessageStore(tiny_config)
    report = store.start()
    try:
        assert report.consume_queue_units_dropped == 1
        assert report.redispatched_from < store.max_phy_offset
        assert _bodies(store) == _expected(12)
    finally:
        store.shutdown()


def test_damaged_index_files_are_rebuilt(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    _fill(tiny_config, make_message)
    index_files = sorted(Path(tiny_config.index_dir).iterdir())
    assert len(index_files) >= 2
    index_files[0].write_bytes(b"\x7f" * index_files[0].stat().st_size)  # header garbage
    with open(index_files[-1], "ab") as fh:
        fh.write(b"\x00" * 10)  # wrong size
    store = MessageStore(tiny_config)
    report = store.start()
    try:
        assert sum(1 for d in report.dropped if d.what == "index") == 2
        for i in (0, 13, 29):
            found = store.query_message("T", f"k{i}", 4, 0, 2**62)
            assert [m.body for m in decode_records(found.body())] == _expected(30)[i : i + 1]
            del found
    finally:
        store.shutdown()
