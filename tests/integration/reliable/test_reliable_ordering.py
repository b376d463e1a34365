"""Ordered messages: partial order by business key and global order, with orderly consumers
that hold broker queue locks while the group changes under them."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

from rmq_core.admin import AdminClient
from rmq_core.client import (
    ConsumeOrderlyStatus,
    Message,
    MessageExt,
    MessageQueue,
    Producer,
    SelectMessageQueueByHash,
)
from rmq_core.remoting import fastjson
from rmq_core.remoting.codes import RequestCode, ResponseCode
from tests.integration.reliable.reliable_support import (
    client_options,
    push_consumer,
    run,
    stored_count,
    wait_until,
)
from tests.support.broker_client import RawBrokerClient
from tests.support.cluster import running_cluster

KEYS = 100
PER_KEY = 100
TOTAL = KEYS * PER_KEY


class OrderLog:
    """Deliveries per consumer, in the order each listener saw them: (key, seq)."""

    def __init__(self) -> None:
        self.by_consumer: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.first_seen: dict[int, list[int]] = defaultdict(list)
        self.seen: set[tuple[int, int]] = set()
        self.failed_once: set[tuple[int, int]] = set()
        self.active: dict[int, str] = {}  # queue id -> consumer inside the listener
        self.overlaps: list[str] = []

    def listener(self, name: str, fail_every: int = 0):  # type: ignore[no-untyped-def]
        async def on_messages(msgs: list[MessageExt]) -> ConsumeOrderlyStatus:
            queue_id = msgs[0].queue_id
            other = self.active.setdefault(queue_id, name)
            if other != name:
                self.overlaps.append(f"{name} and {other} both consume queue {queue_id}")
            try:
                return await self._consume(name, fail_every, msgs)
            finally:
                if self.active.get(queue_id) == name:
                    del self.active[queue_id]

        return on_messages

    async def _consume(
        self, name: str, fail_every: int, msgs: list[MessageExt]
    ) -> ConsumeOrderlyStatus:
        for msg in msgs:
            key, seq = (int(part) for part in msg.body.decode().split(":"))
            if fail_every and seq % fail_every == 7 and (key, seq) not in self.failed_once:
                self.failed_once.add((key, seq))
                return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
            self.by_consumer[name].append((key, seq))
            if (key, seq) not in self.seen:
                self.seen.add((key, seq))
                self.first_seen[key].append(seq)
        await asyncio.sleep(0.0005)  # let other consumers run while this one is inside
        return ConsumeOrderlyStatus.SUCCESS

    def check(self) -> None:
        """No queue was inside two consumers' listeners at once; every key's first deliveries
        are 0..n-1 in order; no consumer ever skips ahead within a key (it may only restart
        lower, after a queue moved to it)."""
        assert not self.overlaps, self.overlaps[:5]
        for key in range(KEYS):
            assert self.first_seen[key] == list(range(PER_KEY)), f"key {key} out of order"
        for name, deliveries in self.by_consumer.items():
            last: dict[int, int] = {}
            for key, seq in deliveries:
                previous = last.get(key)
                assert previous is None or seq <= previous + 1, (
                    f"{name} jumped from {previous} to {seq} on key {key}"
                )
                last[key] = seq


def test_partial_order_by_key_with_consumers_joining_and_leaving(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path) as cluster:
            ns = cluster.namesrv_addr
            async with AdminClient(ns) as admin:
                await admin.create_topic("OrderTopic", read_queue_nums=8, write_queue_nums=8)
            log = OrderLog()
            options = {"suspend_current_queue_time": 0.05, "pull_batch_size": 16}

            def consumer(name: str, fail_every: int = 0):  # type: ignore[no-untyped-def]
                c = push_consumer(ns, "CG_ORDER", **options, instance_name=name)
                c.subscribe("OrderTopic", "*")
                c.register_message_listener(log.listener(name, fail_every), orderly=True)
                return c

            first, second, third = consumer("c1", fail_every=25), consumer("c2"), consumer("c3")
            await first.start()
            await second.start()
            selector = SelectMessageQueueByHash()
            async with Producer("PG_ORDER", ns, **client_options("order-producer")) as producer:

                async def send_key(key: int) -> None:
                    for seq in range(PER_KEY):
                        msg = Message("OrderTopic", f"{key}:{seq}".encode())
                        msg.keys = [f"order-{key}"]
                        await producer.send(msg, selector=selector, arg=key)

                sending = asyncio.gather(*(send_key(k) for k in range(KEYS)))
                await wait_until(lambda: len(log.seen) >= TOTAL // 3, 60, "a third consumed")
                await third.start()
                await wait_until(lambda: len(log.seen) >= 2 * TOTAL // 3, 60, "two thirds")
                await first.shutdown()
                await sending
                await wait_until(lambda: len(log.seen) >= TOTAL, 60, "every message")
            await second.shutdown()
            await third.shutdown()
            log.check()
            assert log.failed_once, "failures were injected"
            assert stored_count(cluster, "%RETRY%CG_ORDER") == 0  # suspended, not sent back
            assert {name for name, got in log.by_consumer.items() if got} == {"c1", "c2", "c3"}

    start = time.monotonic()
    run(scenario(), timeout=180)
    assert time.monotonic() - start < 180


def test_global_order_with_one_queue(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path) as cluster:
            ns = cluster.namesrv_addr
            async with AdminClient(ns) as admin:
                await admin.create_topic("GlobalTopic", read_queue_nums=1, write_queue_nums=1)
            log = OrderLog()
            consumers = []
            for name in ("g1", "g2"):
                c = push_consumer(ns, "CG_GLOBAL", instance_name=name)
                c.subscribe("GlobalTopic", "*")
                c.register_message_listener(log.listener(name), orderly=True)
                consumers.append(c)
            async with consumers[0], consumers[1]:
                async with Producer("PG_GLOBAL", ns, **client_options("global-p")) as producer:
                    [queue] = await producer.fetch_publish_message_queues("GlobalTopic")
                    for seq in range(300):
                        await producer.send(Message("GlobalTopic", f"0:{seq}".encode()), queue)
                await wait_until(lambda: len(log.seen) >= 300, 30, "300 messages")
            assert log.first_seen[0] == list(range(300))
            busy = [name for name, got in log.by_consumer.items() if got]
            assert len(busy) == 1, f"one queue is consumed by one consumer, not {busy}"

    run(scenario())


def test_lock_requests_over_the_wire_refuse_only_queues_held_by_others(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path) as cluster:
            queues = [MessageQueue("LockTopic", "broker-a", i).to_json() for i in range(3)]

            def body(client: str, mqs: list[dict[str, object]]) -> bytes:
                return fastjson.dumps(
                    {"consumerGroup": "CG_LOCK", "clientId": client, "mqSet": mqs}
                )

            async with RawBrokerClient(cluster.broker_addr) as raw:
                first = await raw.call(RequestCode.LOCK_BATCH_MQ, body=body("c1", queues[:2]))
                assert first.code == ResponseCode.SUCCESS
                second = await raw.call(RequestCode.LOCK_BATCH_MQ, body=body("c2", queues))
                held = fastjson.loads(second.body)["lockOKMQSet"]
                assert [q["queueId"] for q in held] == [2]
                await raw.call(RequestCode.UNLOCK_BATCH_MQ, body=body("c1", queues[:1]))
                third = await raw.call(RequestCode.LOCK_BATCH_MQ, body=body("c2", queues))
                assert [q["queueId"] for q in fastjson.loads(third.body)["lockOKMQSet"]] == [0, 2]
                bad = await raw.call(RequestCode.LOCK_BATCH_MQ, body=b"[1,2")
                assert bad.code == ResponseCode.SYSTEM_ERROR

    run(scenario())
