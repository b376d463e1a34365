"""Two rebalance passes at once take each queue once (one pull loop per queue)."""

from __future__ import annotations

import asyncio

from rmq_core.client import LitePullConsumer
from rmq_core.client.config import MessageModel
from rmq_core.client.consumer.lite_pull import _QueueState
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


class _Gated(_Recording):
    """Releasing QUEUES[0] waits for ``gate`` (a slow offset persist); logs each pass's start."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.cids = ["c1"]
        self.events: list[str] = []

    async def consumer_id_list(self, topic: str) -> list[str]:
        self.events.append("pass")
        await asyncio.sleep(0)
        return list(self.cids)

    async def remove_unnecessary_mq(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> bool:
        if mq == QUEUES[0]:
            await self.gate.wait()
        return True


def test_rebalance_passes_are_serialised() -> None:
    async def run() -> _Gated:
        impl = _Gated()
        await impl.do_rebalance(["T"])
        impl.cids = ["c0", "c1"]  # c0 joins: QUEUES[0] must be released (blocked on the gate)
        first = asyncio.ensure_future(impl.do_rebalance(["T"]))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(impl.do_rebalance(["T"]))
        await asyncio.sleep(0.01)
        assert impl.events == ["pass", "pass"]  # the second pass waits for the first
        impl.gate.set()
        await asyncio.gather(first, second)
        assert impl.events == ["pass", "pass", "pass"]
        return impl

    impl = asyncio.run(run())
    assert sorted(impl.process_queue_table) == QUEUES[2:]


def test_a_drop_removes_only_the_process_queue_it_dropped() -> None:
    async def run() -> tuple[_Gated, ProcessQueue[MessageExt]]:
        impl = _Gated()
        await impl.do_rebalance(["T"])
        impl.cids = ["c0", "c1"]
        stale = asyncio.ensure_future(impl.do_rebalance(["T"]))
        await asyncio.sleep(0.01)  # blocked releasing QUEUES[0]
        newer: ProcessQueue[MessageExt] = ProcessQueue()
        impl.process_queue_table[QUEUES[0]] = newer  # e.g. a seek replaced the entry
        impl.gate.set()
        await stale
        return impl, newer

    impl, newer = asyncio.run(run())
    assert impl.process_queue_table[QUEUES[0]] is newer and not newer.dropped


class _DroppedMeanwhile(_Recording):
    """While a queue's start offset is awaited, a dropped entry for it lands in the table."""

    async def compute_pull_from_where(self, mq: MessageQueue) -> int:
        left: ProcessQueue[MessageExt] = ProcessQueue()
        left.dropped = True
        self.process_queue_table[mq] = left
        return await super().compute_pull_from_where(mq)


def test_a_dropped_entry_found_after_the_await_is_replaced() -> None:
    impl = _DroppedMeanwhile()
    asyncio.run(impl.do_rebalance(["T"]))
    assert sorted(mq for mq, _, _ in impl.dispatched) == QUEUES
    for mq, pq, _ in impl.dispatched:
        assert impl.process_queue_table[mq] is pq and not pq.dropped


class _Store:
    def update_offset(self, *args: object, **kwargs: object) -> None:
        return None

    async def persist(self, mq: MessageQueue) -> None:
        return None

    def remove_offset(self, mq: MessageQueue) -> None:
        return None


def _lite() -> LitePullConsumer:
    consumer = LitePullConsumer("g", "127.0.0.1:1")
    consumer._offset_store = _Store()  # type: ignore[assignment]

    async def start_offset(mq: MessageQueue) -> int:
        await asyncio.sleep(0.01)
        return 0

    consumer._start_offset = start_offset  # type: ignore[method-assign]
    return consumer


def test_lite_queue_unassigned_while_its_offset_was_awaited_is_not_owned() -> None:
    async def run() -> list[MessageQueue]:
        consumer = _lite()
        consumer._running = True
        consumer.assign([QUEUES[0]])  # a pass awaits QUEUES[0]'s start offset
        await asyncio.sleep(0)
        consumer.assign([])
        await asyncio.sleep(0.05)
        owned = consumer.assignment()
        consumer._running = False
        return owned

    assert asyncio.run(run()) == []


def test_lite_shutdown_while_an_offset_was_awaited_owns_nothing() -> None:
    async def run() -> list[MessageQueue]:
        consumer = _lite()
        consumer._running = True
        consumer.assign([QUEUES[0]])
        await asyncio.sleep(0)
        consumer._running = False  # what shutdown() does to the tables
        consumer._stopped = True
        consumer._states.clear()
        await asyncio.sleep(0.05)
        return consumer.assignment()

    assert asyncio.run(run()) == []


def test_lite_own_retires_the_previous_state_of_the_queue() -> None:
    async def run() -> tuple[ProcessQueue[MessageExt], bool, int]:
        consumer = _lite()
        consumer._running = True
        first: ProcessQueue[MessageExt] = ProcessQueue()
        consumer._own(QUEUES[0], first, 0)
        old_task = consumer._states[QUEUES[0]].task
        assert old_task is not None
        consumer._own(QUEUES[0], ProcessQueue(), 7)
        await asyncio.sleep(0)
        state = consumer._states[QUEUES[0]]
        consumer._running = False
        if state.task is not None:
            state.task.cancel()
        return first, old_task.done(), state.pull_offset

    first, old_done, offset = asyncio.run(run())
    assert first.dropped and old_done and offset == 7


def test_lite_pull_loop_of_a_replaced_state_ends() -> None:
    async def run() -> None:
        consumer = _lite()
        consumer._running = True
        orphan = _QueueState(QUEUES[0], ProcessQueue(), 0)  # not in consumer._states
        await asyncio.wait_for(consumer._pull_loop(orphan), 1.0)
        consumer._running = False

    asyncio.run(run())
