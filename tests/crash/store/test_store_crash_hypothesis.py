"""Torn-write crash simulation: write N messages, damage the commit log, reopen.

Damage = cut at any byte (the rest of the segment zeroed, or the file truncated there and
later segments removed) and, with RocketMQ's ``__CRC32#`` record CRC enabled, random bytes
flipped around the cut. The recovered log must be exactly the longest undamaged prefix of
what was written; consume queues and the index must agree with it; appends must continue at
its end with the right queue offsets.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_records
from rmq_core.store import MessageStore, StoreConfig
from rmq_core.store.commitlog import check_record

pytestmark = pytest.mark.crash

SEGMENT = 4096


@dataclass
class Item:
    """A record or a BLANK filler as written: global offset and its meaningful bytes."""

    offset: int
    data: bytes
    end: int  # where the log ends if this is the last intact item
    index: int = -1  # message number for records, -1 for BLANK


def _config(root: str, prop_crc: bool) -> StoreConfig:
    return StoreConfig(
        store_path_root_dir=root,
        mapped_file_size_commit_log=SEGMENT,
        mapped_file_size_consume_queue=6 * 20,
        max_hash_slot_num=4,
        max_index_num=12,
        enabled_append_prop_crc=prop_crc,
    )


def _message(i: int, body: bytes, with_props: bool) -> MessageExtBrokerInner:
    props = {"KEYS": f"k{i}", "UNIQ_KEY": f"U{i}", "TAGS": f"t{i % 2}"} if with_props else {}
    return MessageExtBrokerInner(
        topic="Crash",
        body=body,
        properties=props,
        queue_id=i % 3,
        born_host="10.0.0.9:4000",
        store_host="127.0.0.1:10911",
    )


def _segments(root: str) -> list[Path]:
    return sorted((Path(root) / "commitlog").iterdir())


def _written_items(root: str) -> list[Item]:
    items: list[Item] = []
    number = 0
    for path in _segments(root):
        data = path.read_bytes()
        base = int(path.name)
        pos = 0
        while pos < len(data):
            size, req, _reason = check_record(data, pos, len(data) - pos, base, check_crc=True)
            if req is not None:
                items.append(Item(base + pos, data[pos : pos + size], base + pos + size, number))
                number += 1
                pos += size
            elif size > 0:
                items.append(Item(base + pos, data[pos : pos + 8], base + SEGMENT))
                break
            else:
                break
    return items


def _damage(root: str, cut: int, truncate: bool, flips: list[tuple[int, int]]) -> None:
    for path in _segments(root):
        base = int(path.name)
        if base + SEGMENT <= cut:
            continue
        if base > cut and truncate:
            path.unlink()
            continue
        with open(path, "r+b") as fh:
            pos = max(cut - base, 0)
            if truncate:
                fh.truncate(pos)
            else:
                fh.seek(pos)
                fh.write(bytes(SEGMENT - pos))
    for at, xor in flips:
        for path in _segments(root):
            base = int(path.name)
            if base <= at < base + path.stat().st_size:
                with open(path, "r+b") as fh:
                    fh.seek(at - base)
                    old = fh.read(1)
                    fh.seek(at - base)
                    fh.write(bytes([old[0] ^ xor]))


def _intact(root: str, item: Item) -> bool:
    path = Path(root) / "commitlog" / f"{item.offset - item.offset % SEGMENT:020d}"
    if not path.exists():
        return False
    with open(path, "rb") as fh:
        fh.seek(item.offset % SEGMENT)
        data = fh.read(len(item.data))
    # a truncated segment is read back zero-extended to its full size
    return data.ljust(len(item.data), b"\x00") == item.data


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    bodies=st.lists(st.binary(max_size=700), min_size=1, max_size=24),
    with_props=st.lists(st.booleans(), min_size=24, max_size=24),
    cut_at=st.floats(min_value=0.0, max_value=1.0),
    truncate=st.booleans(),
    prop_crc=st.booleans(),
    flips=st.lists(
        st.tuples(st.integers(min_value=-400, max_value=600), st.integers(1, 255)), max_size=4
    ),
)
def test_recovered_log_is_the_undamaged_prefix(
    bodies: list[bytes],
    with_props: list[bool],
    cut_at: float,
    truncate: bool,
    prop_crc: bool,
    flips: list[tuple[int, int]],
) -> None:
    root = tempfile.mkdtemp(prefix="rmq-crash-")
    try:
        _run_case(root, bodies, with_props, cut_at, truncate, prop_crc, flips)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_case(
    root: str,
    bodies: list[bytes],
    with_props: list[bool],
    cut_at: float,
    truncate: bool,
    prop_crc: bool,
    flips: list[tuple[int, int]],
) -> None:
    config = _config(root, prop_crc)
    store = MessageStore(config)
    store.start()
    for i, body in enumerate(bodies):
        assert store.put_message(_message(i, body, with_props[i])).is_ok
    store.sync_dispatch()
    written_end = store.max_phy_offset
    store.shutdown()
    Path(root, "abort").touch()  # the process "died": recovery must treat it as a crash
    items = _written_items(root)
    assert sum(1 for it in items if it.index >= 0) == len(bodies)
    cut = int(cut_at * written_end)
    # Without a whole-record CRC only zeroed tails are detectable (RocketMQ's format checks
    # the body CRC only), so random flips are exercised with enabledAppendPropCRC.
    applied = [(cut + rel, xor) for rel, xor in flips if cut + rel >= 0] if prop_crc else []
    _damage(root, cut, truncate, applied)

    expected: list[Item] = []
    for item in items:
        if not _intact(root, item):
            break
        expected.append(item)
    expected_end = expected[-1].end if expected else 0
    records = [it for it in expected if it.index >= 0]
    kept = {it.index for it in records}

    store = MessageStore(config)
    report = store.start()
    try:
        assert store.max_phy_offset == expected_end
        if len(records) < len(bodies):
            assert report.dropped or report.notes or report.consume_queue_units_dropped
        for item in records:
            assert store.select_one_message_by_offset(item.offset) == item.data
        assert store.select_one_message_by_offset(expected_end) is None
        for queue_id in range(3):
            want = [it.data for it in records if it.index % 3 == queue_id]
            assert store.get_max_offset_in_queue("Crash", queue_id) == len(want)
            got = store.get_message("g", "Crash", queue_id, 0, 1000)
            assert [bytes(m) for m in got.messages] == want
            del got
        for i in range(len(bodies)):
            if not with_props[i]:
                continue
            found = store.query_message("Crash", f"k{i}", 8, 0, 2**62)
            bodies_found = [m.body for m in decode_records(found.body())]
            assert bodies_found == ([bodies[i]] if i in kept else [])
            del found
        # appends continue at the recovered end with the right queue offset
        result = store.put_message(_message(99, b"after", True))
        append = result.append_result
        assert append is not None
        assert append.wrote_offset in (
            expected_end,
            expected_end - expected_end % SEGMENT + SEGMENT,
        )
        assert append.queue_offset == sum(1 for it in records if it.index % 3 == 0)
        store.sync_dispatch()
        got = store.get_message("g", "Crash", 0, append.queue_offset, 1)
        assert [m.body for m in decode_records(got.body())] == [b"after"]
        del got
    finally:
        store.shutdown()
