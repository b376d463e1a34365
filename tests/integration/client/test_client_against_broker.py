"""Producer, consumers and admin against a real in-process NameServer and broker."""

# ruff: noqa: SIM117  (nested async-with keeps the phases of a scenario apart)

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rmq_core.admin import AdminClient
from rmq_core.client import (
    ConsumeFromWhere,
    ConsumeOrderlyStatus,
    ConsumeStatus,
    LitePullConsumer,
    Message,
    MessageExt,
    MessageModel,
    MessageQueue,
    Producer,
    PushConsumer,
    SelectMessageQueueByHash,
    SendStatus,
)
from rmq_core.errors import ClientError, FilterError, TopicNotExistError

FIRST = ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET


def run(coro: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def consumer(namesrv: str, group: str, **options: Any) -> PushConsumer:
    options.setdefault("consume_from_where", FIRST)
    options.setdefault("instance_name", f"{group}-{os.getpid()}")
    options.setdefault("rebalance_interval", 1.0)
    return PushConsumer(group, namesrv, **options)


def test_tags_bodies_properties_and_compression_survive(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            sent = {}
            for i in range(30):
                tag = ("TagA", "TagB", "TagC")[i % 3]
                payload = (b"%d-" % i) * (2000 if i % 5 == 0 else 1)  # some over 4 KiB
                msg = Message("TagTopic", payload)
                msg.tags = tag
                msg.keys = [f"key{i}"]
                msg.put_user_property("index", str(i))
                result = await p.send(msg)
                assert result.status is SendStatus.SEND_OK
                if tag != "TagC":
                    sent[result.msg_id] = (payload, tag, f"key{i}", str(i))
            got: dict[str, MessageExt] = {}
            c = consumer(cluster.namesrv, "TagGroup")
            c.subscribe("TagTopic", "TagA || TagB")
            c.register_message_listener(lambda msgs: got.update({m.unique_key: m for m in msgs}))
            async with c:
                await wait_until(lambda: len(got) >= len(sent), 20, "tagged messages")
                await asyncio.sleep(0.3)
            assert set(got) == set(sent)
            for msg_id, (payload, tag, key, index) in sent.items():
                msg = got[msg_id]
                assert (msg.body, msg.tags, msg.keys, msg.properties["index"]) == (
                    payload,
                    tag,
                    [key],
                    index,
                )

    run(body())


def test_failed_messages_come_back_through_the_retry_topic(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path, message_delay_level="1s 1s 1s 1s") as cl:
            async with Producer("PG", cl.namesrv) as p:
                ids = {(await p.send(Message("RetryTopic", b"r%d" % i))).msg_id for i in range(3)}
            attempts: dict[str, list[int]] = {}

            async def listener(msgs: list[MessageExt]) -> ConsumeStatus:
                for msg in msgs:
                    attempts.setdefault(msg.unique_key or "", []).append(msg.reconsume_times)
                    assert msg.topic == "RetryTopic"
                if msgs[0].reconsume_times == 0:
                    return ConsumeStatus.RECONSUME_LATER
                return ConsumeStatus.CONSUME_SUCCESS

            c = consumer(cl.namesrv, "RetryGroup")
            c.subscribe("RetryTopic", "*")
            c.register_message_listener(listener)
            async with c:
                await wait_until(
                    lambda: all(len(attempts.get(i, [])) >= 2 for i in ids), 30, "redelivery"
                )
            assert {i: attempts[i][:2] for i in ids} == {i: [0, 1] for i in ids}

    run(body())


def test_broadcasting_delivers_every_message_to_every_consumer(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            await p.fetch_publish_message_queues("BroadcastTopic")
            got: list[set[bytes]] = [set(), set(), set()]
            consumers = []
            for i in range(3):
                c = consumer(
                    cluster.namesrv,
                    "BroadcastGroup",
                    instance_name=f"bc{i}",
                    message_model=MessageModel.BROADCASTING,
                    offset_store_dir=str(tmp_path / "offsets"),
                )
                c.subscribe("BroadcastTopic", "*")
                c.register_message_listener(lambda msgs, s=got[i]: s.update(m.body for m in msgs))
                await c.start()
                consumers.append(c)
            bodies = {b"b%d" % i for i in range(50)}
            for payload in sorted(bodies):
                await p.send(Message("BroadcastTopic", payload))
            await wait_until(lambda: all(s == bodies for s in got), 20, "broadcast")
            for c in consumers:
                await c.shutdown()
            offsets = list((tmp_path / "offsets").rglob("offsets.json"))
            assert len(offsets) == 3

    run(body())


def test_ordered_messages_stay_in_order(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            for step in range(10):
                for order in range(4):
                    msg = Message("OrderTopic", f"{order}:{step}".encode())
                    await p.send(msg, selector=SelectMessageQueueByHash(), arg=order)
            seen: dict[str, list[int]] = {}

            def listener(msgs: list[MessageExt]) -> ConsumeOrderlyStatus:
                for msg in msgs:
                    order, step = msg.body.decode().split(":")
                    seen.setdefault(order, []).append(int(step))
                return ConsumeOrderlyStatus.SUCCESS

            c = consumer(cluster.namesrv, "OrderGroup")
            c.subscribe("OrderTopic", "*")
            c.register_message_listener(listener, orderly=True)
            async with c:
                await wait_until(lambda: sum(map(len, seen.values())) >= 40, 20, "orders")
            assert seen == {str(o): list(range(10)) for o in range(4)}

    run(body())


def test_batch_and_delayed_sends(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path, message_delay_level="1s 1s") as cluster:
            async with Producer("PG", cluster.namesrv) as p:
                batch = [Message("BatchTopic", b"x%d" % i) for i in range(10)]
                result = await p.send_batch(batch)
                assert len(result.msg_id.split(",")) == 10
                delayed = Message("BatchTopic", b"late")
                delayed.delay_time_level = 1
                sent_at = time.monotonic()
                await p.send(delayed)
            arrivals: dict[bytes, float] = {}
            c = consumer(cluster.namesrv, "BatchGroup")
            c.subscribe("BatchTopic", "*")
            c.register_message_listener(
                lambda msgs: arrivals.update({m.body: time.monotonic() for m in msgs})
            )
            async with c:
                await wait_until(lambda: len(arrivals) >= 11, 20, "batch and delayed")
            assert arrivals[b"late"] - sent_at >= 0.9

    run(body())


def test_lite_pull_poll_seek_commit_pause(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster:
            async with Producer("PG", cluster.namesrv) as p:
                mq = MessageQueue("LiteTopic", "broker-a", 0)
                for i in range(20):
                    await p.send(Message("LiteTopic", b"%d" % i), mq)
            c = LitePullConsumer(
                "LiteGroup", cluster.namesrv, consume_from_where=FIRST, auto_commit=False
            )
            c.assign([mq])
            async with c:
                got: list[int] = []
                while len(got) < 20:
                    got += [int(m.body) for m in await c.poll(2.0)]
                assert got == list(range(20))
                await c.commit()
                assert await c.committed(mq) == 20
                await c.seek(mq, 5)
                again = await c.poll(2.0)
                assert int(again[0].body) == 5
                c.pause([mq])
                assert await c.poll(0.3) == []
                c.resume([mq])
                await c.seek_to_end(mq)
                assert await c.poll(0.3) == []
                await c.seek_to_begin(mq)
                assert int((await c.poll(2.0))[0].body) == 0
                with pytest.raises(ClientError):
                    await c.seek(mq, 999)

            sub = LitePullConsumer("LiteSub", cluster.namesrv, consume_from_where=FIRST)
            sub.subscribe("LiteTopic", "*")
            async with sub:
                n = 0
                deadline = time.monotonic() + 15
                while n < 20 and time.monotonic() < deadline:
                    n += len(await sub.poll(1.0))
                assert n == 20

    run(body())


def test_admin_topics_cluster_and_progress(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path, auto_create_topic_enable=False) as cluster:
            async with AdminClient(cluster.namesrv) as admin:
                info = await admin.cluster_info()
                assert "broker-a" in info.brokers and info.master_addrs()
                await admin.create_topic("AdminTopic", read_queue_nums=2, write_queue_nums=2)
                route = await admin.topic_route("AdminTopic")
                assert route.queue_datas[0].write_queue_nums == 2
                assert "AdminTopic" in await admin.list_topics()
                async with Producer("PG", cluster.namesrv) as p:
                    for i in range(6):
                        await p.send(Message("AdminTopic", b"%d" % i))
                    with pytest.raises(TopicNotExistError, match="NoSuchTopic"):
                        await p.send(Message("NoSuchTopic", b"x"))
                got: list[bytes] = []
                c = consumer(cluster.namesrv, "AdminGroup")
                c.subscribe("AdminTopic", "*")
                c.register_message_listener(lambda msgs: got.extend(m.body for m in msgs))
                async with c:
                    await wait_until(lambda: len(got) >= 6, 20, "messages")
                progress = await admin.consumer_progress("AdminGroup", "AdminTopic")
                assert sum(q.broker_offset for q in progress.queues) == 6
                assert progress.total_lag == 0
                await admin.delete_topic("AdminTopic")
                with pytest.raises(TopicNotExistError):
                    await admin.topic_route("AdminTopic")

    run(body())


def test_bad_tag_expression_raises_filter_error() -> None:
    c = PushConsumer("G", "127.0.0.1:9876")
    with pytest.raises(FilterError):
        c.subscribe("T", "||")
    with pytest.raises(ClientError):
        c.subscribe("bad topic", "*")
