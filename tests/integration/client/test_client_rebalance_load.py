"""100k messages through 3 push consumers of one group while one joins and one leaves.

Proves: no message is lost; duplicates happen only on queues that changed owner during the
rebalances (at-least-once around a rebalance), and the test reports how many there were.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rmq_core.admin import AdminClient
from rmq_core.client import ConsumeFromWhere, Message, MessageExt, Producer, PushConsumer

TOTAL = 100_000
BATCH = 100
QUEUES = 8
SENDERS = 4
TOPIC = "LoadTopic"
GROUP = "LoadGroup"


def make_consumer(namesrv: str, index: int, seen: list[tuple[int, str, int, int]]) -> PushConsumer:
    consumer = PushConsumer(
        GROUP,
        namesrv,
        instance_name=f"load-{index}",
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        rebalance_interval=1.0,
        persist_consumer_offset_interval=0.5,
        consume_message_batch_max_size=32,
        consume_thread_max=4,
    )
    consumer.subscribe(TOPIC, "*")

    async def listener(msgs: list[MessageExt]) -> None:
        for msg in msgs:
            seen.append((index, msg.unique_key or "", msg.queue_id, msg.queue_offset))

    consumer.register_message_listener(listener)
    return consumer


async def produce(producer: Producer, sent: list[int]) -> None:
    async def sender(worker: int) -> None:
        for start in range(worker * BATCH, TOTAL, BATCH * SENDERS):
            msgs = [Message(TOPIC, b"%d" % i) for i in range(start, min(start + BATCH, TOTAL))]
            await producer.send_batch(msgs, timeout=10)
            sent[0] += len(msgs)

    await asyncio.gather(*(sender(w) for w in range(SENDERS)))


def test_100k_messages_with_a_consumer_joining_and_one_leaving(
    client_cluster: Any, tmp_path: Path
) -> None:
    async def body() -> dict[str, Any]:
        async with client_cluster(tmp_path) as cluster:
            async with AdminClient(cluster.namesrv) as admin:
                await admin.create_topic(TOPIC, read_queue_nums=QUEUES, write_queue_nums=QUEUES)
            seen: list[tuple[int, str, int, int]] = []
            owners: dict[int, set[int]] = defaultdict(set)
            consumers = [make_consumer(cluster.namesrv, i, seen) for i in range(3)]
            for consumer in consumers[:2]:
                await consumer.start()
            sent = [0]
            started = time.monotonic()
            async with Producer("LoadProducer", cluster.namesrv) as producer:
                production = asyncio.ensure_future(produce(producer, sent))
                joined = left = False
                while len({s[1] for s in seen}) < TOTAL:
                    if time.monotonic() - started > 55:
                        break
                    if not joined and sent[0] >= TOTAL * 0.3:
                        await consumers[2].start()
                        joined = True
                    if joined and not left and sent[0] >= TOTAL * 0.6:
                        await consumers[0].shutdown()
                        left = True
                    for index, consumer in enumerate(consumers):
                        for mq in consumer.owned_queues():
                            if mq.topic == TOPIC:
                                owners[mq.queue_id].add(index)
                    await asyncio.sleep(0.05)
                await production
            elapsed = time.monotonic() - started
            for consumer in consumers[1:]:
                await consumer.shutdown()
        return {"seen": seen, "owners": owners, "elapsed": elapsed, "joined": joined, "left": left}

    result = asyncio.run(asyncio.wait_for(body(), 90))
    seen = result["seen"]
    ids = Counter(s[1] for s in seen)
    duplicates = sum(count - 1 for count in ids.values())
    by_consumer = Counter(s[0] for s in seen)
    print(
        f"\n100k rebalance run: {len(ids)} distinct of {TOTAL} in {result['elapsed']:.1f} s, "
        f"{duplicates} duplicate deliveries, per consumer {dict(sorted(by_consumer.items()))}"
    )
    assert result["joined"] and result["left"]
    assert len(ids) == TOTAL, f"lost {TOTAL - len(ids)} messages"
    assert all(by_consumer[i] > 0 for i in range(3))
    moved_queues = {q for q, who in result["owners"].items() if len(who) > 1}
    for _index, uniq, queue_id, _offset in seen:
        if ids[uniq] > 1:
            assert queue_id in moved_queues, f"duplicate on queue {queue_id} that never moved"
