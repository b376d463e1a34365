"""``PushConsumer``: pulls with long polling and pushes messages to a listener.

``DefaultMQPushConsumer`` semantics (reference §6.2-§6.9):
- subscriptions are tag expressions; CLUSTERING consumers also subscribe ``%RETRY%<group>``;
- the client instance rebalances every ``rebalance_interval`` s and on
  NOTIFY_CONSUMER_IDS_CHANGED; each owned queue has one pull task that long-polls the broker
  (``suspendTimeoutMillis`` = ``broker_suspend_max_time``, RPC timeout
  ``consumer_timeout_when_suspend``) and pauses while its process queue is over the
  count/size/span thresholds;
- concurrent listeners get batches of up to ``consume_message_batch_max_size`` messages;
  failures go back to the broker (CONSUMER_SEND_MSG_BACK, falling back to a send to the retry
  topic) in CLUSTERING and are dropped (logged) in BROADCASTING;
- orderly listeners get one queue at a time, with queues locked on the broker in CLUSTERING;
  a failed batch is redelivered locally after ``suspend_current_queue_time`` s;
- offsets are committed every ``persist_consumer_offset_interval`` s and on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Sequence
from typing import Any

from rmq_core.client.config import MessageModel, PushConsumerConfig, build_config
from rmq_core.client.consumer.common import (
    compute_pull_from_where,
    make_offset_store,
    post_process,
    pull_header,
)
from rmq_core.client.consumer.consume_service import (
    ListenerRunner,
    ListenerStopped,
    MessageListener,
    chunks,
)
from rmq_core.client.consumer.process_queue import FlowControlThresholds, ProcessQueue
from rmq_core.client.heartbeat import (
    CONSUME_PASSIVELY,
    ConsumerData,
    SubscriptionData,
    retry_topic,
)
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
from rmq_core.common.message import Message, MessageConst, MessageExt
from rmq_core.errors import BrokerError, ClientError, RocketMQError
from rmq_core.remoting.headers import ConsumerSendMsgBackRequestHeader

__all__ = ["PushConsumer"]

log = logging.getLogger(__name__)

DEFAULT_MAX_RECONSUME_TIMES = 16
ORDERLY_MAX_RECONSUME_TIMES = 2**31 - 1
LOCAL_RETRY_DELAY = 5.0  # s before re-consuming messages whose send-back failed
LOCK_INTERVAL = 20.0  # s between re-locks of orderly queues
LOCK_MAX_LIVE_TIME = 30.0  # s a local orderly lock is trusted without renewal
SEND_BACK_TIMEOUT = 3.0
REQUEST_CODE_NOT_SUPPORTED = 3


class _State(enum.Enum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    SHUTDOWN = "SHUTDOWN"


class _PushRebalance(RebalanceImpl):
    def __init__(self, consumer: PushConsumer, strategy: AllocateMessageQueueStrategy) -> None:
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
        return await self._consumer._release_queue(mq, pq)

    async def compute_pull_from_where(self, mq: MessageQueue) -> int:
        c = self._consumer
        assert c._offset_store is not None
        return await compute_pull_from_where(
            c.instance,
            c._offset_store,
            mq,
            c.config.consume_from_where,
            c.config.consume_timestamp,
        )

    def dispatch_pull(self, mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        self._consumer._start_pull(mq, pq, offset)

    async def lock(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> bool:
        if not self._consumer._needs_locks:
            return True
        return await self._consumer._lock_queues([mq], {mq: pq})

    def is_pull_idle_drop_enabled(self) -> bool:
        return True


class PushConsumer:
    """An async push consumer.

    ``PushConsumer(group, namesrv_addr, **options)`` with :class:`PushConsumerConfig` field
    names as options; ``subscribe(topic, "TagA || TagB")``; ``register_message_listener(fn)``
    (or ``orderly=True``); then ``await start()`` ... ``await shutdown()``.
    """

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: PushConsumerConfig | None = None,
        allocate_strategy: AllocateMessageQueueStrategy | None = None,
        **options: Any,
    ) -> None:
        self.config = build_config(
            config or PushConsumerConfig(),
            options,
            group_field="consumer_group",
            group=group,
            namesrv_addr=namesrv_addr,
        )
        check_group(self.group)
        self.allocate_strategy = allocate_strategy or AllocateMessageQueueAveragely()
        self._subscriptions: dict[str, SubscriptionData] = {}
        self._listener: MessageListener | None = None
        self._orderly = False
        self._state = _State.CREATED
        self._paused = False
        self._instance: ClientInstance | None = None
        self._offset_store: OffsetStore | None = None
        self._runner: ListenerRunner | None = None
        self._rebalance = _PushRebalance(self, self.allocate_strategy)
        self._pull_tasks: dict[MessageQueue, asyncio.Task[None]] = {}
        self._orderly_active: set[tuple[MessageQueue, int]] = set()
        self._lock_task: asyncio.Task[None] | None = None
        self._limits = FlowControlThresholds(
            self.config.pull_threshold_for_queue,
            self.config.pull_threshold_size_for_queue,
            self.config.consume_concurrently_max_span,
        )

    # --- configuration ---------------------------------------------------------------------

    @property
    def group(self) -> str:
        return self.config.consumer_group

    @property
    def instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientError(f"consumer group {self.group} is not started")
        return self._instance

    @property
    def _clustering(self) -> bool:
        return self.config.message_model is MessageModel.CLUSTERING

    @property
    def _needs_locks(self) -> bool:
        return self._orderly and self._clustering

    def subscribe(self, topic: str, expression: str | MessageSelector | None = "*") -> None:
        """Subscribe to ``topic`` messages whose tag matches ``expression`` (``*`` = all),
        or that a :class:`MessageSelector` (``MessageSelector.by_sql(...)``) selects.

        Raises FilterError for a bad expression and ClientError for a bad topic name.
        """
        check_topic(topic)
        self._subscriptions[topic] = SubscriptionData.build(topic, expression)
        if self._state is _State.RUNNING:
            self._ensure_retry_subscription()
            self.instance.rebalance_immediately()
            asyncio.ensure_future(self.instance.send_heartbeat_to_all())  # noqa: RUF006

    def unsubscribe(self, topic: str) -> None:
        self._subscriptions.pop(topic, None)

    def register_message_listener(
        self, listener: MessageListener, *, orderly: bool = False
    ) -> None:
        """Set the listener ``fn(msgs: list[MessageExt])`` (plain or async) before start."""
        if self._state is not _State.CREATED:
            raise ClientError(f"consumer group {self.group}: set the listener before start()")
        self._listener = listener
        self._orderly = orderly

    # --- lifecycle -------------------------------------------------------------------------

    def _ensure_retry_subscription(self) -> None:
        if self._clustering:
            topic = retry_topic(self.group)
            if topic not in self._subscriptions:
                self._subscriptions[topic] = SubscriptionData.build(topic, "*")

    async def start(self) -> None:
        """Register with the client instance, heartbeat, and rebalance at once."""
        if self._state is not _State.CREATED:
            raise ClientError(f"consumer group {self.group} cannot start: {self._state.value}")
        if self._listener is None:
            raise ClientError(f"consumer group {self.group}: register a message listener first")
        if not self._subscriptions:
            raise ClientError(f"consumer group {self.group}: subscribe to a topic first")
        self._ensure_retry_subscription()
        instance = ClientInstance.get_or_create(self.config)
        instance.register_consumer(self)
        self._instance = instance
        self._offset_store = make_offset_store(
            self.config.message_model,
            instance,
            self.group,
            self.config.offset_store_dir,
            self.config.consume_from_where,
        )
        self._offset_store.load()
        self._runner = ListenerRunner(
            self._listener, self.config.consume_thread_max, f"consume-{self.group}"
        )
        instance.start()
        self._state = _State.RUNNING
        for topic in list(self._subscriptions):
            try:
                await instance.update_topic_route(topic)
            except RocketMQError as exc:
                log.warning("group %s: route of %s unavailable: %s", self.group, topic, exc)
        await instance.send_heartbeat_to_all()
        if self._needs_locks:
            self._lock_task = asyncio.ensure_future(self._lock_loop())
        instance.rebalance_immediately()

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop pulling, let in-flight listener calls finish (up to ``timeout`` s), commit the
        offsets they reached, then drop the queues, release orderly locks and leave the group.

        Pulled messages whose listener call had not started are not consumed; like a message
        whose listener outlives ``timeout``, they stay uncommitted and come again later.
        """
        if self._state is not _State.RUNNING:
            self._state = _State.SHUTDOWN
            return
        self._state = _State.SHUTDOWN
        if self._lock_task is not None:
            self._lock_task.cancel()
        for task in list(self._pull_tasks.values()):
            task.cancel()
        self._pull_tasks.clear()
        assert self._runner is not None and self._offset_store is not None
        await self._runner.shutdown(timeout)
        table = self._rebalance.process_queue_table
        for mq in sorted(table):
            try:
                await self._offset_store.persist(mq)
            except RocketMQError as exc:
                log.warning("group %s: committing the offset of %s failed: %s", self.group, mq, exc)
        for pq in table.values():
            pq.dropped = True
        if self._needs_locks:
            await self._unlock_all()
        table.clear()
        await self.instance.unregister_consumer(self.group)

    async def __aenter__(self) -> PushConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def suspend(self) -> None:
        """Pause pulling (in-flight messages still finish)."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    # --- ConsumerHandle --------------------------------------------------------------------

    def consumer_data(self) -> ConsumerData:
        return ConsumerData(
            group_name=self.group,
            consume_type=CONSUME_PASSIVELY,
            message_model=self.config.message_model.value,
            consume_from_where=self.config.consume_from_where.value,
            subscriptions=tuple(self._subscriptions.values()),
        )

    def subscribed_topics(self) -> set[str]:
        return set(self._subscriptions)

    def on_route_changed(self, topic: str, route: TopicRouteData) -> None:
        self._rebalance.topic_subscribe_info[topic] = subscribe_queues(topic, route)

    async def do_rebalance(self) -> None:
        if self._state is _State.RUNNING:
            await self._rebalance.do_rebalance(self._subscriptions)

    async def persist_consumer_offset(self) -> None:
        if self._state is _State.RUNNING and self._offset_store is not None:
            await self._offset_store.persist_all(self._rebalance.process_queue_table)

    def owned_queues(self) -> list[MessageQueue]:
        """The queues this consumer pulls now (sorted)."""
        return sorted(self._rebalance.process_queue_table)

    # --- rebalance hooks -------------------------------------------------------------------

    async def _release_queue(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> bool:
        assert self._offset_store is not None
        task = self._pull_tasks.pop(mq, None)
        if task is not None:
            task.cancel()
        try:
            await self._offset_store.persist(mq)
        except RocketMQError as exc:
            log.warning(
                "group %s: persisting offset of released %s failed: %s", self.group, mq, exc
            )
        self._offset_store.remove_offset(mq)
        if self._needs_locks:
            await self._unlock([mq])
        return True

    def _start_pull(self, mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        old = self._pull_tasks.pop(mq, None)
        if old is not None:
            old.cancel()
        self._pull_tasks[mq] = asyncio.ensure_future(self._pull_loop(mq, pq, offset))

    # --- pulling ---------------------------------------------------------------------------

    async def _pull_loop(self, mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        cfg = self.config
        suspend_ms = int(cfg.broker_suspend_max_time * 1000)
        broker_id = 0
        while not pq.dropped and self._state is _State.RUNNING:
            if self._paused:
                await asyncio.sleep(1.0)
                continue
            reason = pq.flow_control_reason(self._limits, check_span=not self._orderly)
            if reason is not None:
                log.debug("group %s: flow control on %s: %s", self.group, mq, reason)
                await asyncio.sleep(cfg.pull_time_delay_when_flow_control)
                continue
            if self._needs_locks and not pq.locked:
                await asyncio.sleep(cfg.pull_time_delay_when_exception)
                continue
            subscription = self._subscriptions.get(mq.topic)
            if subscription is None:
                await asyncio.sleep(cfg.pull_time_delay_when_exception)
                continue
            try:
                offset, broker_id = await self._pull_once(mq, pq, offset, broker_id, suspend_ms)
            except asyncio.CancelledError:
                raise
            except RocketMQError as exc:
                log.info("group %s: pull of %s failed: %s", self.group, mq, exc)
                await asyncio.sleep(cfg.pull_time_delay_when_exception)
                continue
            if offset < 0:
                return
            # Yield once before the next pull even without a pull interval: the consumption
            # this pull started runs first, not after the next request's write to the broker.
            await asyncio.sleep(cfg.pull_interval)

    async def _pull_once(
        self,
        mq: MessageQueue,
        pq: ProcessQueue[MessageExt],
        offset: int,
        broker_id: int,
        suspend_ms: int,
    ) -> tuple[int, int]:
        """One pull; returns (next offset, suggested broker id); offset -1 ends the loop."""
        assert self._offset_store is not None
        instance = self.instance
        subscription = self._subscriptions[mq.topic]
        commit = -1
        if self._clustering:
            commit = await self._offset_store.read_offset(mq, ReadOffsetType.READ_FROM_MEMORY)
        header = pull_header(
            self.group,
            mq,
            offset,
            self.config.pull_batch_size,
            subscription,
            commit_offset=commit,
            suspend_ms=suspend_ms,
        )
        addr = instance.find_broker_addr_in_subscribe(mq.broker_name, broker_id)
        if addr is None:
            addr = await instance.find_broker_addr_for_mq(mq)
        result = await instance.api.pull_message(
            addr, header, self.config.consumer_timeout_when_suspend
        )
        pq.last_pull_timestamp = time.monotonic()
        if pq.dropped:
            return -1, 0
        next_broker = result.suggest_which_broker_id
        if result.status is PullStatus.FOUND:
            msgs = post_process(result, subscription, self.group)
            if msgs:
                pq.put_messages(msgs)
                self._submit(msgs, pq, mq)
            elif pq.is_empty():
                self._offset_store.update_offset(mq, result.next_begin_offset, increase_only=True)
            return result.next_begin_offset, next_broker
        if result.status in (PullStatus.NO_NEW_MSG, PullStatus.NO_MATCHED_MSG):
            if pq.is_empty():
                self._offset_store.update_offset(mq, result.next_begin_offset, increase_only=True)
            return result.next_begin_offset, next_broker
        log.warning(
            "group %s: offset %d of %s is illegal; moving to %d",
            self.group,
            offset,
            mq,
            result.next_begin_offset,
        )
        pq.dropped = True
        self._offset_store.update_offset(mq, result.next_begin_offset, increase_only=False)
        with contextlib.suppress(RocketMQError):
            await self._offset_store.persist(mq)
        self._rebalance.remove_process_queue(mq)
        self._pull_tasks.pop(mq, None)
        return -1, 0

    # --- consuming -------------------------------------------------------------------------

    def _submit(
        self, msgs: list[MessageExt], pq: ProcessQueue[MessageExt], mq: MessageQueue
    ) -> None:
        assert self._runner is not None
        if self._orderly:
            key = (mq, id(pq))
            if key not in self._orderly_active:
                self._orderly_active.add(key)
                self._runner.spawn(self._consume_orderly(mq, pq))
            return
        batches = chunks(msgs, self.config.consume_message_batch_max_size)
        if self._runner.is_async:
            for chunk in batches:
                self._runner.spawn(self._consume_concurrently(chunk, pq, mq))
        else:
            # One queue of chunks served by pool workers; outcomes come back in batches.
            self._runner.submit(
                [(chunk, (chunk, pq, mq)) for chunk in batches], self._consumed, _queue_kept
            )

    def _consumed(self, outcomes: list[tuple[Any, bool]]) -> None:
        """Outcomes of chunks a pool worker ran (on the loop): consumed chunks release their
        messages at once (one offset update per process queue); failed ones go through the
        retry path of :meth:`_finish_concurrently` in a task."""
        assert self._runner is not None and self._offset_store is not None
        released: dict[int, tuple[ProcessQueue[MessageExt], MessageQueue, list[MessageExt]]] = {}
        for (msgs, pq, mq), ok in outcomes:
            if pq.dropped:
                continue
            if not ok:
                self._runner.spawn(self._finish_concurrently(msgs, False, pq, mq))
                continue
            entry = released.setdefault(id(pq), (pq, mq, []))
            entry[2].extend(msgs)
        for pq, mq, msgs in released.values():
            offset = pq.remove_messages(msgs)
            if offset >= 0 and not pq.dropped:
                self._offset_store.update_offset(mq, offset, increase_only=True)

    async def _consume_concurrently(
        self, msgs: list[MessageExt], pq: ProcessQueue[MessageExt], mq: MessageQueue
    ) -> None:
        assert self._runner is not None
        if pq.dropped:
            return
        try:
            ok = await self._runner.call(msgs)
        except ListenerStopped:
            return  # shutting down: left uncommitted, delivered again later
        await self._finish_concurrently(msgs, ok, pq, mq)

    async def _finish_concurrently(
        self, msgs: list[MessageExt], ok: bool, pq: ProcessQueue[MessageExt], mq: MessageQueue
    ) -> None:
        """After a listener call: failures go back to the broker (CLUSTERING) or are dropped
        (BROADCASTING); the messages are released and the offset advanced; messages whose
        send-back failed are consumed again locally later."""
        assert self._runner is not None and self._offset_store is not None
        if pq.dropped:
            return
        retry_later: list[MessageExt] = []
        if not ok:
            if self._clustering:
                for msg in msgs:
                    if not await self._send_back(msg, mq, 0):
                        msg.reconsume_times += 1
                        retry_later.append(msg)
            else:
                for msg in msgs:
                    log.warning(
                        "group %s (broadcasting): dropping failed message %s of %s",
                        self.group,
                        msg.unique_key or msg.msg_id,
                        mq,
                    )
        done = [m for m in msgs if m not in retry_later]
        offset = pq.remove_messages(done)
        if offset >= 0 and not pq.dropped:
            self._offset_store.update_offset(mq, offset, increase_only=True)
        if retry_later and not self._runner.stopping:
            self._runner.spawn(self._consume_later(retry_later, pq, mq))

    async def _consume_later(
        self, msgs: list[MessageExt], pq: ProcessQueue[MessageExt], mq: MessageQueue
    ) -> None:
        assert self._runner is not None
        if not await self._runner.pause(LOCAL_RETRY_DELAY):
            await self._consume_concurrently(msgs, pq, mq)

    def _max_reconsume_times(self) -> int:
        if self.config.max_reconsume_times >= 0:
            return self.config.max_reconsume_times
        return ORDERLY_MAX_RECONSUME_TIMES if self._orderly else DEFAULT_MAX_RECONSUME_TIMES

    async def _send_back(self, msg: MessageExt, mq: MessageQueue, delay_level: int) -> bool:
        """CONSUMER_SEND_MSG_BACK, falling back to a send to the retry topic; True if done."""
        instance = self.instance
        origin_id = msg.unique_key or msg.msg_id
        addr = instance.find_broker_addr_in_publish(mq.broker_name) or msg.store_host
        header = ConsumerSendMsgBackRequestHeader(
            offset=msg.commitlog_offset,
            group=self.group,
            delay_level=delay_level,
            origin_msg_id=origin_id,
            origin_topic=msg.topic,
            unit_mode=False,
            max_reconsume_times=self._max_reconsume_times(),
        )
        try:
            await instance.api.consumer_send_msg_back(addr, header, SEND_BACK_TIMEOUT)
            return True
        except RocketMQError as exc:
            log.info("group %s: send back of %s failed (%s); resending", self.group, origin_id, exc)
        retry = Message(retry_topic(self.group), msg.body, msg.flag, dict(msg.properties))
        props = retry.properties
        props.setdefault(MessageConst.PROPERTY_RETRY_TOPIC, msg.topic)
        props.setdefault(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID, origin_id)
        props[MessageConst.PROPERTY_RECONSUME_TIME] = str(msg.reconsume_times + 1)
        props[MessageConst.PROPERTY_MAX_RECONSUME_TIMES] = str(self._max_reconsume_times())
        props[MessageConst.PROPERTY_DELAY_TIME_LEVEL] = str(3 + msg.reconsume_times)
        props.pop(MessageConst.PROPERTY_MIN_OFFSET, None)
        props.pop(MessageConst.PROPERTY_MAX_OFFSET, None)
        props.pop(MessageConst.PROPERTY_CONSUME_START_TIMESTAMP, None)
        try:
            producer = await instance.inner_producer()
            await producer.send(retry)
            return True
        except RocketMQError as exc:
            log.warning(
                "group %s: resend of %s to retry topic failed: %s", self.group, origin_id, exc
            )
            return False

    async def _consume_orderly(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> None:
        assert self._runner is not None and self._offset_store is not None
        key = (mq, id(pq))
        try:
            while not pq.dropped and self._state is _State.RUNNING:
                if self._needs_locks and (
                    not pq.locked or time.monotonic() - pq.last_lock_timestamp > LOCK_MAX_LIVE_TIME
                ):
                    await asyncio.sleep(0.1)
                    continue
                msgs = pq.take_messages(self.config.consume_message_batch_max_size)
                if not msgs:
                    return
                try:
                    ok = await self._runner.call(msgs)
                except ListenerStopped:
                    pq.make_messages_to_consume_again(msgs)
                    return
                if pq.dropped:
                    return
                if not ok and not await self._orderly_give_up(msgs, mq):
                    for msg in msgs:
                        msg.reconsume_times += 1
                    pq.make_messages_to_consume_again(msgs)
                    await self._runner.pause(self.config.suspend_current_queue_time)
                    continue
                offset = pq.commit()
                if offset >= 0:
                    self._offset_store.update_offset(mq, offset, increase_only=False)
        finally:
            self._orderly_active.discard(key)
            if not pq.dropped and not pq.is_empty() and self._state is _State.RUNNING:
                self._submit([], pq, mq)

    async def _orderly_give_up(self, msgs: list[MessageExt], mq: MessageQueue) -> bool:
        """After ``max_reconsume_times`` local retries, send the batch to the retry topic."""
        if all(m.reconsume_times < self._max_reconsume_times() for m in msgs):
            return False
        if not self._clustering:
            return True
        for msg in msgs:
            if not await self._send_back(msg, mq, -1):
                return False
        return True

    # --- orderly locks ---------------------------------------------------------------------

    async def _lock_queues(
        self, mqs: list[MessageQueue], pqs: dict[MessageQueue, ProcessQueue[MessageExt]]
    ) -> bool:
        """LOCK_BATCH_MQ per broker; marks the process queues; True when all were locked."""
        by_broker: dict[str, list[MessageQueue]] = {}
        for mq in mqs:
            by_broker.setdefault(mq.broker_name, []).append(mq)
        all_locked = True
        for broker_name, group in by_broker.items():
            addr = self.instance.find_broker_addr_in_publish(broker_name)
            locked: set[MessageQueue] = set()
            if addr is not None:
                try:
                    locked = await self.instance.api.lock_batch_mq(
                        addr, self.group, self.instance.client_id, group
                    )
                except BrokerError as exc:
                    if exc.code != REQUEST_CODE_NOT_SUPPORTED:
                        log.info("group %s: lock on %s failed: %s", self.group, broker_name, exc)
                    else:
                        # A broker without a lock service: order holds per consumer only.
                        log.warning(
                            "broker %s has no queue locks; group %s consumes orderly without them",
                            broker_name,
                            self.group,
                        )
                        locked = set(group)
                except RocketMQError as exc:
                    log.info("group %s: lock on %s failed: %s", self.group, broker_name, exc)
            now = time.monotonic()
            for mq in group:
                pq = pqs.get(mq)
                if pq is None:
                    continue
                pq.locked = mq in locked
                if pq.locked:
                    pq.last_lock_timestamp = now
                else:
                    all_locked = False
        return all_locked

    async def _lock_loop(self) -> None:
        while True:
            await asyncio.sleep(LOCK_INTERVAL)
            table = dict(self._rebalance.process_queue_table)
            if table:
                await self._lock_queues(sorted(table), table)

    async def _unlock(self, mqs: list[MessageQueue]) -> None:
        by_broker: dict[str, list[MessageQueue]] = {}
        for mq in mqs:
            by_broker.setdefault(mq.broker_name, []).append(mq)
        for broker_name, group in by_broker.items():
            addr = self.instance.find_broker_addr_in_publish(broker_name)
            if addr is None:
                continue
            try:
                await self.instance.api.unlock_batch_mq(
                    addr, self.group, self.instance.client_id, group
                )
            except RocketMQError as exc:
                log.info("group %s: unlock on %s failed: %s", self.group, broker_name, exc)

    async def _unlock_all(self) -> None:
        await self._unlock(sorted(self._rebalance.process_queue_table))


def _queue_kept(tag: tuple[list[MessageExt], ProcessQueue[MessageExt], MessageQueue]) -> bool:
    """A queued chunk is still consumed when its process queue was not dropped meanwhile."""
    return not tag[1].dropped
