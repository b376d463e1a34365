"""``SimpleConsumer``: RocketMQ 5 pop consumption with per-message acknowledgement.

The application asks for messages, processes them in any order and acknowledges each one;
the broker keeps every received message invisible to the group for ``invisible_duration``
seconds and makes it visible again (with ``reconsume_times + 1``, through the group's pop retry
topic ``%RETRY%<group>_<topic>``) when it is not acknowledged in time. After ``retryMaxTimes``
(the group's setting, 16) deliveries a message goes to ``%DLQ%<group>``. Delivery is at least
once::

    consumer = SimpleConsumer("Workers", "127.0.0.1:9876", invisible_duration=30)
    consumer.subscribe("Tasks")
    async with consumer:
        for msg in await consumer.receive(16):
            handle(msg)
            await consumer.ack(msg)           # or change_invisible_duration(msg, 60) to extend

- :meth:`SimpleConsumer.receive` sends POP_MESSAGE to the brokers of a subscribed topic
  (rotating topics and brokers between calls); when nothing is visible the last broker holds
  the request up to ``await_duration`` seconds (long polling). ``msg.topic`` is the subscribed
  topic even for redeliveries; ``msg.reconsume_times`` counts earlier deliveries.
- Each received message carries its receipt handle in the ``POP_CK`` property, as in the
  Java client; :class:`ReceiptHandle` parses it. :meth:`~SimpleConsumer.ack`,
  :meth:`~SimpleConsumer.change_invisible_duration` and :meth:`~SimpleConsumer.ack_batch`
  take messages or handles. A handle is current until the message is acknowledged, re-hidden
  (which returns the new handle) or becomes visible again; using an old one raises
  :class:`InvalidReceiptHandleError` (broker code NO_MESSAGE, 208).
- :meth:`~SimpleConsumer.forward_to_dead_letter` moves a message straight to the group's DLQ
  (e.g. one the application can never process) and acknowledges it.

A group with no position starts at the first message of each queue
(``consume_from_where=CONSUME_FROM_FIRST_OFFSET``, RocketMQ's init mode MIN) or at the end
(``CONSUME_FROM_LAST_OFFSET``). :class:`rmq_core.client.sync.SimpleConsumer` is the blocking
facade (same arguments) for threaded code, also exported as ``SyncSimpleConsumer``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rmq_core.client.config import ClientConfig, ConsumeFromWhere, build_config
from rmq_core.client.heartbeat import ConsumerData, SubscriptionData
from rmq_core.client.instance import ClientInstance
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.route import MASTER_ID, TopicRouteData
from rmq_core.client.validators import check_group, check_topic
from rmq_core.common.message import MessageConst, MessageExt
from rmq_core.common.message_codec import decode_records
from rmq_core.errors import (
    BrokerError,
    ClientError,
    RemoteProtocolError,
    RemotingError,
    RocketMQError,
)
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import ConsumerSendMsgBackRequestHeader
from rmq_core.remoting.pop_headers import (
    CONSUME_INIT_MODE_MAX,
    CONSUME_INIT_MODE_MIN,
    AckMessageRequestHeader,
    BatchAck,
    ChangeInvisibleTimeRequestHeader,
    ChangeInvisibleTimeResponseHeader,
    ExtraInfo,
    PopMessageRequestHeader,
    PopMessageResponseHeader,
    encode_batch_ack_body,
    parse_queue_offsets,
    pop_retry_topic,
)

__all__ = [
    "CONSUME_POP",
    "InvalidReceiptHandleError",
    "ReceiptHandle",
    "SimpleConsumer",
    "SimpleConsumerConfig",
    "pop_retry_topic",
]

log = logging.getLogger(__name__)

CONSUME_POP = "CONSUME_POP"
DEFAULT_INVISIBLE_DURATION = 30.0
DEFAULT_AWAIT_DURATION = 5.0
MAX_RECEIVE = 32
"""Most messages one :meth:`SimpleConsumer.receive` returns (the broker's pop limit)."""
_DLQ_DELAY_LEVEL = -1


class InvalidReceiptHandleError(BrokerError):
    """The receipt handle is not current: the message was acknowledged, re-hidden under a
    new handle or became visible again (its invisible time expired). Code 208."""


InvalidReceiptHandleError.register(ResponseCode.NO_MESSAGE)


@dataclass(frozen=True, slots=True)
class SimpleConsumerConfig(ClientConfig):
    """Simple consumer settings. Durations are seconds."""

    consumer_group: str = "DEFAULT_CONSUMER"
    invisible_duration: float = DEFAULT_INVISIBLE_DURATION
    await_duration: float = DEFAULT_AWAIT_DURATION
    consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET


@dataclass(frozen=True, slots=True)
class ReceiptHandle:
    """Where a received message lives and which pop of it this is.

    ``topic`` is the subscribed topic, ``queue_id``/``offset`` the message's position in the
    queue named by ``extra_info`` (the topic itself or its pop retry topic).
    """

    topic: str
    queue_id: int
    offset: int
    extra_info: str
    broker_name: str

    @classmethod
    def of(cls, msg: MessageExt) -> ReceiptHandle:
        """The handle of a received message; ClientError when it has none."""
        extra = msg.get_property(MessageConst.PROPERTY_POP_CK)
        if not extra:
            raise ClientError(f"message {msg.msg_id} was not received by a SimpleConsumer")
        info = ExtraInfo.parse(extra)
        return cls(msg.topic, info.queue_id, msg.queue_offset, extra, info.broker_name)

    @property
    def info(self) -> ExtraInfo:
        """The parsed ``extra_info``."""
        return ExtraInfo.parse(self.extra_info)

    def __str__(self) -> str:
        return self.extra_info


Receipt = MessageExt | ReceiptHandle


def _handle(item: Receipt) -> ReceiptHandle:
    return item if isinstance(item, ReceiptHandle) else ReceiptHandle.of(item)


@dataclass
class _Rotation:
    topics: int = 0
    brokers: dict[str, int] = field(default_factory=dict)


class SimpleConsumer:
    """An async pop consumer (see the module docstring)."""

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: SimpleConsumerConfig | None = None,
        **options: Any,
    ) -> None:
        self.config = build_config(
            config or SimpleConsumerConfig(),
            options,
            group_field="consumer_group",
            group=group,
            namesrv_addr=namesrv_addr,
        )
        check_group(self.group)
        _check_duration("invisible_duration", self.config.invisible_duration, positive=True)
        _check_duration("await_duration", self.config.await_duration, positive=False)
        self._subscriptions: dict[str, SubscriptionData] = {}
        self._instance: ClientInstance | None = None
        self._running = False
        self._stopped = False
        self._rotation = _Rotation()

    @property
    def group(self) -> str:
        return self.config.consumer_group

    @property
    def instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientError(f"simple consumer group {self.group} is not started")
        return self._instance

    def _check_running(self) -> None:
        if not self._running:
            raise ClientError(f"simple consumer group {self.group} is not running")

    # --- subscriptions ---------------------------------------------------------------------

    def subscribe(self, topic: str, expression: str | MessageSelector | None = "*") -> None:
        """Receive ``topic`` messages matching ``expression`` (tags or a MessageSelector);
        FilterError on a bad expression."""
        check_topic(topic)
        self._subscriptions[topic] = SubscriptionData.build(topic, expression)

    def unsubscribe(self, topic: str) -> None:
        self._subscriptions.pop(topic, None)

    def subscriptions(self) -> list[str]:
        """The subscribed topics."""
        return sorted(self._subscriptions)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._running or self._stopped:
            raise ClientError(f"simple consumer group {self.group} cannot start again")
        instance = ClientInstance.get_or_create(self.config)
        instance.register_consumer(self)
        self._instance = instance
        instance.start()
        self._running = True
        for topic in list(self._subscriptions):
            try:
                await instance.update_topic_route(topic)
            except RocketMQError as exc:
                log.warning("group %s: route of %s unavailable: %s", self.group, topic, exc)
        await instance.send_heartbeat_to_all()

    async def shutdown(self) -> None:
        """Leave the group; received but unacknowledged messages become visible again when
        their invisible time ends."""
        if not self._running:
            self._stopped = True
            return
        self._running = False
        self._stopped = True
        await self.instance.unregister_consumer(self.group)

    async def __aenter__(self) -> SimpleConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # --- ConsumerHandle (client instance) ----------------------------------------------------

    def consumer_data(self) -> ConsumerData:
        return ConsumerData(
            group_name=self.group,
            consume_type=CONSUME_POP,
            message_model="CLUSTERING",
            consume_from_where=self.config.consume_from_where.value,
            subscriptions=tuple(self._subscriptions.values()),
        )

    def subscribed_topics(self) -> set[str]:
        return set(self._subscriptions)

    def on_route_changed(self, topic: str, route: TopicRouteData) -> None:
        """Routes are read from the instance's table at each receive."""

    async def do_rebalance(self) -> None:
        """Pop consumers need no rebalance: the broker shares messages out."""

    async def persist_consumer_offset(self) -> None:
        """The broker keeps pop positions itself."""

    # --- receiving -------------------------------------------------------------------------

    async def receive(
        self,
        max_messages: int = 16,
        invisible_duration: float | None = None,
        *,
        await_duration: float | None = None,
        topic: str | None = None,
    ) -> list[MessageExt]:
        """Up to ``max_messages`` (1..32) messages, hidden from the group for
        ``invisible_duration`` s; waits up to ``await_duration`` s when none is visible
        (``[]`` then). ``topic`` picks one subscribed topic (default: rotate over them)."""
        self._check_running()
        if not 1 <= max_messages <= MAX_RECEIVE:
            raise ClientError(f"max_messages must be in [1, {MAX_RECEIVE}], got {max_messages}")
        invisible = (
            self.config.invisible_duration if invisible_duration is None else invisible_duration
        )
        _check_duration("invisible_duration", invisible, positive=True)
        wait = self.config.await_duration if await_duration is None else await_duration
        _check_duration("await_duration", wait, positive=False)
        name = self._pick_topic(topic)
        brokers = await self._brokers(name)
        if not brokers:
            raise ClientError(f"topic {name} has no readable queue on any broker")
        start = self._rotation.brokers.get(name, 0)
        self._rotation.brokers[name] = start + 1
        ordered = [brokers[(start + i) % len(brokers)] for i in range(len(brokers))]
        for index, (broker_name, addr) in enumerate(ordered):
            poll = wait if index == len(ordered) - 1 else 0.0
            try:
                found = await self._pop(name, broker_name, addr, max_messages, invisible, poll)
            except RemotingError:
                await self._refresh_route(name)
                raise
            if found:
                return found
        return []

    async def _refresh_route(self, topic: str) -> None:
        """After a transport failure: the broker may have moved (restart on a new port)."""
        try:
            await self.instance.update_topic_route(topic)
        except RocketMQError as exc:
            log.debug("group %s: route refresh of %s failed: %s", self.group, topic, exc)

    def _pick_topic(self, topic: str | None) -> str:
        if topic is not None:
            if topic not in self._subscriptions:
                raise ClientError(f"group {self.group} is not subscribed to topic {topic}")
            return topic
        if not self._subscriptions:
            raise ClientError(f"simple consumer group {self.group} has no subscription")
        names = sorted(self._subscriptions)
        index = self._rotation.topics % len(names)
        self._rotation.topics += 1
        return names[index]

    async def _brokers(self, topic: str) -> list[tuple[str, str]]:
        """``(broker name, address)`` of every broker with readable queues of ``topic``."""
        instance = self.instance
        route = instance.route_table.get(topic) or await instance.update_topic_route(topic)
        if route is None:
            raise BrokerError.for_code(
                ResponseCode.TOPIC_NOT_EXIST, f"no route of topic {topic}", context=self.group
            )
        out = []
        for queue_data in route.queue_datas:
            if not queue_data.readable or queue_data.read_queue_nums <= 0:
                continue
            addr = instance.find_broker_addr_in_subscribe(queue_data.broker_name)
            if addr is not None:
                out.append((queue_data.broker_name, addr))
        return sorted(out)

    async def _pop(
        self,
        topic: str,
        broker_name: str,
        addr: str,
        max_messages: int,
        invisible: float,
        poll: float,
    ) -> list[MessageExt]:
        subscription = self._subscriptions[topic]
        now = int(time.time() * 1000)
        header = PopMessageRequestHeader(
            consumer_group=self.group,
            topic=topic,
            queue_id=-1,
            max_msg_nums=max_messages,
            invisible_time=_ms(invisible),
            poll_time=_ms(poll),
            born_time=now,
            init_mode=(
                CONSUME_INIT_MODE_MAX
                if self.config.consume_from_where is ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
                else CONSUME_INIT_MODE_MIN
            ),
            exp_type=subscription.expression_type,
            exp=subscription.sub_string,
        )
        context = f"pop {topic} for group {self.group} from broker {broker_name}"
        request = RemotingCommand.request(RequestCode.POP_MESSAGE, header)
        timeout = poll + self.config.mq_client_api_timeout
        response = await self.instance.api.invoke(addr, request, timeout, context)
        if response.code in (
            ResponseCode.PULL_NOT_FOUND,
            ResponseCode.POLLING_TIMEOUT,
            ResponseCode.POLLING_FULL,
        ):
            return []
        self.instance.api.check(response, context)
        kept, foreign = self._decode_pop(response, topic, broker_name, subscription, context)
        if foreign:
            # tag-hash collisions the broker let through: not ours, acknowledge them quietly
            try:
                await self.ack_batch(foreign)
            except RocketMQError as exc:
                log.info(
                    "group %s: ack of %d foreign-tag messages failed: %s",
                    self.group,
                    len(foreign),
                    exc,
                )
        return kept

    def _decode_pop(
        self,
        response: RemotingCommand,
        topic: str,
        broker_name: str,
        subscription: SubscriptionData,
        context: str,
    ) -> tuple[list[MessageExt], list[MessageExt]]:
        """(messages for the application, messages whose exact tag does not match)."""
        try:
            head = response.decode_header(PopMessageResponseHeader)
            starts = {
                (e.retry, e.queue_id): e.offsets[0]
                for e in parse_queue_offsets(head.start_offset_info)
                if e.offsets
            }
            messages = decode_records(response.body, lazy_properties=False)
        except RocketMQError as exc:
            raise RemoteProtocolError(f"malformed pop response ({context}): {exc}") from exc
        kept: list[MessageExt] = []
        foreign: list[MessageExt] = []
        for msg in messages:
            retry = msg.topic != topic
            info = ExtraInfo(
                ck_queue_offset=starts.get((retry, msg.queue_id), msg.queue_offset),
                pop_time=head.pop_time,
                invisible_time=head.invisible_time,
                revive_qid=head.revive_qid,
                retry=retry,
                broker_name=broker_name,
                queue_id=msg.queue_id,
                queue_offset=msg.queue_offset,
            )
            msg.properties[MessageConst.PROPERTY_POP_CK] = info.build()
            msg.properties.setdefault(MessageConst.PROPERTY_FIRST_POP_TIME, str(head.pop_time))
            msg.topic = topic
            if subscription.sql is None and not subscription.expression.matches_tag(msg.tags):
                foreign.append(msg)
            else:
                kept.append(msg)
        return kept, foreign

    # --- acknowledging ---------------------------------------------------------------------

    def _addr(self, broker_name: str) -> str:
        addr = self.instance.broker_addr_table.get(broker_name, {}).get(MASTER_ID)
        if addr is None:
            raise ClientError(f"broker {broker_name} of the receipt handle has no known address")
        return addr

    async def ack(self, message: Receipt) -> None:
        """Acknowledge one message; InvalidReceiptHandleError when its handle is not current."""
        self._check_running()
        handle = _handle(message)
        header = AckMessageRequestHeader(
            consumer_group=self.group,
            topic=handle.topic,
            queue_id=handle.queue_id,
            extra_info=handle.extra_info,
            offset=handle.offset,
        )
        context = f"ack {handle.topic}-{handle.queue_id}@{handle.offset} for group {self.group}"
        request = RemotingCommand.request(RequestCode.ACK_MESSAGE, header)
        addr = self._addr(handle.broker_name)
        response = await self.instance.api.invoke(
            addr, request, self.config.mq_client_api_timeout, context
        )
        self.instance.api.check(response, context)

    async def change_invisible_duration(
        self, message: Receipt, invisible_duration: float
    ) -> ReceiptHandle:
        """Hide the message ``invisible_duration`` s from now (0: visible at once, counted
        as a redelivery); returns the new handle, also stored in ``message`` when it is a
        message. InvalidReceiptHandleError when the handle is not current."""
        self._check_running()
        _check_duration("invisible_duration", invisible_duration, positive=False)
        handle = _handle(message)
        header = ChangeInvisibleTimeRequestHeader(
            consumer_group=self.group,
            topic=handle.topic,
            queue_id=handle.queue_id,
            extra_info=handle.extra_info,
            offset=handle.offset,
            invisible_time=_ms(invisible_duration),
        )
        context = (
            f"change invisible time of {handle.topic}-{handle.queue_id}@{handle.offset} "
            f"for group {self.group}"
        )
        request = RemotingCommand.request(RequestCode.CHANGE_MESSAGE_INVISIBLETIME, header)
        addr = self._addr(handle.broker_name)
        response = await self.instance.api.invoke(
            addr, request, self.config.mq_client_api_timeout, context
        )
        self.instance.api.check(response, context)
        try:
            answer = response.decode_header(ChangeInvisibleTimeResponseHeader)
        except RocketMQError as exc:
            raise RemoteProtocolError(f"malformed response ({context}): {exc}") from exc
        old = handle.info
        info = ExtraInfo(
            ck_queue_offset=old.ck_queue_offset,
            pop_time=answer.pop_time,
            invisible_time=answer.invisible_time,
            revive_qid=answer.revive_qid,
            retry=old.retry,
            broker_name=old.broker_name,
            queue_id=old.queue_id,
            queue_offset=handle.offset,
        )
        fresh = ReceiptHandle(
            handle.topic, handle.queue_id, handle.offset, info.build(), handle.broker_name
        )
        if isinstance(message, MessageExt):
            message.properties[MessageConst.PROPERTY_POP_CK] = fresh.extra_info
        return fresh

    async def ack_batch(self, messages: Iterable[Receipt]) -> None:
        """Acknowledge several messages with one BATCH_ACK_MESSAGE per broker. The broker
        does not say which handles were stale: those messages come back (at least once)."""
        self._check_running()
        groups: dict[tuple[str, str, bool, int, int, int, int], list[int]] = {}
        for item in messages:
            handle = _handle(item)
            info = handle.info
            key = (
                handle.broker_name,
                handle.topic,
                info.retry,
                handle.queue_id,
                info.ck_queue_offset,
                info.pop_time,
                info.invisible_time,
            )
            groups.setdefault(key, []).append(handle.offset)
        by_broker: dict[str, list[BatchAck]] = {}
        for (broker, topic, retry, qid, start, pop_time, invisible), offsets in groups.items():
            base = min([start, *offsets])
            by_broker.setdefault(broker, []).append(
                BatchAck(
                    self.group, topic, retry, base, qid, 0, pop_time, invisible, tuple(offsets)
                )
            )
        for broker, acks in by_broker.items():
            body = encode_batch_ack_body(broker, acks)
            request = RemotingCommand.request(RequestCode.BATCH_ACK_MESSAGE, body=body)
            context = f"batch ack of {sum(len(a.offsets) for a in acks)} messages"
            response = await self.instance.api.invoke(
                self._addr(broker), request, self.config.mq_client_api_timeout, context
            )
            self.instance.api.check(response, context)

    async def forward_to_dead_letter(self, message: MessageExt) -> None:
        """Move ``message`` to ``%DLQ%<group>`` now and acknowledge it."""
        self._check_running()
        handle = ReceiptHandle.of(message)
        header = ConsumerSendMsgBackRequestHeader(
            offset=message.commitlog_offset,
            group=self.group,
            delay_level=_DLQ_DELAY_LEVEL,
            origin_msg_id=message.unique_key or message.msg_id,
            origin_topic=handle.topic,
        )
        context = f"forward {handle.topic}@{handle.offset} of group {self.group} to the DLQ"
        request = RemotingCommand.request(RequestCode.CONSUMER_SEND_MSG_BACK, header)
        response = await self.instance.api.invoke(
            self._addr(handle.broker_name), request, self.config.mq_client_api_timeout, context
        )
        self.instance.api.check(response, context)
        await self.ack(handle)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _check_duration(name: str, value: float, *, positive: bool) -> None:
    if value < 0 or (positive and value <= 0) or value > 12 * 3600:
        bound = "(0" if positive else "[0"
        raise ClientError(f"{name} must be in {bound}, 43200] seconds, got {value}")
