"""Golden bytes of commit-log records written by both put paths (one message, and a batch),
with and without the ``__CRC32#`` property: one layout, field by field (reference §4.1)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.store import MessageStore, PutMessageStatus, StoreConfig

OpenStore = Callable[[StoreConfig], MessageStore]
MakeMessage = Callable[..., MessageExtBrokerInner]


def _i32(v: int) -> bytes:
    return v.to_bytes(4, "big", signed=True)


def _i64(v: int) -> bytes:
    return v.to_bytes(8, "big", signed=True)


def _expected(
    msg: MessageExtBrokerInner, props: bytes, queue_offset: int, phys: int, store_ts: int, crc: bool
) -> bytes:
    """The record ``msg`` must become (IPv4 hosts as the conftest factory sets them)."""
    body, topic = msg.body, msg.topic.encode()
    props_len = len(props) + (20 if crc else 0)
    total = 91 + len(body) + len(topic) + props_len
    record = b"".join(
        [
            _i32(total),  # TOTALSIZE
            bytes.fromhex("DAA320A7"),  # MAGICCODE (V1)
            _i32(zlib.crc32(body) & 0x7FFFFFFF),  # BODYCRC
            _i32(msg.queue_id),  # QUEUEID
            _i32(msg.flag),  # FLAG
            _i64(queue_offset),  # QUEUEOFFSET
            _i64(phys),  # PHYSICALOFFSET
            _i32(0),  # SYSFLAG
            _i64(1_700_000_000_000),  # BORNTIMESTAMP
            bytes([10, 1, 2, 3]) + _i32(50000),  # BORNHOST
            _i64(store_ts),  # STORETIMESTAMP
            bytes([127, 0, 0, 1]) + _i32(10911),  # STOREHOST
            _i32(msg.reconsume_times),  # RECONSUMETIMES
            _i64(0),  # PREPARED_TRANSACTION_OFFSET
            _i32(len(body)) + body,
            bytes([len(topic)]) + topic,
            props_len.to_bytes(2, "big") + props,
        ]
    )
    if crc:  # masked CRC32 of everything before it, 10 digits least significant first
        value = zlib.crc32(record) & 0x7FFFFFFF
        record += b"__CRC32#\x01" + bytes(0x30 + (value // 10**i) % 10 for i in range(10)) + b"\x02"
    assert len(record) == total
    return record


@pytest.mark.parametrize("crc", [False, True], ids=["plain", "prop-crc"])
def test_batch_and_single_puts_write_the_same_record_layout(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage, crc: bool
) -> None:
    store = open_store(tiny_config.replace(enabled_append_prop_crc=crc))
    first = make_message(b"first body", topic="Layout", queue_id=3, TAGS="A")
    second = make_message(b"2nd", topic="Layout", queue_id=3, KEYS="k1 k2")
    first.flag, second.flag, second.reconsume_times = 5, 9, 2
    batch = store.put_messages([first, second])
    assert batch.status is PutMessageStatus.PUT_OK and batch.append_result is not None
    ts = batch.append_result.store_timestamp
    one = _expected(first, b"TAGS\x01A\x02", 0, 0, ts, crc)
    two = _expected(second, b"KEYS\x01k1 k2\x02", 1, len(one), ts, crc)
    single = make_message(b"single", topic="Layout", queue_id=3)
    put = store.put_message(single)
    assert put.status is PutMessageStatus.PUT_OK and put.append_result is not None
    three = _expected(single, b"", 2, len(one) + len(two), put.append_result.store_timestamp, crc)
    assert batch.append_result.record_offsets == (0, len(one))
    assert put.append_result.wrote_offset == len(one) + len(two)
    store.flush()
    data = (Path(tiny_config.commit_log_dir) / "00000000000000000000").read_bytes()
    assert data[: len(one)] == one
    assert data[len(one) : len(one) + len(two)] == two
    assert data[len(one) + len(two) : len(one) + len(two) + len(three)] == three
