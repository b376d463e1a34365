"""ScheduleMessageService driven through ``run_once`` against an in-memory queue store.

The store double keeps encoded records per (topic, queue) and answers ``get_message`` with the
statuses the real store uses; the real store is exercised by the integration test.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rmq_core.broker.schedule import (
    DELIVER_BATCH,
    MAX_IDLE_WAIT,
    SCHEDULE_TOPIC,
    DelayLevelTable,
    ScheduleMessageService,
    rewrite_delayed_message,
)
from rmq_core.common.message import MessageConst, MessageExtBrokerInner
from rmq_core.common.message_codec import decode_record, encode_record
from rmq_core.remoting import fastjson


class Status(enum.Enum):
    FOUND = 0
    NO_MESSAGE_IN_QUEUE = 1
    OFFSET_OVERFLOW_ONE = 2
    OFFSET_TOO_SMALL = 3
    PUT_OK = 4
    SERVICE_NOT_AVAILABLE = 5
    OFFSET_FOUND_NULL = 6


@dataclass
class Result:
    status: Status
    messages: list[memoryview] = field(default_factory=list)
    next_begin_offset: int = 0


class QueueStore:
    """Per-queue lists of encoded records; ``now_ms`` stamps stored messages."""

    def __init__(self) -> None:
        self.queues: dict[tuple[str, int], list[bytes]] = {}
        self.min_offsets: dict[tuple[str, int], int] = {}
        self.now_ms = 0
        self.phys = 0
        self.fail_puts = False
        self.null_offsets: set[int] = set()
        self.views: list[memoryview] = []

    def put_message(self, msg: MessageExtBrokerInner) -> Result:
        if self.fail_puts and msg.topic != SCHEDULE_TOPIC:
            return Result(Status.SERVICE_NOT_AVAILABLE)
        queue = self.queues.setdefault((msg.topic, msg.queue_id), [])
        msg.queue_offset = len(queue)
        msg.store_timestamp = self.now_ms
        msg.commitlog_offset = self.phys
        msg.store_host = "127.0.0.1:10911"
        record = encode_record(msg, properties_string=msg.properties_string)
        self.phys += len(record)
        queue.append(record)
        return Result(Status.PUT_OK)

    def get_message(
        self, group: str, topic: str, queue_id: int, offset: int, max_count: int, _f: object = None
    ) -> Result:
        queue = self.queues.get((topic, queue_id), [])
        low = self.min_offsets.get((topic, queue_id), 0)
        if not queue:
            return Result(Status.NO_MESSAGE_IN_QUEUE)
        if offset < low:
            return Result(Status.OFFSET_TOO_SMALL, next_begin_offset=low)
        if offset >= len(queue):
            return Result(Status.OFFSET_OVERFLOW_ONE, next_begin_offset=offset)
        if offset in self.null_offsets:
            return Result(Status.OFFSET_FOUND_NULL, next_begin_offset=offset + 1)
        chunk = [memoryview(r) for r in queue[offset : offset + max_count]]
        self.views.extend(chunk)
        return Result(Status.FOUND, chunk, offset + len(chunk))

    def get_min_offset_in_queue(self, topic: str, queue_id: int) -> int:
        return self.min_offsets.get((topic, queue_id), 0)

    def get_max_offset_in_queue(self, topic: str, queue_id: int) -> int:
        return len(self.queues.get((topic, queue_id), []))

    def delivered(self, topic: str = "T") -> list[str]:
        out = []
        for (t, _), records in sorted(self.queues.items()):
            if t == topic:
                out.extend(decode_record(r)[0].properties["KEYS"] for r in records)
        return out


TABLE = DelayLevelTable.parse("1s 5s 10s")


def send_delayed(store: QueueStore, key: str, level: int, queue_id: int = 0) -> None:
    msg = MessageExtBrokerInner(topic="T", body=key.encode(), queue_id=queue_id)
    msg.keys = key
    msg.tags = "TagA"
    msg.delay_time_level = level
    assert rewrite_delayed_message(msg, TABLE)
    store.put_message(msg)


def test_messages_are_delivered_when_due_and_not_before() -> None:
    store = QueueStore()
    svc = ScheduleMessageService(store, TABLE)
    store.now_ms = 1_000_000
    send_delayed(store, "a", 1)
    send_delayed(store, "b", 2, queue_id=1)
    send_delayed(store, "c", 3, queue_id=2)
    assert svc.run_once(1_000.0) == pytest.approx(1.0)
    assert store.delivered() == []
    assert svc.run_once(1_000.999) == pytest.approx(0.001)
    assert svc.run_once(1_001.0) == pytest.approx(4.0)
    assert store.delivered() == ["a"]
    assert svc.run_once(1_005.0) == pytest.approx(5.0)
    assert svc.run_once(1_010.0) is None
    assert store.delivered() == ["a", "b", "c"]
    assert svc.offset_table() == {1: 1, 2: 1, 3: 1}
    assert svc.delivered == 3


def test_delivered_message_goes_back_to_its_queue_without_delay() -> None:
    store = QueueStore()
    svc = ScheduleMessageService(store, TABLE)
    send_delayed(store, "a", 2, queue_id=5)
    svc.run_once(10.0)
    [record] = store.queues[("T", 5)]
    msg, _ = decode_record(record)
    assert MessageConst.PROPERTY_DELAY_TIME_LEVEL not in msg.properties
    assert msg.properties[MessageConst.PROPERTY_REAL_TOPIC] == "T"
    assert msg.body == b"a"


def test_a_failed_put_keeps_the_message_and_retries() -> None:
    store = QueueStore()
    svc = ScheduleMessageService(store, TABLE)
    send_delayed(store, "a", 1)
    store.fail_puts = True
    assert svc.run_once(5.0) == pytest.approx(1.0)  # backoff
    assert svc.offset_table() == {}
    store.fail_puts = False
    assert svc.run_once(5.5) == pytest.approx(0.5)  # still backing off
    svc.run_once(6.0)
    assert store.delivered() == ["a"]


def test_large_backlog_is_delivered_in_bounded_rounds() -> None:
    store = QueueStore()
    svc = ScheduleMessageService(store, TABLE)
    for i in range(DELIVER_BATCH + 10):
        send_delayed(store, f"m{i}", 1)
    assert svc.run_once(100.0) == 0.0
    assert len(store.delivered()) == DELIVER_BATCH
    assert svc.run_once(100.0) is None
    assert len(store.delivered()) == DELIVER_BATCH + 10


def test_progress_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "config" / "delayOffset.json"
    store = QueueStore()
    svc = ScheduleMessageService(store, TABLE, path)
    send_delayed(store, "a", 1)
    send_delayed(store, "b", 3)
    svc.run_once(2.0)
    data = fastjson.loads(path.read_bytes())
    assert data["offsetTable"] == {1: 1}
    assert path.read_text().startswith('{"dataVersion":')
    assert '"offsetTable":{1:1}' in path.read_text()

    again = ScheduleMessageService(store, TABLE, path)
    again.load()
    assert again.offset_table() == {1: 1}
    again.run_once(20.0)
    assert store.delivered() == ["a", "b"]  # "a" not delivered twice


def test_load_corrects_offsets_to_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "delayOffset.json"
    path.write_text('{"offsetTable":{1:50,2:"x",3:1,"9":4}}')
    store = QueueStore()
    send_delayed(store, "a", 1)
    send_delayed(store, "b", 3)
    send_delayed(store, "c", 3)
    store.min_offsets[(SCHEDULE_TOPIC, 2)] = 2
    svc = ScheduleMessageService(store, TABLE, path)
    svc.load()
    assert svc.offset_table() == {1: 1, 3: 2}


def test_unreadable_offset_file_starts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "delayOffset.json"
    path.write_text("{not json")
    store = QueueStore()
    send_delayed(store, "a", 1)
    svc = ScheduleMessageService(store, TABLE, path)
    svc.load()
    assert svc.offset_table() == {}
    svc.run_once(5.0)
    assert store.delivered() == ["a"]


def test_offset_too_small_skips_to_the_first_readable_message() -> None:
    store = QueueStore()
    send_delayed(store, "a", 1)
    send_delayed(store, "b", 1)
    store.min_offsets[(SCHEDULE_TOPIC, 0)] = 1
    svc = ScheduleMessageService(store, TABLE)
    svc.run_once(5.0)
    assert store.delivered() == ["b"]


def test_record_without_real_topic_is_dropped_not_blocking() -> None:
    store = QueueStore()
    broken = MessageExtBrokerInner(topic=SCHEDULE_TOPIC, body=b"", queue_id=0)
    broken.delay_time_level = 1
    store.put_message(broken)
    send_delayed(store, "a", 1)
    svc = ScheduleMessageService(store, TABLE)
    svc.run_once(5.0)
    assert store.delivered() == ["a"]
    assert svc.offset_table() == {1: 2}


def test_clock_going_back_does_not_hold_messages_forever() -> None:
    store = QueueStore()
    store.now_ms = 1_000_000
    send_delayed(store, "a", 1)
    svc = ScheduleMessageService(store, TABLE)
    # the clock is now far behind the store time: delivery is "now", not in 1000 s
    svc.run_once(1.0)
    assert store.delivered() == ["a"]


def test_an_arrival_from_another_thread_wakes_the_idle_service(tmp_path: Path) -> None:
    path = tmp_path / "delayOffset.json"

    async def body() -> float:
        store = QueueStore()
        svc = ScheduleMessageService(store, TABLE, path, first_delay=0.0)
        svc.start()
        await asyncio.sleep(0.05)  # nothing parked: the service sleeps up to MAX_IDLE_WAIT
        store.now_ms = time.time_ns() // 1_000_000 - 990  # parked 990 ms ago, due in 10 ms
        send_delayed(store, "a", 1)
        started = time.monotonic()
        threading.Thread(
            target=svc.on_message_arrival, args=(SCHEDULE_TOPIC, 0, 0, None, 0, None)
        ).start()
        while not store.delivered():
            assert time.monotonic() - started < MAX_IDLE_WAIT / 2, "not woken"
            await asyncio.sleep(0.005)
        waited = time.monotonic() - started
        await svc.shutdown()
        return waited

    assert asyncio.run(asyncio.wait_for(body(), 10)) < 1.0
    assert fastjson.loads(path.read_bytes())["offsetTable"] == {1: 1}


def test_units_without_a_record_are_skipped_and_views_released() -> None:
    store = QueueStore()
    send_delayed(store, "gone", 1)
    send_delayed(store, "a", 1)
    send_delayed(store, "b", 1)
    store.null_offsets = {0}
    svc = ScheduleMessageService(store, TABLE)
    svc.run_once(5.0)
    assert store.delivered() == ["a", "b"]
    assert svc.offset_table() == {1: 3}
    assert store.views
    for view in store.views:
        with pytest.raises(ValueError):
            view.tobytes()  # released: the commit log may unmap its file
