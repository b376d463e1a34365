"""Delay levels, send-back retries and dead letters against a live in-process broker.

Timing: short delay tables (the store's ``messageDelayLevel`` 1 s, 2 s, 3 s ...) keep every
scenario a few seconds long. "Delivered" means stored in the real topic: the delivered copy's
store timestamp is compared with the parked record's store timestamp plus the level's delay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from rmq_core.broker.schedule import SCHEDULE_TOPIC
from rmq_core.common.message import MessageExt
from rmq_core.common.message_codec import (
    MAX_PROPERTIES_LENGTH,
    decode_offset_msg_id,
    encode_properties,
)
from rmq_core.remoting import fastjson
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import ConsumerSendMsgBackRequestHeader
from tests.support.broker_client import RawBrokerClient
from tests.support.cluster import running_cluster, start_cluster, stop_cluster

DELAYS = "1s 2s 3s 1s 1s 1s"
TEST_TIMEOUT = 40.0
LATE_TOLERANCE_MS = 1000


STORE = {"message_delay_level": DELAYS}


def _run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT))


async def _send_delayed(
    raw: RawBrokerClient, topic: str, key: str, level: int, queue_id: int = 0
) -> int:
    """Send one delayed message; return the commit-log offset of the parked record."""
    props = {"WAIT": "true", "TAGS": "TagA", "KEYS": key, "DELAY": str(level), "UNIQ_KEY": key}
    response = await raw.send(topic, key.encode(), properties=props, queue_id=queue_id)
    assert response.code == ResponseCode.SUCCESS, response.remark
    return decode_offset_msg_id(response.ext_fields["msgId"])[1]


async def _drain(
    raw: RawBrokerClient,
    group: str,
    topic: str,
    queue_id: int,
    expected: int,
    timeout: float,
    offset: int = 0,
) -> list[tuple[MessageExt, float]]:
    """Long-poll ``topic``/``queue_id`` until ``expected`` messages arrived; each comes with
    the wall-clock time (s) at which its pull returned."""
    got: list[tuple[MessageExt, float]] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected:
        left = deadline - time.monotonic()
        assert left > 0, f"{topic}-{queue_id}: {len(got)} of {expected} messages arrived"
        response = await raw.pull(
            group, topic, queue_id, offset, sys_flag=0x6, suspend_ms=int(min(left, 2) * 1000),
            timeout=left + 5,
        )  # fmt: skip
        arrived = time.time()
        if response.code == ResponseCode.SUCCESS:
            for msg in raw.decode(response):
                got.append((msg, arrived))
        assert response.code in (
            ResponseCode.SUCCESS,
            ResponseCode.PULL_NOT_FOUND,
            ResponseCode.PULL_RETRY_IMMEDIATELY,
        ), (response.code, response.remark)
        offset = int(response.ext_fields["nextBeginOffset"])
    return got


def test_levels_are_delivered_on_time(tmp_path: Path) -> None:
    async def body() -> None:
        async with (
            running_cluster(tmp_path / "store", store=STORE) as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            store = cluster.broker.context.store
            parked: dict[str, tuple[int, int]] = {}
            for level in (3, 1, 2):
                for i in range(2):
                    key = f"L{level}-{i}"
                    offset = await _send_delayed(raw, "DelayTopic", key, level, queue_id=i)
                    parked[key] = (level, offset)
            for level, offset in parked.values():
                record = store.look_message_by_offset(offset)
                assert record is not None
                assert record.topic == SCHEDULE_TOPIC and record.queue_id == level - 1
                assert record.properties["REAL_TOPIC"] == "DelayTopic"
            # nothing is visible in the real topic before its time
            assert store.get_max_offset_in_queue("DelayTopic", 0) == 0
            per_queue = await asyncio.gather(
                *(_drain(raw, "GD", "DelayTopic", queue_id, 3, 10.0) for queue_id in (0, 1))
            )
            received = per_queue[0] + per_queue[1]
            assert sorted(m.keys[0] for m, _ in received) == sorted(parked)
            for msg, arrived in received:
                level, offset = parked[msg.keys[0]]
                original = store.look_message_by_offset(offset)
                assert original is not None
                due_ms = original.store_timestamp + level * 1000
                assert due_ms <= msg.store_timestamp <= due_ms + LATE_TOLERANCE_MS, (level, msg)
                assert arrived * 1000 <= due_ms + LATE_TOLERANCE_MS + 200
                assert "DELAY" not in msg.properties
                assert msg.topic == "DelayTopic" and msg.tags == "TagA"
                assert msg.body == msg.keys[0].encode()

    _run(body())


def test_restart_mid_delay_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"

    async def body() -> None:
        cluster = await start_cluster(store_dir, store=STORE)
        try:
            async with RawBrokerClient(cluster.broker_addr) as raw:
                keys = []
                for level in (1, 2, 3):
                    for i in range(3):
                        keys.append(f"R{level}-{i}")
                        await _send_delayed(raw, "RestartTopic", keys[-1], level)
                # level 1 is delivered before the restart, levels 2 and 3 after it
                await _drain(raw, "GR", "RestartTopic", 0, 3, 5.0)
        finally:
            await stop_cluster(cluster)
        saved = fastjson.loads((store_dir / "config" / "delayOffset.json").read_bytes())
        assert saved["offsetTable"] == {1: 3}

        cluster = await start_cluster(store_dir, store=STORE)
        try:
            async with RawBrokerClient(cluster.broker_addr) as raw:
                got = await _drain(raw, "GR", "RestartTopic", 0, 9, 8.0)
                await asyncio.sleep(1.2)  # a duplicate would show up by now
                extra = await raw.pull("GR", "RestartTopic", 0, 9)
                assert extra.code == ResponseCode.PULL_NOT_FOUND, raw.decode(extra)
                assert sorted(m.keys[0] for m, _ in got) == sorted(keys)
                assert cluster.broker.schedule is not None
                assert cluster.broker.schedule.offset_table() == {1: 3, 2: 3, 3: 3}
        finally:
            await stop_cluster(cluster)

    _run(body())


async def _send_back(
    raw: RawBrokerClient,
    msg: MessageExt,
    group: str,
    delay_level: int = 0,
    max_times: int | None = None,
) -> RemotingCommand:
    header = ConsumerSendMsgBackRequestHeader(
        offset=msg.commitlog_offset,
        group=group,
        delay_level=delay_level,
        origin_msg_id=msg.msg_id,
        origin_topic=msg.topic,
        max_reconsume_times=max_times,
    )
    return await raw.call(RequestCode.CONSUMER_SEND_MSG_BACK, header)


def test_send_back_retries_then_dead_letters(tmp_path: Path) -> None:
    async def body() -> None:
        async with (
            running_cluster(tmp_path / "store", store=STORE) as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            group = "GRetry"
            beat = await raw.heartbeat(consumer_group=group, topic="RetryTopic")
            assert beat.code == ResponseCode.SUCCESS
            retry_topic = f"%RETRY%{group}"
            assert cluster.broker.context.topics.select(retry_topic) is not None
            response = await raw.send("RetryTopic", b"payload", tags="TagA", keys="rk")
            assert response.code == ResponseCode.SUCCESS
            [(first, _)] = await _drain(raw, group, "RetryTopic", 0, 1, 5.0)

            current = first
            for offset, attempt in enumerate((1, 2)):
                # delay level 0: the broker picks 3 + reconsumeTimes (1 s in DELAYS)
                back = await _send_back(raw, current, group, max_times=2)
                assert back.code == ResponseCode.SUCCESS, back.remark
                [(current, _)] = await _drain(raw, group, retry_topic, 0, 1, 5.0, offset)
                assert current.reconsume_times == attempt
                assert current.properties["RETRY_TOPIC"] == "RetryTopic"
                assert current.properties["ORIGIN_MESSAGE_ID"] == first.msg_id
                assert current.body == b"payload" and current.keys == ["rk"]

            # the third failure of a message retried twice (max 2) is a dead letter
            back = await _send_back(raw, current, group, max_times=2)
            assert back.code == ResponseCode.SUCCESS, back.remark
            dlq = f"%DLQ%{group}"
            [(dead, _)] = await _drain(raw, group, dlq, 0, 1, 3.0)
            assert dead.reconsume_times == 3
            assert dead.properties["RETRY_TOPIC"] == "RetryTopic"
            assert dead.properties["ORIGIN_MESSAGE_ID"] == first.msg_id
            assert "DELAY" not in dead.properties
            dlq_config = cluster.broker.context.topics.select(dlq)
            assert dlq_config is not None and dlq_config.perm == 6
            assert dlq_config.read_queue_nums == 1

            # a negative level dead-letters at once; an unknown offset is an error
            back = await _send_back(raw, first, group, delay_level=-1)
            assert back.code == ResponseCode.SUCCESS, back.remark
            [(dead_at_once, _)] = await _drain(raw, group, dlq, 0, 1, 3.0, offset=1)
            assert dead_at_once.reconsume_times == 1
            for bad_offset in (10**12, first.commitlog_offset + 1, -1):
                bogus = MessageExt(topic="RetryTopic", body=b"", commitlog_offset=bad_offset)
                back = await _send_back(raw, bogus, group)
                assert back.code == ResponseCode.SYSTEM_ERROR, bad_offset
                assert "look message by offset failed" in (back.remark or ""), back.remark

    _run(body())


def test_send_back_refuses_a_copy_whose_properties_outgrow_the_record_limit(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with (
            running_cluster(tmp_path / "store", store=STORE) as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            group = "GBigProps"
            base = {"WAIT": "true", "KEYS": "big"}
            overhead = len(encode_properties({**base, "big": ""}).encode())
            # fits with what the broker adds on send (UNIQ_KEY, CLUSTER), but not with
            # RETRY_TOPIC, ORIGIN_MESSAGE_ID and DELAY added on send-back
            props = {**base, "big": "v" * (MAX_PROPERTIES_LENGTH - overhead - 100)}
            sent = await raw.send("BigTopic", b"x", properties=props)
            assert sent.code == ResponseCode.SUCCESS, sent.remark
            [(stored, _)] = await _drain(raw, group, "BigTopic", 0, 1, 5.0)
            stored_length = len(encode_properties(stored.properties).encode())
            assert MAX_PROPERTIES_LENGTH - 80 < stored_length <= MAX_PROPERTIES_LENGTH
            back = await _send_back(raw, stored, group)
            assert back.code == ResponseCode.MESSAGE_ILLEGAL, back.remark
            assert f"longer than {MAX_PROPERTIES_LENGTH} bytes" in (back.remark or "")
            store = cluster.broker.context.store
            assert store.get_max_offset_in_queue(SCHEDULE_TOPIC, 2) == 0
            assert store.get_max_offset_in_queue(f"%RETRY%{group}", 0) == 0

    _run(body())


def test_client_retry_send_over_the_limit_goes_to_dlq(tmp_path: Path) -> None:
    async def body() -> None:
        async with (
            running_cluster(tmp_path / "store", store=STORE) as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            group = "GClientRetry"
            retry_topic = f"%RETRY%{group}"
            props = {"WAIT": "true", "KEYS": "c1", "RETRY_TOPIC": "T", "RECONSUME_TIME": "1"}
            under = await raw.send(
                retry_topic, b"a", properties=props, reconsume_times=1, max_reconsume_times=3
            )
            assert under.code == ResponseCode.SUCCESS, under.remark
            [(kept, _)] = await _drain(raw, group, retry_topic, 0, 1, 3.0)
            assert kept.keys == ["c1"]
            # the header counts this retry: the 3rd of 3 allowed retries stays a retry ...
            props = dict(props, KEYS="c2", RECONSUME_TIME="3")
            at_limit = await raw.send(
                retry_topic, b"b", properties=props, reconsume_times=3, max_reconsume_times=3
            )
            assert at_limit.code == ResponseCode.SUCCESS, at_limit.remark
            [(kept, _)] = await _drain(raw, group, retry_topic, 0, 1, 3.0, offset=1)
            assert kept.keys == ["c2"]
            # ... and a 4th is a dead letter (handleRetryAndDLQ: reconsumeTimes > max)
            props = dict(props, KEYS="c3", RECONSUME_TIME="4", DELAY="3")
            over = await raw.send(
                retry_topic, b"c", properties=props, reconsume_times=4, max_reconsume_times=3
            )
            assert over.code == ResponseCode.SUCCESS, over.remark
            [(dead, _)] = await _drain(raw, group, f"%DLQ%{group}", 0, 1, 3.0)
            assert dead.keys == ["c3"] and dead.body == b"c"
            assert cluster.broker.context.store.get_max_offset_in_queue(retry_topic, 0) == 2

    _run(body())


def test_delay_offsets_are_served(tmp_path: Path) -> None:
    async def body() -> None:
        async with (
            running_cluster(tmp_path / "store", store=STORE) as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            await _send_delayed(raw, "OffsetsTopic", "o1", 1)
            await _drain(raw, "GO", "OffsetsTopic", 0, 1, 5.0)
            response = await raw.call(RequestCode.GET_ALL_DELAY_OFFSET)
            assert response.code == ResponseCode.SUCCESS, response.remark
            assert fastjson.loads(response.body)["offsetTable"] == {1: 1}
            assert cluster.broker.schedule is not None

    _run(body())
