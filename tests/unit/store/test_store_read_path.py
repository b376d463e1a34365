"""The store's read path: records served from one view per commit-log segment."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from rmq_core.common.message_codec import decode_records
from rmq_core.filter import TAG, ExpressionMessageFilter
from rmq_core.store import GetMessageStatus, MessageStore, StoreConfig
from rmq_core.store.formats.consume_queue import CQ_UNIT
from tests.support.store_fixtures import MakeMessage

OpenStore = Callable[[StoreConfig], MessageStore]


def _fill(store: MessageStore, make_message: MakeMessage, count: int) -> None:
    for i in range(count):  # ~110 bytes each: several 4 KiB segments
        assert store.put_message(make_message(f"r{i}".encode(), TAGS="A" if i % 2 else "B")).is_ok
    store.sync_dispatch()


def test_a_read_across_segments_returns_each_record_as_its_own_view(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    _fill(store, make_message, 90)
    assert len(store.commitlog.queue.files) >= 3
    got = store.get_message("g", "T", 0, 0, 90, ExpressionMessageFilter(TAG, "*"))
    assert got.status is GetMessageStatus.FOUND and got.message_count == 90
    assert got.next_begin_offset == 90 and got.message_queue_offsets == list(range(90))
    assert [len(view) for view in got.messages] == [
        int.from_bytes(view[:4], "big") for view in got.messages
    ]
    assert [m.body for m in decode_records(got.body())] == [f"r{i}".encode() for i in range(90)]
    tagged = store.get_message("g", "T", 0, 0, 90, ExpressionMessageFilter(TAG, "A"))
    assert [m.body for m in decode_records(tagged.body())] == [
        f"r{i}".encode() for i in range(1, 90, 2)
    ]


def test_the_read_holds_no_segment_once_its_records_are_released(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    _fill(store, make_message, 90)
    first = store.commitlog.queue.files[0]
    got = store.get_message("g", "T", 0, 0, 4)
    assert got.message_count == 4
    assert not first.try_close()  # a record view still holds the segment
    for view in got.messages:
        view.release()
    assert first.try_close()  # the read kept no view of its own
    later = store.get_message("g", "T", 0, 0, 4)  # the unmapped segment's units are skipped
    assert later.message_count == 4 and later.message_queue_offsets[0] > 4
    for view in later.messages:
        view.release()


def test_a_unit_pointing_at_no_record_is_skipped_and_logged(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = open_store(tiny_config)
    _fill(store, make_message, 3)
    cq = store._find_queue("T", 0)
    assert cq is not None
    mapped = cq.queue.files[0]
    phys, size, tags = CQ_UNIT.unpack_from(mapped.mm, 20)
    CQ_UNIT.pack_into(mapped.mm, 20, phys + 4, size, tags)  # unit 1 now points mid-record
    CQ_UNIT.pack_into(mapped.mm, 40, phys, 4, tags)  # unit 2: too short to be a record
    with caplog.at_level(logging.ERROR):
        got = store.get_message("g", "T", 0, 0, 8)
    assert [m.body for m in decode_records(got.body())] == [b"r0"]
    assert got.message_queue_offsets == [0] and got.next_begin_offset == 3
    assert caplog.text.count("points at no record") == 2
