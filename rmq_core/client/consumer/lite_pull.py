"""``LitePullConsumer``: the application polls, the client pulls ahead (DefaultLitePullConsumer).

Two modes, not mixed:
- ``subscribe(topic, expression)``: queues come from the group's rebalance, like a push
  consumer (CLUSTERING shares them out, BROADCASTING takes all);
- ``assign(queues)``: exactly these queues, no rebalance.

Each owned queue has a pull task filling an in-memory buffer, paused while the queue's
buffered messages exceed ``pull_threshold_for_queue`` / ``pull_threshold_size_for_queue``.
``poll(timeout)`` returns the next buffered batch (at most ``pull_batch_size`` messages of one
queue, in offset order) and marks it consumed; ``commit()`` stores the consumed positions as the
group's offsets (broker for CLUSTERING, local file for BROADCASTING). With ``auto_commit``,
``poll`` commits every ``auto_commit_interval`` seconds and ``shutdown`` commits a last time.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rmq_core.client.config import LitePullConsumerConfig, build_config
from rmq_core.client.consumer.common import (
    compute_pull_from_where,
    make_offset_store,
    post_process,
    pull_header,
)
from rmq_core.client.consumer.process_queue import FlowControlThresholds, ProcessQueue
from rmq_core.client.heartbeat import CONSUME_ACTIVELY, ConsumerData, SubscriptionData
from rmq_core.client.instance import ClientInstance
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.offset_store import OffsetStore, ReadOffsetType
from rmq_core.client.rebalance.impl import RebalanceImpl
from rmq_core.client.rebalance.strategies import (
    AllocateMessageQueueAveragely,
    AllocateMessageQueueStrategy,
)
from rmq_core.client.results import PullStatus
from rmq_core.client.route import TopicRouteData, subscribe_queues
from rmq_core.client.validators import check_group, check_topic
from rmq_core.common.message import MessageExt
from rmq_core.errors import ClientError, RocketMQError, TopicNotExistError

__all__ = ["LitePullConsumer"]

log = logging.getLogger(__name__)

FLOW_CONTROL_DELAY = 0.05  # s between checks while a queue's buffer is full
PAUSE_DELAY = 0.05  # s between checks while a queue is paused
LITE_SUSPEND_MAX = 5.0  # s the broker may hold a lite pull


class _Mode(enum.Enum):
    NONE = "NONE"
    SUBSCRIBE = "SUBSCRIBE"
    ASSIGN = "ASSIGN"


@dataclass(eq=False)
class _QueueState:
    """Pull and consume positions of one owned queue."""

    mq: MessageQueue
    pq: ProcessQueue[MessageExt]
    pull_offset: int
    consume_offset: int = -1
    paused: bool = False
    task: asyncio.Task[None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class _Batch:
    state: _QueueState
    pq: ProcessQueue[MessageExt]
    messages: list[MessageExt]


class _LiteRebalance(RebalanceImpl):
    def __init__(self, consumer: LitePullConsumer, strategy: AllocateMessageQueueStrategy):
        super().__init__(consumer.group, consumer.config.message_model, strategy)
        self._consumer = consumer

    def client_id(self) -> str:
        return self._consumer.instance.client_id

    async def refresh_route(self, topic: str) -> None:
        try:
            await self._consumer.instance.update_topic_route(topic)
        except RocketMQError as exc:
            log.info("group %s: route of %s unavailable: %s", self.group, topic, exc)

    async def consumer_id_list(self, topic: str) -> list[str]:
        return await self._consumer.instance.find_consumer_id_list(topic, self.group)

    async def remove_unnecessary_mq(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> bool:
        await self._consumer._release(mq)
        return True

    async def compute_pull_from_where(self, mq: MessageQueue) -> int:
        return await self._consumer._start_offset(mq)

    def dispatch_pull(self, mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        self._consumer._own(mq, pq, offset)


class LitePullConsumer:
    """An async lite pull consumer (see the module docstring)."""

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: LitePullConsumerConfig | None = None,
        allocate_strategy: AllocateMessageQueueStrategy | None = None,
        **options: Any,
    ) -> None:
        self.config = build_config(
            config or LitePullConsumerConfig(),
            options,
            group_field="consumer_group",
            group=group,
            namesrv_addr=namesrv_addr,
        )
        check_group(self.group)
        self._mode = _Mode.NONE
        self._subscriptions: dict[str, SubscriptionData] = {}
        self._assigned_request: set[MessageQueue] = set()
        self._assign_lock = asyncio.Lock()  # one _apply_assignment pass at a time
        self._states: dict[MessageQueue, _QueueState] = {}
        self._buffer: asyncio.Queue[_Batch] | None = None
        self._instance: ClientInstance | None = None
        self._offset_store: OffsetStore | None = None
        self._rebalance = _LiteRebalance(self, allocate_strategy or AllocateMessageQueueAveragely())
        self._running = False
        self._stopped = False
        self._last_commit = time.monotonic()
        self._limits = FlowControlThresholds(
            self.config.pull_threshold_for_queue, self.config.pull_threshold_size_for_queue, 0
        )

    @property
    def group(self) -> str:
        return self.config.consumer_group

    @property
    def instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientError(f"lite pull consumer group {self.group} is not started")
        return self._instance

    def _check_running(self) -> None:
        if not self._running:
            raise ClientError(f"lite pull consumer group {self.group} is not running")

    # --- subscription / assignment ---------------------------------------------------------

    def subscribe(self, topic: str, expression: str | MessageSelector | None = "*") -> None:
        """Subscribe (rebalanced mode) by tag expression or :class:`MessageSelector`; raises
        FilterError on a bad expression."""
        if self._mode is _Mode.ASSIGN:
            raise ClientError("subscribe() and assign() cannot be mixed")
        check_topic(topic)
        self._mode = _Mode.SUBSCRIBE
        self._subscriptions[topic] = SubscriptionData.build(topic, expression)
        if self._running:
            self.instance.rebalance_immediately()

    def assign(self, mqs: Iterable[MessageQueue]) -> None:
        """Own exactly ``mqs`` (no rebalance); may be called again to change the set."""
        if self._mode is _Mode.SUBSCRIBE:
            raise ClientError("subscribe() and assign() cannot be mixed")
        self._mode = _Mode.ASSIGN
        self._assigned_request = set(mqs)
        for mq in sorted(self._assigned_request):
            self._subscriptions.setdefault(mq.topic, SubscriptionData.build(mq.topic, "*"))
        if self._running:
            asyncio.ensure_future(self._apply_assignment())  # noqa: RUF006

    def assignment(self) -> list[MessageQueue]:
        """The queues owned now."""
        return sorted(self._states)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._running or self._stopped:
            raise ClientError(f"lite pull consumer group {self.group} cannot start again")
        if self._mode is _Mode.NONE:
            raise ClientError(f"lite pull consumer group {self.group}: subscribe or assign first")
        instance = ClientInstance.get_or_create(self.config)
        instance.register_consumer(self)
        self._instance = instance
        self._buffer = asyncio.Queue()
        self._offset_store = make_offset_store(
            self.config.message_model,
            instance,
            self.group,
            self.config.offset_store_dir,
            self.config.consume_from_where,
        )
        self._offset_store.load()
        instance.start()
        self._running = True
        for topic in list(self._subscriptions):
            try:
                await instance.update_topic_route(topic)
            except RocketMQError as exc:
                log.warning("group %s: route of %s unavailable: %s", self.group, topic, exc)
        await instance.send_heartbeat_to_all()
        if self._mode is _Mode.ASSIGN:
            await self._apply_assignment()
        else:
            await self.do_rebalance()

    async def shutdown(self) -> None:
        """Stop pulling; commit (with auto_commit) and leave the group."""
        if not self._running:
            self._stopped = True
            return
        if self.config.auto_commit:
            with contextlib.suppress(RocketMQError):
                await self.commit()
        self._running = False
        self._stopped = True
        for state in list(self._states.values()):
            state.pq.dropped = True
            if state.task is not None:
                state.task.cancel()
        self._states.clear()
        await self.instance.unregister_consumer(self.group)

    async def __aenter__(self) -> LitePullConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # --- ConsumerHandle --------------------------------------------------------------------

    def consumer_data(self) -> ConsumerData:
        subscriptions = self._subscriptions if self._mode is _Mode.SUBSCRIBE else {}
        return ConsumerData(
            group_name=self.group,
            consume_type=CONSUME_ACTIVELY,
            message_model=self.config.message_model.value,
            consume_from_where=self.config.consume_from_where.value,
            subscriptions=tuple(subscriptions.values()),
        )

    def subscribed_topics(self) -> set[str]:
        return set(self._subscriptions)

    def on_route_changed(self, topic: str, route: TopicRouteData) -> None:
        self._rebalance.topic_subscribe_info[topic] = subscribe_queues(topic, route)

    async def do_rebalance(self) -> None:
        if self._running and self._mode is _Mode.SUBSCRIBE:
            await self._rebalance.do_rebalance(self._subscriptions)

    async def persist_consumer_offset(self) -> None:
        if self._running and self._offset_store is not None:
            await self._offset_store.persist_all(self._states)

    # --- queue ownership -------------------------------------------------------------------

    async def _apply_assignment(self) -> None:
        """Release the queues no longer requested and own the new ones, one pass at a time."""
        async with self._assign_lock:
            for mq in list(self._states):
                if mq not in self._assigned_request:
                    await self._release(mq)
            for mq in sorted(self._assigned_request - set(self._states)):
                offset = await self._start_offset(mq)
                if offset < 0:
                    raise ClientError(f"cannot find a start offset for {mq}")
                # The request may have changed (assign()) or the consumer stopped meanwhile.
                if mq in self._assigned_request and mq not in self._states:
                    self._own(mq, ProcessQueue(), offset)

    async def _start_offset(self, mq: MessageQueue) -> int:
        assert self._offset_store is not None
        return await compute_pull_from_where(
            self.instance,
            self._offset_store,
            mq,
            self.config.consume_from_where,
            self.config.consume_timestamp,
        )

    def _own(self, mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        """Start pulling ``mq`` at ``offset``, retiring any state it had (dropped, cancelled).

        Does nothing once the consumer is stopped (a pass that awaited across shutdown())."""
        if not self._running:
            pq.dropped = True
            return
        old = self._states.get(mq)
        if old is not None:
            old.pq.dropped = True
            if old.task is not None:
                old.task.cancel()
        state = _QueueState(mq, pq, offset)
        self._states[mq] = state
        state.task = asyncio.ensure_future(self._pull_loop(state))

    async def _release(self, mq: MessageQueue) -> None:
        state = self._states.pop(mq, None)
        self._rebalance.process_queue_table.pop(mq, None)
        if state is None:
            return
        state.pq.dropped = True
        if state.task is not None:
            state.task.cancel()
        assert self._offset_store is not None
        if state.consume_offset >= 0:
            self._offset_store.update_offset(mq, state.consume_offset, increase_only=False)
            with contextlib.suppress(RocketMQError):
                await self._offset_store.persist(mq)
        self._offset_store.remove_offset(mq)

    # --- pulling ---------------------------------------------------------------------------

    async def _pull_loop(self, state: _QueueState) -> None:
        pq = state.pq
        suspend_ms = int(min(self.config.broker_suspend_max_time, LITE_SUSPEND_MAX) * 1000)
        while self._running and not pq.dropped and self._states.get(state.mq) is state:
            if state.paused:
                await asyncio.sleep(PAUSE_DELAY)
                continue
            if pq.flow_control_reason(self._limits, check_span=False) is not None:
                await asyncio.sleep(FLOW_CONTROL_DELAY)
                continue
            try:
                await self._pull_once(state, suspend_ms)
            except asyncio.CancelledError:
                raise
            except RocketMQError as exc:
                log.info("group %s: pull of %s failed: %s", self.group, state.mq, exc)
                await asyncio.sleep(self.config.pull_time_delay_when_exception)

    async def _pull_once(self, state: _QueueState, suspend_ms: int) -> None:
        mq, pq = state.mq, state.pq
        subscription = self._subscriptions[mq.topic]
        header = pull_header(
            self.group,
            mq,
            state.pull_offset,
            self.config.pull_batch_size,
            subscription,
            commit_offset=-1,
            suspend_ms=suspend_ms,
            lite=True,
        )
        addr = await self.instance.find_broker_addr_for_mq(mq)
        result = await self.instance.api.pull_message(
            addr, header, self.config.consumer_timeout_when_suspend, lite=True
        )
        if pq.dropped or self._states.get(mq) is not state:
            return
        if result.status is PullStatus.FOUND:
            msgs = post_process(result, subscription, self.group)
            if msgs:
                pq.put_messages(msgs)
                assert self._buffer is not None
                self._buffer.put_nowait(_Batch(state, pq, msgs))
        elif result.status is PullStatus.OFFSET_ILLEGAL:
            log.warning(
                "group %s: offset %d of %s is illegal; moving to %d",
                self.group,
                state.pull_offset,
                mq,
                result.next_begin_offset,
            )
        state.pull_offset = result.next_begin_offset

    # --- the application's side ------------------------------------------------------------

    async def poll(self, timeout: float | None = None) -> list[MessageExt]:
        """The next batch of messages, or ``[]`` when none arrives within ``timeout`` s."""
        self._check_running()
        assert self._buffer is not None
        wait = self.config.poll_timeout if timeout is None else timeout
        deadline = time.monotonic() + max(wait, 0.0)
        if self.config.auto_commit and (
            time.monotonic() - self._last_commit >= self.config.auto_commit_interval
        ):
            await self.commit()
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    batch = self._buffer.get_nowait()
                else:
                    batch = await asyncio.wait_for(self._buffer.get(), remaining)
            except (TimeoutError, asyncio.QueueEmpty):
                return []
            state = batch.state
            if batch.pq.dropped or self._states.get(state.mq) is not state or state.paused:
                if state.paused and not batch.pq.dropped:
                    state.extra.setdefault("held", []).append(batch)
                continue
            offset = batch.pq.remove_messages(batch.messages)
            if offset >= 0:
                state.consume_offset = offset
            return batch.messages

    async def commit(self, offsets: dict[MessageQueue, int] | None = None) -> None:
        """Store consumed positions (or the given ``offsets``) as the group's offsets."""
        self._check_running()
        assert self._offset_store is not None
        self._last_commit = time.monotonic()
        if offsets is None:
            offsets = {
                mq: s.consume_offset for mq, s in self._states.items() if s.consume_offset >= 0
            }
        for mq, offset in offsets.items():
            self._offset_store.update_offset(mq, offset, increase_only=False)
        for mq in offsets:
            await self._offset_store.persist(mq)

    async def committed(self, mq: MessageQueue) -> int:
        """The group's stored offset of ``mq`` (-1 when none)."""
        self._check_running()
        assert self._offset_store is not None
        return await self._offset_store.read_offset(mq, ReadOffsetType.READ_FROM_STORE)

    def _state(self, mq: MessageQueue) -> _QueueState:
        state = self._states.get(mq)
        if state is None:
            raise ClientError(f"{mq} is not assigned to lite pull consumer group {self.group}")
        return state

    async def seek(self, mq: MessageQueue, offset: int) -> None:
        """Continue ``mq`` from ``offset`` (within the queue's [min, max] offsets)."""
        self._check_running()
        state = self._state(mq)
        addr = await self.instance.find_broker_addr_for_mq(mq)
        low = await self.instance.api.get_min_offset(addr, mq)
        high = await self.instance.api.get_max_offset(addr, mq)
        if not low <= offset <= high:
            raise ClientError(f"seek offset {offset} of {mq} is outside [{low}, {high}]")
        state.pq.dropped = True
        if state.task is not None:
            state.task.cancel()
        fresh = _QueueState(mq, ProcessQueue(), offset, consume_offset=offset, paused=state.paused)
        self._states[mq] = fresh
        if mq in self._rebalance.process_queue_table:
            self._rebalance.process_queue_table[mq] = fresh.pq
        fresh.task = asyncio.ensure_future(self._pull_loop(fresh))

    async def seek_to_begin(self, mq: MessageQueue) -> None:
        addr = await self.instance.find_broker_addr_for_mq(mq)
        await self.seek(mq, await self.instance.api.get_min_offset(addr, mq))

    async def seek_to_end(self, mq: MessageQueue) -> None:
        addr = await self.instance.find_broker_addr_for_mq(mq)
        await self.seek(mq, await self.instance.api.get_max_offset(addr, mq))

    def pause(self, mqs: Iterable[MessageQueue]) -> None:
        """Stop pulling and returning messages of ``mqs`` until :meth:`resume`."""
        for mq in mqs:
            self._state(mq).paused = True

    def resume(self, mqs: Iterable[MessageQueue]) -> None:
        for mq in mqs:
            state = self._state(mq)
            state.paused = False
            assert self._buffer is not None
            for batch in state.extra.pop("held", []):
                self._buffer.put_nowait(batch)

    async def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        """Every readable queue of ``topic`` (for :meth:`assign`)."""
        self._check_running()
        route = await self.instance.update_topic_route(topic)
        if route is None:
            raise TopicNotExistError(17, f"no route info of topic {topic}")
        return subscribe_queues(topic, route)
