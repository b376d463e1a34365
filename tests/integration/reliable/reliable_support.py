"""Helpers of the reliable-messaging integration tests (transactions, order, SQL92, query)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from rmq_core.broker.controller import BrokerController
from rmq_core.client import ConsumeFromWhere, MessageExt, PushConsumer
from tests.support.cluster import Cluster

FIRST = ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
FAST_CLIENT = {
    "poll_name_server_interval": 0.3,
    "heartbeat_broker_interval": 0.3,
    "rebalance_interval": 0.5,
    "persist_consumer_offset_interval": 0.5,
}
"""Client timers short enough for tests (routes, heartbeats, rebalance, offsets)."""


def run(coro: Any, timeout: float = 90) -> Any:
    """Run ``coro`` in a fresh loop, bounded by ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def client_options(name: str, **extra: Any) -> dict[str, Any]:
    """Options for a producer/consumer with its own client instance and fast timers."""
    options: dict[str, Any] = dict(FAST_CLIENT)
    options["instance_name"] = f"{name}-{os.getpid()}"
    options.update(extra)
    return options


def push_consumer(namesrv: str, group: str, **extra: Any) -> PushConsumer:
    """A push consumer starting at the first offset, with fast timers."""
    extra.setdefault("consume_from_where", FIRST)
    return PushConsumer(group, namesrv, **client_options(group, **extra))


class Collector:
    """An async listener recording every delivered message."""

    def __init__(self) -> None:
        self.messages: list[MessageExt] = []

    async def __call__(self, msgs: list[MessageExt]) -> None:
        self.messages.extend(msgs)

    @property
    def bodies(self) -> list[bytes]:
        return [m.body for m in self.messages]


def stored_count(cluster: Cluster, topic: str) -> int:
    """Messages dispatched to ``topic``'s consume queues on the broker."""
    ctx = cluster.broker.context
    config = ctx.topics.select(topic)
    queues = config.queue_count if config is not None else 0
    return sum(ctx.store.get_max_offset_in_queue(topic, q) for q in range(queues))


async def restart_broker(cluster: Cluster) -> None:
    """Stop the broker and start a new one on the same port and store (same NameServer)."""
    old = cluster.broker
    port = old.port
    config = old.config.with_properties({"listenPort": str(port)})
    store_config = old.store_config
    await old.shutdown()
    broker = BrokerController(config, store_config, fast_port=False)
    await broker.start()
    cluster.broker = broker
    registrar = broker.registrar
    assert registrar is not None
    await wait_until(lambda: registrar.registrations > 0, 10, "re-registration")
