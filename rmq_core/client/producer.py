"""``Producer``: sends messages to brokers (``DefaultMQProducer``, reference §6.1).

Async first: ``await producer.send(msg)``. Sends use SEND_MESSAGE_V2 (SEND_BATCH_MESSAGE for
:meth:`Producer.send_batch`). Before sending, each message gets a UNIQ_KEY id and, when its
body is at least ``compress_msg_body_over_howmuch`` bytes (4 KiB), a zlib-compressed body with
the COMPRESSED sysflag bit. A plain send picks queues round-robin over the topic's publish
list; a failed attempt (transport error or a retriable broker code) is retried up to
``retry_times_when_send_failed`` times on another broker when there is one, with brokers that
were slow or failing isolated for a while (:mod:`rmq_core.client.latency`). Sends to an
explicit queue or through a :class:`MessageQueueSelector` make a single attempt, which keeps
ordered messages in their queue. The whole send, retries included, must finish within
``send_msg_timeout`` seconds.

Bodies of :data:`COMPRESS_IN_THREAD_OVER` bytes (256 KiB) or more are compressed in a worker
thread so the loop keeps serving other sends; a body is compressed once per send, not once per
attempt. :meth:`Producer.send_async` is bounded: at most ``max_async_inflight`` sends and
``max_async_inflight_bytes`` body bytes are in flight at once (back-pressure, see
:meth:`Producer.wait_async_capacity`).
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from rmq_core.client.api import RawSendResponse
from rmq_core.client.config import ProducerConfig, build_config
from rmq_core.client.instance import ClientInstance
from rmq_core.client.latency import MQFaultStrategy
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.results import SendResult, SendStatus
from rmq_core.client.route import TopicPublishInfo, TopicRouteData, publish_queues
from rmq_core.client.selector import MessageQueueSelector
from rmq_core.client.validators import check_group, check_message
from rmq_core.common.message import Message, MessageConst, MessageSysFlag
from rmq_core.common.message_codec import create_uniq_id, encode_batch, encode_properties
from rmq_core.errors import (
    BrokerError,
    ClientError,
    RemotingError,
    RequestTimeoutError,
    RocketMQError,
    TopicNotExistError,
)
from rmq_core.remoting.headers import SendMessageRequestHeaderV2

__all__ = ["Producer", "SendCallback"]

log = logging.getLogger(__name__)

SendCallback = Callable[..., Any]
COMPRESSION_ZLIB_FLAG = MessageSysFlag.COMPRESSED_FLAG | (MessageSysFlag.COMPRESSION_ZLIB << 8)
RETRY_TOPIC_PREFIX = "%RETRY%"
COMPRESS_IN_THREAD_OVER = 256 * 1024
"""Bodies of at least this many bytes are zlib-compressed in a worker thread, off the loop."""
_CALLBACK_TASKS: set[asyncio.Future[None]] = set()


class _State(enum.Enum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    SHUTDOWN = "SHUTDOWN"


class Producer:
    """An async RocketMQ producer.

    ``Producer(group, namesrv_addr, **options)``: ``options`` are :class:`ProducerConfig`
    field names (``send_msg_timeout=5.0``, ``instance_name="p2"``...); ``config`` supplies a
    whole config instead. Use ``async with Producer(...) as p`` or ``start()``/``shutdown()``.
    """

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: ProducerConfig | None = None,
        **options: Any,
    ) -> None:
        self.config = build_config(
            config or ProducerConfig(),
            options,
            group_field="producer_group",
            group=group,
            namesrv_addr=namesrv_addr,
        )
        check_group(self.config.producer_group)
        self._state = _State.CREATED
        self._instance: ClientInstance | None = None
        self._publish_info: dict[str, TopicPublishInfo] = {}
        self._topics: set[str] = set()
        self._fault = MQFaultStrategy(enabled=self.config.send_latency_fault_enable)
        if self.config.max_async_inflight < 1 or self.config.max_async_inflight_bytes < 1:
            raise ClientError(
                "max_async_inflight and max_async_inflight_bytes must be at least 1, got "
                f"{self.config.max_async_inflight} and {self.config.max_async_inflight_bytes}"
            )
        self._pending: set[asyncio.Task[SendResult]] = set()
        self._pending_bytes = 0
        self._capacity = asyncio.Event()
        self._capacity.set()

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def group(self) -> str:
        return self.config.producer_group

    @property
    def running(self) -> bool:
        return self._state is _State.RUNNING

    @property
    def instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientError(f"producer group {self.group} is not started")
        return self._instance

    async def start(self) -> None:
        """Join the process's client instance and start its periodic work."""
        if self._state is not _State.CREATED:
            raise ClientError(
                f"producer group {self.group} cannot start: it is {self._state.value}"
            )
        instance = ClientInstance.get_or_create(self.config)
        instance.register_producer(self)
        self._instance = instance
        instance.start()
        self._state = _State.RUNNING
        await instance.send_heartbeat_to_all()

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout`` s) for pending async sends, then leave the instance."""
        if self._state is not _State.RUNNING:
            self._state = _State.SHUTDOWN
            return
        self._state = _State.SHUTDOWN
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)
        assert self._instance is not None
        await self._instance.unregister_producer(self.group)

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def _check_running(self) -> ClientInstance:
        if self._state is not _State.RUNNING or self._instance is None:
            raise ClientError(
                f"producer group {self.group} is not running (state {self._state.value})"
            )
        return self._instance

    # --- ProducerHandle --------------------------------------------------------------------

    def topics_in_use(self) -> set[str]:
        return set(self._topics)

    def on_route_changed(self, topic: str, route: TopicRouteData) -> None:
        info = publish_queues(topic, route)
        if info.ok:
            self._publish_info[topic] = info

    # --- routes ----------------------------------------------------------------------------

    async def _publish_info_for(self, topic: str) -> TopicPublishInfo:
        """The publish list of ``topic``, fetched (or derived from TBW102) when unknown."""
        info = self._publish_info.get(topic)
        if info is not None and info.ok:
            return info
        instance = self._check_running()
        self._topics.add(topic)
        route = await instance.update_topic_route(topic)
        info = self._publish_info.get(topic)
        if info is not None and info.ok:
            return info
        if route is None:
            info = await self._default_topic_info(instance, topic)
            if info is not None:
                self._publish_info[topic] = info
                return info
        raise TopicNotExistError(
            17, f"no route info of topic {topic}", context=f"producer group {self.group}"
        )

    async def _default_topic_info(
        self, instance: ClientInstance, topic: str
    ) -> TopicPublishInfo | None:
        """The auto-create path: queues of the ``create_topic_key`` (TBW102) route."""
        key = self.config.create_topic_key
        try:
            default = await instance.api.get_topic_route(key)
        except TopicNotExistError:
            return None
        instance.learn_brokers(default.broker_datas)
        queues: list[MessageQueue] = []
        for qd in sorted(default.queue_datas, key=lambda q: q.broker_name):
            broker = default.broker(qd.broker_name)
            if not qd.writable or broker is None or broker.master_addr is None:
                continue
            nums = min(self.config.default_topic_queue_nums, qd.read_queue_nums)
            queues.extend(MessageQueue(topic, qd.broker_name, q) for q in range(nums))
        if not queues:
            return None
        return TopicPublishInfo(topic, tuple(queues), default)

    async def fetch_publish_message_queues(self, topic: str) -> list[MessageQueue]:
        """The queues ``topic`` can be sent to (its publish list)."""
        return list((await self._publish_info_for(topic)).queues)

    # --- message preparation ---------------------------------------------------------------

    def _header(
        self, msg: Message, queue_id: int, sys_flag: int, properties: dict[str, str], batch: bool
    ) -> SendMessageRequestHeaderV2:
        reconsume_times: int | None = 0
        max_reconsume: int | None = None
        if msg.topic.startswith(RETRY_TOPIC_PREFIX):
            properties = dict(properties)
            raw = properties.pop(MessageConst.PROPERTY_RECONSUME_TIME, None)
            reconsume_times = int(raw) if raw and raw.lstrip("-").isdigit() else 0
            raw_max = properties.pop(MessageConst.PROPERTY_MAX_RECONSUME_TIMES, None)
            max_reconsume = int(raw_max) if raw_max and raw_max.lstrip("-").isdigit() else None
        return SendMessageRequestHeaderV2(
            producer_group=self.group,
            topic=msg.topic,
            default_topic=self.config.create_topic_key,
            default_topic_queue_nums=self.config.default_topic_queue_nums,
            queue_id=queue_id,
            sys_flag=sys_flag,
            born_timestamp=time.time_ns() // 1_000_000,
            flag=msg.flag,
            properties=encode_properties(properties),
            reconsume_times=reconsume_times,
            unit_mode=False,
            max_reconsume_times=max_reconsume,
            batch=True if batch else None,
        )

    async def _prepare(self, msg: Message) -> tuple[bytes, int]:
        """Give ``msg`` a UNIQ_KEY; return the body to send and its sysflag.

        A batch carrier is sent as it is. Bodies of ``compress_msg_body_over_howmuch`` bytes or
        more are zlib-compressed, in a worker thread from :data:`COMPRESS_IN_THREAD_OVER` on.
        """
        if isinstance(msg, _BatchMessage):
            return msg.body, 0
        if not msg.unique_key:
            msg.unique_key = create_uniq_id()
        body = msg.body
        if len(body) < self.config.compress_msg_body_over_howmuch:
            return body, 0
        level = self.config.compress_level
        if len(body) >= COMPRESS_IN_THREAD_OVER:
            return await asyncio.to_thread(zlib.compress, body, level), COMPRESSION_ZLIB_FLAG
        return zlib.compress(body, level), COMPRESSION_ZLIB_FLAG

    # --- sending ---------------------------------------------------------------------------

    async def send(
        self,
        msg: Message,
        mq: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        timeout: float | None = None,
    ) -> SendResult:
        """Send ``msg`` and wait for the broker's answer.

        ``mq`` sends to that queue; ``selector`` (with ``arg``) picks the queue, e.g.
        ``SelectMessageQueueByHash()`` with an order id. Both make a single attempt.
        """
        self._check_running()
        check_message(msg, self.config.max_message_size)
        budget = self.config.send_msg_timeout if timeout is None else timeout
        if mq is None and selector is None:
            result = await self._send_with_retries(
                msg, budget, self.config.retry_times_when_send_failed
            )
        else:
            result = await self._send_to_chosen(msg, mq, selector, arg, budget)
        assert result is not None
        return result

    def send_async(
        self,
        msg: Message,
        on_success: SendCallback | None = None,
        on_exception: SendCallback | None = None,
        *,
        mq: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        timeout: float | None = None,
    ) -> asyncio.Task[SendResult]:
        """Start sending ``msg``; returns a task to await, and calls the callbacks when done.

        ``on_success(result)`` / ``on_exception(error)`` may be plain functions or coroutine
        functions. Transport failures are retried ``retry_times_when_send_async_failed``
        times. Validation errors are raised here, at once.

        Back-pressure: while ``max_async_inflight`` sends or ``max_async_inflight_bytes`` body
        bytes are in flight, this raises a retriable :class:`ClientError` at once; callers that
        would rather wait ``await self.wait_async_capacity()`` first.
        """
        self._check_running()
        check_message(msg, self.config.max_message_size)
        budget = self.config.send_msg_timeout if timeout is None else timeout
        if not self._has_async_capacity():
            raise ClientError(
                f"producer group {self.group}: {len(self._pending)} async sends "
                f"({self._pending_bytes} body bytes) in flight, at the limit of "
                f"max_async_inflight={self.config.max_async_inflight} / "
                f"max_async_inflight_bytes={self.config.max_async_inflight_bytes}; "
                "await wait_async_capacity() or some sends first",
                retriable=True,
            )

        async def run() -> SendResult:
            if mq is None and selector is None:
                result = await self._send_with_retries(
                    msg, budget, self.config.retry_times_when_send_async_failed
                )
            else:
                result = await self._send_to_chosen(msg, mq, selector, arg, budget)
            assert result is not None
            return result

        task = asyncio.get_running_loop().create_task(run())
        size = len(msg.body)
        self._pending.add(task)
        self._pending_bytes += size
        if not self._has_async_capacity():
            self._capacity.clear()
        task.add_done_callback(lambda t: self._async_send_done(t, size))
        if on_success is not None or on_exception is not None:
            task.add_done_callback(lambda t: _run_callbacks(t, on_success, on_exception))
        return task

    def _has_async_capacity(self) -> bool:
        return (
            len(self._pending) < self.config.max_async_inflight
            and self._pending_bytes < self.config.max_async_inflight_bytes
        )

    def _async_send_done(self, task: asyncio.Task[SendResult], size: int) -> None:
        self._pending.discard(task)
        self._pending_bytes -= size
        if self._has_async_capacity():
            self._capacity.set()

    @property
    def async_inflight(self) -> tuple[int, int]:
        """``(sends, body bytes)`` of :meth:`send_async` calls not finished yet."""
        return len(self._pending), self._pending_bytes

    async def wait_async_capacity(self, timeout: float | None = None) -> None:
        """Wait (up to ``timeout`` s, default ``send_msg_timeout``) until ``send_async`` has room.

        Call ``send_async`` right after this returns, without awaiting anything in between, and
        it is accepted. Raises :class:`RequestTimeoutError` when no room appears in time.
        """
        budget = self.config.send_msg_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(budget):
                while not self._has_async_capacity():
                    await self._capacity.wait()
        except TimeoutError as exc:
            sends, size = self.async_inflight
            raise RequestTimeoutError(
                f"producer group {self.group}: no room for an async send within {budget:.3f} s "
                f"({sends} sends, {size} body bytes in flight)"
            ) from exc

    async def send_oneway(
        self,
        msg: Message,
        mq: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
    ) -> None:
        """Send without waiting for an answer (no result, no retry)."""
        self._check_running()
        check_message(msg, self.config.max_message_size)
        info = await self._publish_info_for(msg.topic)
        target = mq or (
            _select(selector, info, msg, arg) if selector else self._fault.select(info.queues, None)
        )
        body, sys_flag = await self._prepare(msg)
        header = self._header(msg, target.queue_id, sys_flag, msg.properties, batch=False)
        addr = await self._broker_addr(target)
        await self.instance.api.send_message(
            addr, target.broker_name, header, body, self.config.send_msg_timeout, oneway=True
        )

    async def send_batch(
        self,
        msgs: Sequence[Message],
        mq: MessageQueue | None = None,
        *,
        timeout: float | None = None,
    ) -> SendResult:
        """Send ``msgs`` (same topic, no delay, not a retry topic) as one SEND_BATCH_MESSAGE.

        The result's ``msg_id`` is the comma-joined UNIQ_KEYs; ``queue_offset`` is the first.
        """
        self._check_running()
        batch = _BatchMessage.build(msgs, self.config.max_message_size)
        budget = self.config.send_msg_timeout if timeout is None else timeout
        if mq is None:
            result = await self._send_with_retries(
                batch, budget, self.config.retry_times_when_send_failed
            )
        else:
            result = await self._send_to_chosen(batch, mq, None, None, budget)
        assert result is not None
        return result

    async def _send_to_chosen(
        self,
        msg: Message,
        mq: MessageQueue | None,
        selector: MessageQueueSelector | None,
        arg: Any,
        budget: float,
    ) -> SendResult | None:
        """One attempt to an explicit queue or to the selector's choice."""
        deadline = time.monotonic() + budget
        if mq is not None:
            if mq.topic != msg.topic:
                raise ClientError(f"message topic {msg.topic} differs from queue topic {mq.topic}")
            await self._publish_info_for(msg.topic)  # learns the broker addresses
            target = mq
        else:
            assert selector is not None
            target = _select(selector, await self._publish_info_for(msg.topic), msg, arg)
        prepared = await self._prepare(msg)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeoutError(f"send to topic {msg.topic} timed out before sending")
        return await self._send_kernel(msg, prepared, target, remaining)

    async def _send_with_retries(
        self, msg: Message, budget: float, retries: int
    ) -> SendResult | None:
        """Up to ``1 + retries`` attempts within ``budget`` seconds, avoiding failed brokers."""
        deadline = time.monotonic() + budget
        last_broker: str | None = None
        last_error: RocketMQError | None = None
        not_ok: SendResult | None = None
        tried: list[str] = []
        prepared = await self._prepare(msg)
        topic = msg.topic
        for _attempt in range(1 + max(retries, 0)):
            info = self._publish_info.get(topic)
            if info is None or not info.ok:
                info = await self._publish_info_for(topic)
            mq = self._fault.select(info.queues, last_broker)
            last_broker = mq.broker_name
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            tried.append(mq.broker_name)
            begin = time.monotonic()
            try:
                result = await self._send_kernel(msg, prepared, mq, remaining)
            except (RemotingError, BrokerError, ClientError) as exc:
                self._fault.update_fault_item(mq.broker_name, time.monotonic() - begin, True)
                if not exc.retriable:
                    raise
                log.info("send to %s on broker %s failed, retrying: %s", msg.topic, mq, exc)
                last_error = exc
                continue
            self._fault.update_fault_item(mq.broker_name, time.monotonic() - begin, False)
            assert result is not None
            if (
                result.status is not SendStatus.SEND_OK
                and self.config.retry_another_broker_when_not_store_ok
            ):
                not_ok = result
                continue
            return result
        if not_ok is not None:
            return not_ok
        where = f"topic {msg.topic}, brokers tried {', '.join(tried) or 'none'}"
        if last_error is None:
            raise RequestTimeoutError(f"send timed out after {budget:.3f} s ({where})")
        error: RocketMQError
        if isinstance(last_error, BrokerError):
            error = BrokerError.for_code(last_error.code, last_error.remark, context=where)
        else:
            error = type(last_error)(f"{last_error} ({where})")
        error.retriable = last_error.retriable
        raise error from last_error

    async def _broker_addr(self, mq: MessageQueue) -> str:
        instance = self.instance
        addr = instance.find_broker_addr_in_publish(mq.broker_name)
        if addr is None:
            await instance.update_topic_route(mq.topic)
            addr = instance.find_broker_addr_in_publish(mq.broker_name)
        if addr is None:
            raise ClientError(
                f"broker {mq.broker_name} of topic {mq.topic} has no master address",
                retriable=True,
            )
        return addr

    async def _send_kernel(
        self, msg: Message, prepared: tuple[bytes, int], mq: MessageQueue, timeout: float
    ) -> SendResult:
        """One SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE of ``prepared`` (body, sysflag) to ``mq``."""
        addr = self.instance.find_broker_addr_in_publish(mq.broker_name)
        if addr is None:
            addr = await self._broker_addr(mq)
        is_batch = isinstance(msg, _BatchMessage)
        body, sys_flag = prepared
        header = self._header(msg, mq.queue_id, sys_flag, msg.properties, batch=is_batch)
        raw = await self.instance.api.send_message(
            addr, mq.broker_name, header, body, timeout, batch=is_batch
        )
        assert raw is not None
        return _result(msg, mq, raw)


def _select(
    selector: MessageQueueSelector, info: TopicPublishInfo, msg: Message, arg: Any
) -> MessageQueue:
    try:
        chosen = selector.select(list(info.queues), msg, arg)
    except RocketMQError:
        raise
    except Exception as exc:
        raise ClientError(f"message queue selector failed for topic {msg.topic}: {exc}") from exc
    if chosen not in info.queues:
        raise ClientError(f"selector chose {chosen}, which is not a queue of topic {msg.topic}")
    return chosen


def _result(msg: Message, mq: MessageQueue, raw: RawSendResponse) -> SendResult:
    header = raw.header
    if isinstance(msg, _BatchMessage):
        msg_id = ",".join(m.unique_key or "" for m in msg.messages)
    else:
        msg_id = msg.unique_key or header.msg_id
    return SendResult(
        status=raw.status,
        msg_id=msg_id,
        offset_msg_id=header.msg_id,
        message_queue=MessageQueue(mq.topic, mq.broker_name, header.queue_id),
        queue_offset=header.queue_offset,
        transaction_id=header.transaction_id,
        region_id=raw.region_id,
        trace_on=raw.trace_on,
    )


def _run_callbacks(
    task: asyncio.Task[SendResult],
    on_success: SendCallback | None,
    on_exception: SendCallback | None,
) -> None:
    if task.cancelled():
        return
    error = task.exception()
    try:
        if error is None:
            outcome = on_success(task.result()) if on_success else None
        else:
            outcome = on_exception(error) if on_exception else None
        if inspect.isawaitable(outcome):
            callback_task = asyncio.ensure_future(_await_quietly(outcome))
            _CALLBACK_TASKS.add(callback_task)
            callback_task.add_done_callback(_CALLBACK_TASKS.discard)
    except Exception:
        log.exception("send callback raised")


async def _await_quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("send callback raised")


class _BatchMessage(Message):
    """The carrier of a batch: body is the encoded batch, ``messages`` the originals."""

    __slots__ = ("messages",)

    messages: list[Message]

    @classmethod
    def build(cls, msgs: Sequence[Message], max_size: int) -> _BatchMessage:
        if not msgs:
            raise ClientError("send_batch: the batch is empty")
        topic = msgs[0].topic
        wait = msgs[0].wait_store_msg_ok
        for msg in msgs:
            if msg.topic != topic:
                raise ClientError(f"send_batch: mixed topics {topic} and {msg.topic}")
            if msg.topic.startswith(RETRY_TOPIC_PREFIX):
                raise ClientError(f"send_batch: retry topic {msg.topic} cannot be batched")
            if msg.delay_time_level > 0:
                raise ClientError(f"send_batch: delayed messages cannot be batched ({topic})")
            if msg.wait_store_msg_ok != wait:
                raise ClientError(f"send_batch: mixed WAIT properties in topic {topic}")
            check_message(msg, max_size)
            if not msg.unique_key:
                msg.unique_key = create_uniq_id()
        body = encode_batch(msgs)
        batch = cls(topic=topic, body=body)
        check_message(batch, max_size)
        batch.messages = list(msgs)
        batch.wait_store_msg_ok = wait
        batch.unique_key = create_uniq_id()
        return batch
