"""Two rebalance passes at once take each queue once (one pull loop per queue)."""

from __future__ import annotations

import asyncio

from rmq_core.client.config import MessageModel
from rmq_core.client.consumer.process_queue import ProcessQueue
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.rebalance.impl import RebalanceImpl
from rmq_core.client.rebalance.strategies import AllocateMessageQueueAveragely
from rmq_core.common.message import MessageExt

QUEUES = [MessageQueue("T", "broker-a", i) for i in range(4)]


class _Recording(RebalanceImpl):
    """Answers every look-up after yielding to the loop, as the network-backed ones do."""

    def __init__(self) -> None:
        super().__init__("g", MessageModel.CLUSTERING, AllocateMessageQueueAveragely())
        self.topic_subscribe_info["T"] = list(QUEUES)
        self.dispatched: list[tuple[MessageQueue, ProcessQueue[MessageExt], int]] = []

    def client_id(self) -> str:
        return "c1"

    async def consumer_id_list(self, topic: str) -> list[str]:
        await asyncio.sleep(0)
        return ["c1"]

    async def remove_unnecessary_mq(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> bool:
        return True

    async def compute_pull_from_where(self, mq: MessageQueue) -> int:
        await asyncio.sleep(0)
        return 5

    def dispatch_pull(self, mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        self.dispatched.append((mq, pq, offset))

    async def refresh_route(self, topic: str) -> None:
        return None


def test_concurrent_rebalances_dispatch_each_queue_once() -> None:
    async def run() -> _Recording:
        impl = _Recording()
        await asyncio.gather(impl.do_rebalance(["T"]), impl.do_rebalance(["T"]))
        return impl

    impl = asyncio.run(run())
    assert sorted(mq for mq, _, _ in impl.dispatched) == QUEUES
    for mq, pq, offset in impl.dispatched:  # the table holds the queue that is pulled
        assert impl.process_queue_table[mq] is pq and offset == 5


def test_concurrent_lite_pull_assignments_own_each_queue_once() -> None:
    from rmq_core.client import LitePullConsumer

    consumer = LitePullConsumer("g", "127.0.0.1:1")
    consumer.assign(QUEUES)
    owned: list[MessageQueue] = []

    async def start_offset(mq: MessageQueue) -> int:
        await asyncio.sleep(0)
        return 0

    def own(mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        owned.append(mq)
        consumer._states[mq] = object()  # type: ignore[assignment]

    consumer._start_offset = start_offset  # type: ignore[method-assign]
    consumer._own = own  # type: ignore[method-assign]

    async def run() -> None:
        await asyncio.gather(consumer._apply_assignment(), consumer._apply_assignment())

    asyncio.run(run())
    assert sorted(owned) == QUEUES
