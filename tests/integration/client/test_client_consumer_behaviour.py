"""Start positions, broker-driven rebalance and the blocking facade against a real broker."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rmq_core.client import (
    ConsumeFromWhere,
    Message,
    MessageExt,
    Producer,
    PushConsumer,
    SendStatus,
)
from rmq_core.client import sync as blocking
from rmq_core.errors import ClientError


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_consume_from_timestamp_skips_older_messages(client_cluster: Any, tmp_path: Path):
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            for i in range(5):
                await p.send(Message("TsTopic", b"old%d" % i))
            await asyncio.sleep(1.1)
            since = datetime.now().strftime("%Y%m%d%H%M%S")
            await asyncio.sleep(1.1)
            for i in range(5):
                await p.send(Message("TsTopic", b"new%d" % i))
            got: list[bytes] = []
            c = PushConsumer(
                "TsGroup",
                cluster.namesrv,
                consume_from_where=ConsumeFromWhere.CONSUME_FROM_TIMESTAMP,
                consume_timestamp=since,
            )
            c.subscribe("TsTopic", "*")
            c.register_message_listener(lambda msgs: got.extend(m.body for m in msgs))
            async with c:
                await wait_until(lambda: len(got) >= 5, 15, "new messages")
                await asyncio.sleep(0.5)
            assert sorted(got) == [b"new%d" % i for i in range(5)]

    asyncio.run(asyncio.wait_for(body(), 60))


def test_consumer_ids_changed_notification_triggers_rebalance(client_cluster: Any, tmp_path):
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            await p.send(Message("NotifyTopic", b"x"))  # creates the topic (4 queues)
            consumers = []
            for i in range(2):
                c = PushConsumer(
                    "NotifyGroup",
                    cluster.namesrv,
                    instance_name=f"notify-{i}",
                    rebalance_interval=120.0,  # only the broker's notification can help
                )
                c.subscribe("NotifyTopic", "*")
                c.register_message_listener(lambda msgs: None)
                await c.start()
                consumers.append(c)

            def topic_queues(c: PushConsumer) -> int:
                return sum(1 for mq in c.owned_queues() if mq.topic == "NotifyTopic")

            await wait_until(
                lambda: [topic_queues(c) for c in consumers] == [2, 2], 10, "2 + 2 queues"
            )
            await consumers[1].shutdown()
            await wait_until(lambda: topic_queues(consumers[0]) == 4, 10, "all 4 queues back")
            await consumers[0].shutdown()

    asyncio.run(asyncio.wait_for(body(), 60))


def test_blocking_facade_from_many_threads(client_cluster: Any, tmp_path: Path):
    ready = threading.Event()
    stop = threading.Event()
    address: list[str] = []

    async def serve() -> None:
        async with client_cluster(tmp_path) as cluster:
            address.append(cluster.namesrv)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    server = threading.Thread(target=lambda: asyncio.run(asyncio.wait_for(serve(), 120)))
    server.start()
    try:
        assert ready.wait(30)
        namesrv = address[0]
        received: list[bytes] = []
        done = threading.Event()

        def listener(msgs: list[MessageExt]) -> None:
            assert threading.current_thread() is not threading.main_thread()
            received.extend(m.body for m in msgs)
            if len(received) >= 40:
                done.set()

        consumer = blocking.PushConsumer(
            "SyncGroup",
            namesrv,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        )
        consumer.subscribe("SyncTopic", "*")
        consumer.register_message_listener(listener)
        with blocking.Producer("SyncPG", namesrv) as producer:
            with ThreadPoolExecutor(8) as pool:
                results = list(
                    pool.map(lambda i: producer.send(Message("SyncTopic", b"%d" % i)), range(40))
                )
            assert all(r.status is SendStatus.SEND_OK for r in results)
            future = producer.send_async(Message("SyncTopic", b"async"))
            assert future.result(10).status is SendStatus.SEND_OK
            with consumer:
                assert done.wait(20)
        assert len(set(received)) >= 40

        async def misuse() -> None:
            with pytest.raises(ClientError, match="loop thread"):
                blocking.run_sync(asyncio.sleep(0))

        blocking.run_sync(misuse(), 10)
    finally:
        stop.set()
        server.join(30)
