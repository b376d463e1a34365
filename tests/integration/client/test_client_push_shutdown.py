"""PushConsumer.shutdown: in-flight listener calls finish and their offsets are committed."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from rmq_core.admin import AdminClient
from rmq_core.client import Message, MessageExt, Producer, PushConsumer


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def committed(namesrv: str, group: str, topic: str) -> dict[int, int]:
    async with AdminClient(namesrv) as admin:
        progress = await admin.consumer_progress(group, topic)
    return {q.mq.queue_id: q.consumer_offset for q in progress.queues}


def test_shutdown_commits_the_in_flight_message_and_starts_no_new_one(
    client_cluster: Any, tmp_path: Path
) -> None:
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            queue = (await p.fetch_publish_message_queues("ShutTopic"))[0]
            for i in range(2):
                await p.send(Message("ShutTopic", b"m%d" % i), queue)
            got: list[bytes] = []
            in_handler = threading.Event()
            release = threading.Event()

            def slow(msgs: list[MessageExt]) -> None:
                got.extend(m.body for m in msgs if m.queue_id == queue.queue_id)
                in_handler.set()
                release.wait(10)

            consumer = PushConsumer("ShutGroup", cluster.namesrv, consume_thread_max=1)
            consumer.subscribe("ShutTopic", "*")
            consumer.register_message_listener(slow)
            await consumer.start()
            await wait_until(in_handler.is_set, 15, "the first message in the listener")
            stopping = asyncio.ensure_future(consumer.shutdown(timeout=10))
            await asyncio.sleep(0.3)
            assert not stopping.done()  # waits for the listener
            release.set()
            await asyncio.wait_for(stopping, 10)
            assert got == [b"m0"]  # m1 was pulled but its listener call never started
            assert (await committed(cluster.namesrv, "ShutGroup", "ShutTopic"))[queue.queue_id] == 1

            again: list[bytes] = []
            restarted = PushConsumer("ShutGroup", cluster.namesrv, instance_name="again")
            restarted.subscribe("ShutTopic", "*")
            restarted.register_message_listener(lambda msgs: again.extend(m.body for m in msgs))
            async with restarted:
                await wait_until(lambda: b"m1" in again, 15, "m1 after the restart")
                await asyncio.sleep(0.3)
            assert again == [b"m1"]

    asyncio.run(asyncio.wait_for(body(), 60))


def test_shutdown_timeout_bounds_a_stuck_listener(client_cluster: Any, tmp_path: Path) -> None:
    """A listener outliving the timeout does not hold shutdown; its message comes again."""

    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            await p.send(Message("StuckTopic", b"stuck"))
            in_handler = threading.Event()
            release = threading.Event()

            def stuck(msgs: list[MessageExt]) -> None:
                in_handler.set()
                release.wait(10)

            consumer = PushConsumer("StuckGroup", cluster.namesrv)
            consumer.subscribe("StuckTopic", "*")
            consumer.register_message_listener(stuck)
            await consumer.start()
            try:
                await wait_until(in_handler.is_set, 15, "the message in the listener")
                started = time.monotonic()
                await consumer.shutdown(timeout=0.5)
                assert time.monotonic() - started < 5
            finally:
                release.set()
            offsets = await committed(cluster.namesrv, "StuckGroup", "StuckTopic")
            assert all(offset <= 0 for offset in offsets.values())

    asyncio.run(asyncio.wait_for(body(), 60))
