"""Send (V1, V2, batch) and pull (found, not found, long polling) against a live broker."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from typing import Any

from rmq_core.common.message import Message
from rmq_core.common.message_codec import decode_offset_msg_id
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.headers import SendMessageRequestHeaderV2
from tests.support.broker_client import RawBrokerClient, message_properties
from tests.support.cluster import Cluster, wait_max_offset, wait_route

PULL_FIELDS = ("nextBeginOffset", "minOffset", "maxOffset", "suggestWhichBrokerId")


def test_send_v1_and_v2_then_pull(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        v2 = await raw.send("TopicTest", b"hello-v2", tags="TagA", keys="k1 k2")
        assert v2.code == ResponseCode.SUCCESS, v2.remark
        for key in ("msgId", "queueId", "queueOffset", "MSG_REGION", "TRACE_ON"):
            assert key in v2.ext_fields, key
        assert v2.ext_fields["queueOffset"] == "0"
        assert v2.ext_fields["MSG_REGION"] == "DefaultRegion"
        host, commitlog_offset = decode_offset_msg_id(v2.ext_fields["msgId"])
        assert host == cluster.broker_addr and commitlog_offset == 0
        v1 = await raw.send("TopicTest", b"hello-v1", code=RequestCode.SEND_MESSAGE)
        assert v1.code == ResponseCode.SUCCESS, v1.remark
        assert v1.ext_fields["queueOffset"] == "1"
        await wait_max_offset(cluster, "TopicTest", 0, 2)
        pulled = await raw.pull("G1", "TopicTest", 0, 0)
        assert pulled.code == ResponseCode.SUCCESS, pulled.remark
        assert pulled.remark == "FOUND"
        assert all(isinstance(pulled.ext_fields[f], str) for f in PULL_FIELDS)
        assert pulled.ext_fields["nextBeginOffset"] == "2"
        assert pulled.ext_fields["maxOffset"] == "2"
        messages = raw.decode(pulled)
        assert [m.body for m in messages] == [b"hello-v2", b"hello-v1"]
        first = messages[0]
        assert first.tags == "TagA" and first.keys == ["k1", "k2"]
        assert first.properties["CLUSTER"] == "DefaultCluster"
        assert first.store_host == cluster.broker_addr

    with_cluster(scenario)


def test_auto_created_topic_is_routable(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        response = await raw.send("AutoTopic", b"x", default_topic_queue_nums=3)
        assert response.code == ResponseCode.SUCCESS
        topic = cluster.broker.context.topics.select("AutoTopic")
        assert topic is not None and topic.write_queue_nums == 3 and topic.perm == 6
        route = await wait_route(cluster, "AutoTopic")
        assert route["queueDatas"][0]["writeQueueNums"] == 3
        assert route["brokerDatas"][0]["brokerAddrs"]["0"] == cluster.broker_addr

    with_cluster(scenario)


def test_batch_send(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        batch = [
            Message("BatchTopic", f"m{i}".encode(), properties=message_properties(tags="TagB"))
            for i in range(5)
        ]
        response = await raw.send_batch("BatchTopic", batch, queue_id=1)
        assert response.code == ResponseCode.SUCCESS, response.remark
        assert len(response.ext_fields["msgId"].split(",")) == 5
        assert response.ext_fields["queueOffset"] == "0"
        await wait_max_offset(cluster, "BatchTopic", 1, 5)
        pulled = await raw.pull("G", "BatchTopic", 1, 0)
        messages = raw.decode(pulled)
        assert [m.body for m in messages] == [f"m{i}".encode() for i in range(5)]
        assert [m.queue_offset for m in messages] == [0, 1, 2, 3, 4]
        assert all(m.tags == "TagB" for m in messages)

    with_cluster(scenario)


def _batch_entry(body: bytes, properties: bytes, flag: int = 0) -> bytes:
    """One MessageBatch entry with ``properties`` bytes exactly as given."""
    total = 20 + len(body) + 2 + len(properties)
    head = struct.pack(">iiiii", total, 0, 0, flag, len(body))
    return head + body + struct.pack(">h", len(properties)) + properties


def _batch_header(topic: str) -> SendMessageRequestHeaderV2:
    return SendMessageRequestHeaderV2(
        producer_group="PG_RAW",
        topic=topic,
        default_topic="TBW102",
        default_topic_queue_nums=4,
        queue_id=0,
        sys_flag=0,
        born_timestamp=int(time.time() * 1000),
        flag=0,
        properties="WAIT\x01true\x02",
        batch=True,
    )


def test_batch_entries_keep_their_properties_and_get_a_missing_uniq_key(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        with_key = b"TAGS\x01TagA\x02UNIQ_KEY\x01C0A8000100002A9F0000000000000001\x02"
        empty_key = b"UNIQ_KEY\x01\x02TAGS\x01TagB\x02"
        body = b"".join(
            (
                _batch_entry(b"a", with_key, flag=7),
                _batch_entry(b"b", b"TAGS\x01TagB\x02"),
                _batch_entry(b"c", empty_key),
            )
        )
        header = _batch_header("BatchProps")
        response = await raw.call(RequestCode.SEND_BATCH_MESSAGE, header, body)
        assert response.code == ResponseCode.SUCCESS, response.remark
        await wait_max_offset(cluster, "BatchProps", 0, 3)
        first, second, third = raw.decode(await raw.pull("G", "BatchProps", 0, 0))
        assert first.flag == 7 and first.tags == "TagA"
        assert first.properties["UNIQ_KEY"] == "C0A8000100002A9F0000000000000001"
        assert second.tags == "TagB" and len(second.properties["UNIQ_KEY"]) == 32
        assert third.tags == "TagB" and len(third.properties["UNIQ_KEY"]) == 32
        assert second.properties["UNIQ_KEY"] != third.properties["UNIQ_KEY"]

    with_cluster(scenario)


def test_batch_entry_properties_that_are_not_utf8_are_stored_replaced(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        bad = b"TAGS\x01T\xffg\x02UNIQ_KEY\x01C0A8000100002A9F0000000000000002\x02"
        body = _batch_entry(b"x", bad) + _batch_entry(b"y", b"TAGS\x01ok\x02")
        header = _batch_header("BatchBadUtf8")
        response = await raw.call(RequestCode.SEND_BATCH_MESSAGE, header, body)
        assert response.code == ResponseCode.SUCCESS, response.remark
        await wait_max_offset(cluster, "BatchBadUtf8", 0, 2)
        first, second = raw.decode(await raw.pull("G", "BatchBadUtf8", 0, 0))
        assert first.tags == "T\ufffdg" and first.body == b"x"
        assert second.tags == "ok" and second.body == b"y"

    with_cluster(scenario)


def test_batch_entry_properties_without_the_last_separator_are_stored_terminated(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        # Two entries of one layout (the batch-wide checks), then a batch checked entry by
        # entry (one entry lacks a UNIQ_KEY): recovery would drop an unterminated record.
        keyed = [b"UNIQ_KEY\x01C0A8000100002A9F000000000000000%d\x02A\x01b" % i for i in (1, 2)]
        uniform = b"".join(_batch_entry(b"u%d" % i, p) for i, p in enumerate(keyed))
        mixed = _batch_entry(b"m0", keyed[0]) + _batch_entry(b"m1", b"A\x01c")
        for body in (uniform, mixed):
            response = await raw.call(
                RequestCode.SEND_BATCH_MESSAGE, _batch_header("BatchUnterminated"), body
            )
            assert response.code == ResponseCode.SUCCESS, response.remark
        await wait_max_offset(cluster, "BatchUnterminated", 0, 4)
        stored = raw.decode(await raw.pull("G", "BatchUnterminated", 0, 0))
        assert all(m.raw_properties and m.raw_properties.endswith(b"\x02") for m in stored)
        assert [m.body for m in stored] == [b"u0", b"u1", b"m0", b"m1"]
        assert [m.properties["A"] for m in stored] == ["b", "b", "b", "c"]
        assert stored[0].properties["UNIQ_KEY"] == "C0A8000100002A9F0000000000000001"
        assert len(stored[3].properties["UNIQ_KEY"]) == 32

    with_cluster(scenario)


def test_batch_refused_by_the_store_for_a_nul_is_not_retried_per_message(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        context = cluster.broker.context
        retried: list[object] = []
        per_message = context.put_messages
        context.put_messages = lambda *args: retried.append(args) or per_message(*args)  # type: ignore[method-assign]
        nul = b"TAGS\x01a\x00b\x02UNIQ_KEY\x01C0A8000100002A9F0000000000000003\x02"
        body = _batch_entry(b"x", nul)
        response = await raw.call(RequestCode.SEND_BATCH_MESSAGE, _batch_header("BatchNul"), body)
        assert response.code == ResponseCode.MESSAGE_ILLEGAL
        assert retried == []
        assert context.store.get_max_offset_in_queue("BatchNul", 0) == 0

    with_cluster(scenario)


def test_batch_entry_pushed_over_the_properties_limit_by_its_uniq_key_is_refused(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        long_value = b"v" * (32767 - 20)  # fits as sent; not with the UNIQ_KEY the broker adds
        body = _batch_entry(b"ok", b"TAGS\x01a\x02") + _batch_entry(b"x", b"K\x01" + long_value)
        header = _batch_header("BatchLongProps")
        response = await raw.call(RequestCode.SEND_BATCH_MESSAGE, header, body)
        assert response.code == ResponseCode.MESSAGE_ILLEGAL
        assert response.remark is not None and "properties" in response.remark
        assert cluster.broker.context.store.get_max_offset_in_queue("BatchLongProps", 0) == 0

    with_cluster(scenario)


def test_pull_not_found_and_offset_moved(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await raw.send("T2", b"a")
        await wait_max_offset(cluster, "T2", 0, 1)
        at_end = await raw.pull("G", "T2", 0, 1)
        assert at_end.code == ResponseCode.PULL_NOT_FOUND
        assert at_end.ext_fields["nextBeginOffset"] == "1"
        beyond = await raw.pull("G", "T2", 0, 50)
        assert beyond.code == ResponseCode.PULL_OFFSET_MOVED
        # RocketMQ's correction: back to the min offset while the queue was never truncated
        assert beyond.ext_fields["nextBeginOffset"] == "0"
        empty_queue = await raw.pull("G", "T2", 1, 0)
        assert empty_queue.code == ResponseCode.PULL_NOT_FOUND
        assert all(f in empty_queue.ext_fields for f in PULL_FIELDS)

    with_cluster(scenario)


def test_tag_filtering_at_the_broker(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        for tag in ("TagA", "TagB", "TagC", "TagA"):
            assert (await raw.send("TagTopic", tag.encode(), tags=tag)).code == 0
        await wait_max_offset(cluster, "TagTopic", 0, 4)
        pulled = await raw.pull("G", "TagTopic", 0, 0, subscription="TagA || TagC")
        assert [m.body for m in raw.decode(pulled)] == [b"TagA", b"TagC", b"TagA"]
        none = await raw.pull("G", "TagTopic", 0, 0, subscription="TagZ")
        assert none.code == ResponseCode.PULL_RETRY_IMMEDIATELY
        assert none.ext_fields["nextBeginOffset"] == "4"

    with_cluster(scenario)


def test_subscription_from_heartbeat(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await raw.send("HbTopic", b"a", tags="TagA")
        await raw.send("HbTopic", b"b", tags="TagB")
        await wait_max_offset(cluster, "HbTopic", 0, 2)
        missing = await raw.pull("HG", "HbTopic", 0, 0, sys_flag=0, subscription=None)
        assert missing.code == ResponseCode.SUBSCRIPTION_NOT_EXIST
        hb = await raw.heartbeat(consumer_group="HG", topic="HbTopic", expression="TagB")
        assert hb.code == ResponseCode.SUCCESS and hb.version >= 401
        pulled = await raw.pull("HG", "HbTopic", 0, 0, sys_flag=0, subscription=None)
        assert [m.body for m in raw.decode(pulled)] == [b"b"]
        stale = await raw.pull("HG", "HbTopic", 0, 0, sys_flag=0, subscription=None, sub_version=99)
        assert stale.code == ResponseCode.SUBSCRIPTION_NOT_LATEST

    with_cluster(scenario)


def test_long_poll_wakes_on_arrival(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await raw.send("LpTopic", b"first")
        await wait_max_offset(cluster, "LpTopic", 0, 1)
        started = time.monotonic()
        pull = asyncio.create_task(
            raw.pull("G", "LpTopic", 0, 1, sys_flag=0x2 | 0x4, suspend_ms=10_000, timeout=15)
        )
        await asyncio.sleep(0.3)
        assert not pull.done()
        assert cluster.broker.pull is not None
        assert cluster.broker.pull.hold_service.held_count == 1
        async with RawBrokerClient(cluster.broker_addr, "127.0.0.1@other") as other:
            assert (await other.send("LpTopic", b"second")).code == ResponseCode.SUCCESS
        response = await asyncio.wait_for(pull, 5)
        elapsed = time.monotonic() - started
        assert response.code == ResponseCode.SUCCESS, response.remark
        assert [m.body for m in raw.decode(response)] == [b"second"]
        assert elapsed < 5, f"long poll answered after {elapsed:.1f}s"
        assert cluster.broker.pull.hold_service.held_count == 0

    with_cluster(scenario)


def test_long_poll_ignores_unmatched_tags_then_times_out(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        assert (await raw.send("LpTags", b"b0", tags="TagB")).code == 0
        await wait_max_offset(cluster, "LpTags", 0, 1)
        started = time.monotonic()
        pull = asyncio.create_task(
            raw.pull("G", "LpTags", 0, 1, sys_flag=0x2 | 0x4, suspend_ms=800, subscription="TagA")
        )
        await asyncio.sleep(0.2)
        async with RawBrokerClient(cluster.broker_addr, "127.0.0.1@other") as other:
            assert (await other.send("LpTags", b"b1", tags="TagB")).code == 0
        response = await asyncio.wait_for(pull, 5)
        elapsed = time.monotonic() - started
        assert 0.7 <= elapsed < 3, elapsed
        # re-executed at the deadline: the TagB message is scanned and filtered out
        assert response.code == ResponseCode.PULL_RETRY_IMMEDIATELY
        assert response.ext_fields["nextBeginOffset"] == "2"

    with_cluster(scenario)


def test_long_poll_timeout_answers_not_found(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await raw.send("LpIdle", b"x")
        await wait_max_offset(cluster, "LpIdle", 0, 1)
        started = time.monotonic()
        response = await raw.pull("G", "LpIdle", 0, 1, sys_flag=0x2 | 0x4, suspend_ms=500)
        elapsed = time.monotonic() - started
        assert response.code == ResponseCode.PULL_NOT_FOUND
        assert response.ext_fields["nextBeginOffset"] == "1"
        assert response.ext_fields["maxOffset"] == "1"
        assert 0.45 <= elapsed < 3, elapsed

    with_cluster(scenario)


def test_sync_flush_send(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        responses = await asyncio.gather(*(raw.send("SyncTopic", b"%d" % i) for i in range(20)))
        assert all(r.code == ResponseCode.SUCCESS for r in responses)
        offsets = sorted(int(r.ext_fields["queueOffset"]) for r in responses)
        assert offsets == list(range(20))

    with_cluster(scenario, store={"flush_disk_type": "SYNC_FLUSH"})


def test_delay_and_retry_sends(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        props = message_properties(tags="TagD")
        props["DELAY"] = "1"
        delayed = await raw.send("DelayTopic", b"later", properties=props)
        assert delayed.code == ResponseCode.SUCCESS
        store = cluster.broker.context.store
        await wait_max_offset(cluster, "SCHEDULE_TOPIC_XXXX", 0, 1)
        assert store.get_max_offset_in_queue("DelayTopic", 0) == 0
        await wait_max_offset(cluster, "DelayTopic", 0, 1, timeout=10)
        delivered = raw.decode(await raw.pull("G", "DelayTopic", 0, 0))
        assert [m.body for m in delivered] == [b"later"]
        assert "DELAY" not in delivered[0].properties

        await raw.heartbeat(consumer_group="RG", topic="DelayTopic")
        exhausted = await raw.send("%RETRY%RG", b"dead", reconsume_times=17, max_reconsume_times=16)
        assert exhausted.code == ResponseCode.SUCCESS
        await wait_max_offset(cluster, "%DLQ%RG", 0, 1)
        assert [m.body for m in raw.decode(await raw.pull("G", "%DLQ%RG", 0, 0))] == [b"dead"]

    with_cluster(scenario)
