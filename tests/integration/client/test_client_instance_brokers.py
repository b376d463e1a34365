"""A client instance heartbeats every broker it learns, however it learnt it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rmq_core.client import Message, Producer, PushConsumer, SendStatus


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_broker_learnt_through_auto_create_route_gets_a_heartbeat(
    client_cluster: Any, tmp_path: Path
) -> None:
    """A producer sending to a new topic learns the broker from TBW102's route; the shared
    instance must introduce itself at once (not after ``heartbeat_broker_interval``), so
    the broker can reach the producer and the consumers of the same instance get queues."""

    async def body() -> None:
        async with client_cluster(tmp_path) as cluster:
            broker = cluster.brokers[0]
            got: list[bytes] = []
            consumer = PushConsumer(
                "AutoGroup",
                cluster.namesrv,
                instance_name="shared",
                poll_name_server_interval=0.3,
                rebalance_interval=0.3,
            )
            consumer.subscribe("AutoTopic", "*")  # does not exist yet: no broker known
            consumer.register_message_listener(lambda msgs: got.extend(m.body for m in msgs))
            await consumer.start()
            producer = Producer("AutoProducer", cluster.namesrv, instance_name="shared")
            await producer.start()
            try:
                assert producer.instance is consumer.instance
                assert not broker.context.producers.channels("AutoProducer")
                result = await producer.send(Message("AutoTopic", b"first"))
                assert result.status is SendStatus.SEND_OK
                await wait_until(
                    lambda: broker.context.producers.channels("AutoProducer"),
                    5,
                    "the broker to know the producer",
                )
                await wait_until(lambda: got == [b"first"], 10, "the consumer to get the message")
            finally:
                await producer.shutdown()
                await consumer.shutdown()

    asyncio.run(asyncio.wait_for(body(), 60))
