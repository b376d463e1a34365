"""kombu transport ``rocketmq://``: kombu queues on RocketMQ topics, consumed with pop.

Mapping (see docs/celery.md):

- a kombu queue is a topic (:mod:`~rmq_integrations.celery.naming`) consumed by its own
  consumer group with RocketMQ 5 pop consumption (:class:`rmq_core.SimpleConsumer`): every
  received message stays on the broker, invisible to other consumers, until it is
  acknowledged; a worker that dies without acknowledging loses nothing, the message becomes
  visible again after ``invisible_time``;
- exchanges (direct, topic, fanout) route on the client with binding tables kept on the
  server (:mod:`~rmq_integrations.celery.server_state`), so a process can publish to queues
  other processes bound (``rpc://`` results, remote control replies, broadcasts);
- ``ack`` -> ACK_MESSAGE; ``reject(requeue=True)`` and ``recover`` -> the message becomes
  visible again at once (CHANGE_MESSAGE_INVISIBLETIME to 0, counted as a redelivery);
  ``reject(requeue=False)`` -> the message goes to the queue's DLQ ``%DLQ%<group>``;
- prefetch (``basic_qos``) bounds how many messages a channel holds unacknowledged plus
  buffered; while it holds them the transport renews their invisible time, so a long task or
  an ETA task is not delivered twice while its worker lives;
- a message whose body is not a kombu payload is logged and moved to the DLQ.

Each consumed queue has a fetch task on the client loop long-polling the broker into the
channel's buffer; :meth:`Transport.drain_events` waits on the buffers of all channels of the
connection at once.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from queue import Empty
from typing import Any, TypeVar

from kombu.transport import virtual
from kombu.utils.json import dumps as kombu_dumps

import rmq_core
from rmq_core import (
    BrokerError,
    ClientError,
    MessageExt,
    RemotingError,
    RocketMQError,
    SimpleConsumer,
)
from rmq_core.client import InvalidReceiptHandleError, ReceiptHandle
from rmq_core.client.config import parse_namesrv_addr
from rmq_core.client.sync import background_loop, run_sync
from rmq_core.errors import TopicNotExistError
from rmq_integrations.celery.clients import ClientPool
from rmq_integrations.celery.naming import group_for_topic, topic_for_queue
from rmq_integrations.celery.options import TransportConfigError, TransportOptions
from rmq_integrations.celery.server_state import Binding, kv_prefix

__all__ = ["DEFAULT_PORT", "Channel", "QoS", "Transport"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PORT = 9876
CALL_TIMEOUT = 30.0
"""Seconds a kombu thread waits for one broker operation."""
MAX_BLOCK = 1.0
"""Longest single wait (s) of drain_events, so kombu stays responsive to shutdown."""
FETCH_BACKOFF = 1.0
"""Seconds a fetch task waits after a failed pop."""
CLOSE_FLUSH_TIMEOUT = 10.0
"""Seconds close() waits for acknowledgements still on their way."""


def _submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    return background_loop().submit(coro)


def _call(coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
    return run_sync(coro, timeout)


@dataclass(eq=False)
class _Delivery:
    """A received message the channel holds (buffered or delivered, not yet settled)."""

    tag: str
    queue: str
    consumer: SimpleConsumer
    message: MessageExt
    handle: ReceiptHandle
    renewed_at: float = field(default_factory=time.monotonic)
    settled: bool = False
    lock: asyncio.Lock | None = None

    def get_lock(self) -> asyncio.Lock:
        """The lock serialising broker calls for this message (create on the client loop)."""
        if self.lock is None:
            self.lock = asyncio.Lock()
        return self.lock


class QoS(virtual.QoS):
    """Prefetch accounting plus acknowledgements on the broker."""

    def ack(self, delivery_tag: str) -> None:
        self.channel._settle(delivery_tag, "ack")
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.channel._settle(delivery_tag, "requeue" if requeue else "reject")
        self._quick_ack(delivery_tag)

    def restore_unacked(self) -> list[Any]:
        """Make every unacknowledged message visible again at once (channel close,
        ``recover``)."""
        self._flush()
        for tag in list(self._delivered):
            self.channel._settle(tag, "requeue")
        self._delivered.clear()
        return []

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        """The broker restores invisible messages itself (their invisible time ends)."""


class Channel(virtual.Channel):
    """A kombu channel over the process's RocketMQ clients (see the module docstring)."""

    QoS = QoS
    supports_fanout = True
    do_restore = True

    def __init__(self, connection: Transport, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self.transport: Transport = connection
        self.options: TransportOptions = connection.options
        self.pool: ClientPool = connection.pool
        self._inbox: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._deliveries: dict[str, _Delivery] = {}
        self._no_ack: set[str] = set()
        self._fetching: dict[str, object] = {}
        self._consumed: dict[str, SimpleConsumer] = {}
        self._auto_delete: set[str] = set()
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._credit_event: asyncio.Event | None = None
        self._renewer: concurrent.futures.Future[None] | None = None
        self._error: BaseException | None = None
        self._failures = 0
        self._closing = False

    # --- names -----------------------------------------------------------------------------

    def _topic(self, queue: str) -> str:
        return topic_for_queue(queue, self.options.topic_prefix)

    def _group(self, queue: str) -> str:
        return group_for_topic(self._topic(queue), self.options.consumer_group_prefix)

    # --- queues ----------------------------------------------------------------------------

    def _new_queue(self, queue: str, auto_delete: bool = False, **kwargs: Any) -> None:
        if auto_delete:
            self._auto_delete.add(queue)
        _call(self.pool.ensure_topic(self._topic(queue)))

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return _call(self.pool.topic_exists(self._topic(queue)))

    def _size(self, queue: str) -> int:
        topic = self._topic(queue)
        return _call(self.pool.size(topic, self._group(queue)))

    def _purge(self, queue: str) -> int:
        return _call(self.pool.purge(self._topic(queue)), CALL_TIMEOUT * 4)

    def after_reply_message_received(self, queue: str) -> None:
        """Keep reply queues (kombu's virtual default deletes them after each reply): they
        are reused by the next call and deleted when the channel that consumed them closes
        (they are auto-delete); stale replies are ignored by their ticket."""

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        topic = self._topic(queue)
        _call(self.pool.unbind_queue(queue))
        _call(self.pool.delete_topic(topic, self._group(queue)))

    def queue_delete(
        self, queue: str, if_unused: bool = False, if_empty: bool = False, **kwargs: Any
    ) -> None:
        """Delete ``queue``: its bindings everywhere, its topic and its consumer group."""
        if if_empty and self._size(queue):
            return
        self._auto_delete.discard(queue)
        self.state.queue_bindings_delete(queue)
        self._delete(queue)

    # --- publishing ------------------------------------------------------------------------

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        headers = message.get("headers") or {}
        properties = message.get("properties") or {}
        key = headers.get("id") or properties.get("correlation_id")
        body = kombu_dumps(message).encode("utf-8")
        _call(self.pool.send(self._topic(queue), body, [str(key)] if key else []))

    def _put_fanout(
        self, exchange: str, message: dict[str, Any], routing_key: str, **kwargs: Any
    ) -> None:
        for queue in sorted({q for _, _, q in self._table(exchange, fresh=True)}):
            self._put(queue, message)

    # --- exchanges and bindings ------------------------------------------------------------

    def exchange_declare(
        self,
        exchange: str | None = None,
        type: str = "direct",
        durable: bool = False,
        auto_delete: bool = False,
        arguments: Any = None,
        nowait: bool = False,
        passive: bool = False,
    ) -> None:
        super().exchange_declare(exchange, type, durable, auto_delete, arguments, nowait, passive)
        if exchange and not passive:
            _call(self.pool.declare_exchange(exchange, type or "direct"))

    def typeof(self, exchange: str, default: str = "direct") -> Any:
        if exchange in self.state.exchanges or not exchange:
            return super().typeof(exchange, default)
        found = _call(self.pool.exchange_type(exchange))
        return self.exchange_types[found if found in self.exchange_types else default]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        exchange_type = self.typeof(exchange).type
        _call(self.pool.bind(exchange, exchange_type, routing_key, pattern or "", queue))

    def queue_unbind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str = "",
        arguments: Any = None,
        **kwargs: Any,
    ) -> None:
        if exchange in self.state.exchanges:
            super().queue_unbind(queue, exchange, routing_key, arguments, **kwargs)
        if exchange:
            _, pattern, _ = self.typeof(exchange).prepare_bind(
                queue, exchange, routing_key, arguments
            )
            _call(self.pool.unbind(exchange, routing_key, pattern or "", queue))

    def _table(self, exchange: str, *, fresh: bool) -> list[Binding]:
        return _call(self.pool.table(exchange, fresh=fresh))

    def get_table(self, exchange: str) -> list[Binding]:
        return self._table(exchange, fresh=False)

    def _lookup(self, exchange: str, routing_key: str, default: Any = None) -> Any:
        if exchange:
            exchange_type = self.typeof(exchange)
            for fresh in (False, True):
                found = exchange_type.lookup(
                    self._table(exchange, fresh=fresh), exchange, routing_key, default
                )
                if found:
                    return list(found)
        return super()._lookup(exchange, routing_key, default)

    # --- consuming -------------------------------------------------------------------------

    def basic_consume(
        self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any
    ) -> Any:
        result = super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)
        if no_ack:
            self._no_ack.add(queue)
        else:
            self._no_ack.discard(queue)
        if queue not in self._fetching:
            self._consumer_of(queue)
            token = self._fetching[queue] = object()
            _submit(self._fetch(queue, token))
        if self.options.renew_invisible and self._renewer is None:
            self._renewer = _submit(self._renew())
        return result

    def basic_cancel(self, consumer_tag: str) -> Any:
        queue = self._tag_to_queue.get(consumer_tag)
        result = super().basic_cancel(consumer_tag)
        if queue is not None and queue not in self._active_queues:
            self._stop_queue(queue)
        return result

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            self._settle(message.delivery_tag, "ack")
        return message

    def _consumer_of(self, queue: str) -> SimpleConsumer:
        """The consumer of ``queue`` this channel uses (acquired once, released at close)."""
        consumer = self._consumed.get(queue)
        if consumer is None:
            consumer = _call(self.pool.consumer(self._topic(queue)))
            self._consumed[queue] = consumer
        return consumer

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        consumer = self._consumer_of(queue)
        while True:
            found = _call(consumer.receive(1, self.options.invisible_time, await_duration=0))
            if not found:
                raise Empty()
            accepted = self._accept(queue, consumer, found[0])
            if accepted is None:
                _call(consumer.forward_to_dead_letter(found[0]))
                continue
            payload, delivery = accepted
            self._deliveries[delivery.tag] = delivery
            return payload

    def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, apply_global: bool = False
    ) -> None:
        super().basic_qos(prefetch_size, prefetch_count, apply_global)
        self._signal_credit()

    def _credit(self) -> int:
        """How many more messages this channel may fetch now (read on the client loop)."""
        limit = self.qos.prefetch_count or self.options.max_prefetch
        qos = self.qos
        unacked = len(qos._delivered) - len(qos._dirty)
        return limit - max(unacked, 0) - len(self._inbox)

    def _signal_credit(self) -> None:
        event = self._credit_event
        if event is not None:
            loop = background_loop().loop
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)
        self.transport.notify()

    async def _fetch(self, queue: str, token: object) -> None:
        """Fill the buffer with ``queue``'s messages while the channel has credit, until
        the queue is no longer consumed (``token`` replaced or gone). The task is never
        cancelled: a pop the broker holds may still return messages, which are then made
        visible again; the task holds its own use of the consumer until it ends."""
        consumer = await self.pool.consumer(self._topic(queue))
        try:
            await self._fetch_loop(queue, token, consumer)
        finally:
            await self.pool.release_consumer(consumer)

    def _still_fetching(self, queue: str, token: object) -> bool:
        return not self._closing and self._fetching.get(queue) is token

    async def _fetch_loop(self, queue: str, token: object, consumer: SimpleConsumer) -> None:
        if self._credit_event is None:
            self._credit_event = asyncio.Event()
        event = self._credit_event
        long_poll = self.options.long_poll
        while self._still_fetching(queue, token):
            credit = self._credit()
            if credit <= 0:
                event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), MAX_BLOCK)
                continue
            try:
                found = await consumer.receive(
                    min(credit, 32), self.options.invisible_time, await_duration=long_poll
                )
            except asyncio.CancelledError:
                raise
            except RocketMQError as exc:
                if not self._still_fetching(queue, token):
                    break
                await self._fetch_failed(queue, exc)
                continue
            self._error = None
            self._failures = 0
            for msg in found:
                if not self._still_fetching(queue, token):
                    await _log_errors(consumer.change_invisible_duration(msg, 0), "release")
                    continue
                accepted = self._accept(queue, consumer, msg)
                if accepted is None:
                    await _log_errors(consumer.forward_to_dead_letter(msg), "dead-letter")
                    continue
                payload, delivery = accepted
                if queue in self._no_ack:
                    await self._settle_async(delivery, "ack")
                else:
                    self._deliveries[delivery.tag] = delivery
                with self.transport.cond:
                    self._inbox.append((queue, payload))
                self.transport.notify()

    async def _fetch_failed(self, queue: str, exc: RocketMQError) -> None:
        """A transport failure is reported to drain_events (kombu then reconnects); a queue
        whose topic vanished (deleted by another process) is created again."""
        self._failures += 1
        level = logging.WARNING if self._failures == 1 else logging.DEBUG
        log.log(level, "receiving from queue %s failed: %s", queue, exc)
        if isinstance(exc, RemotingError):
            self._error = exc
            self.transport.notify()
        elif isinstance(exc, TopicNotExistError):
            with contextlib.suppress(RocketMQError):
                await self.pool.ensure_topic(self._topic(queue))
        await asyncio.sleep(FETCH_BACKOFF)

    def _accept(
        self, queue: str, consumer: SimpleConsumer, msg: MessageExt
    ) -> tuple[dict[str, Any], _Delivery] | None:
        """The kombu payload of a received message with a fresh delivery tag, and its
        delivery record; None (logged) when the body is not a kombu payload: the caller
        moves it to the DLQ."""
        payload = _decode_payload(msg)
        if payload is None:
            log.error(
                "message %s in queue %s (topic %s) is not a kombu payload; moving it to %s",
                msg.unique_key or msg.msg_id,
                queue,
                msg.topic,
                f"%DLQ%{consumer.group}",
            )
            return None
        tag = uuid.uuid4().hex
        properties = payload["properties"]
        properties["delivery_tag"] = tag
        info = properties.setdefault("delivery_info", {})
        if isinstance(info, dict):
            info["redelivered"] = msg.reconsume_times > 0
        payload["redelivered"] = msg.reconsume_times > 0
        handle = ReceiptHandle.of(msg)
        msg.body = b""
        return payload, _Delivery(tag, queue, consumer, msg, handle)

    def deliver_one(self) -> bool:
        """Hand one buffered message to its consumer callback; False when none may go now."""
        if not self._inbox:
            return False
        with self.transport.cond:
            picked = None
            for index, (queue, _payload) in enumerate(self._inbox):
                if queue not in self._active_queues:
                    continue
                if queue not in self._no_ack and not self.qos.can_consume():
                    continue
                picked = index
                break
            if picked is None:
                return False
            queue, payload = self._inbox[picked]
            del self._inbox[picked]
        self._signal_credit()
        self.connection._deliver(payload, queue)
        return True

    def pending_error(self) -> BaseException | None:
        """The last fetch failure when nothing is buffered (then it is cleared)."""
        if self._error is not None and not self._inbox:
            error, self._error = self._error, None
            return error
        return None

    def drain_events(self, timeout: float | None = None, callback: Any = None) -> None:
        if self.deliver_one():
            return
        raise Empty()

    def _stop_queue(self, queue: str) -> None:
        """Stop fetching ``queue`` and make its buffered messages visible again (its
        consumer stays until the channel closes: delivered messages still need it)."""
        self._fetching.pop(queue, None)
        self._signal_credit()
        with self.transport.cond:
            kept = collections.deque(item for item in self._inbox if item[0] != queue)
            dropped = [p for q, p in self._inbox if q == queue]
            self._inbox = kept
        for payload in dropped:
            self._settle(payload["properties"]["delivery_tag"], "requeue")

    # --- settling --------------------------------------------------------------------------

    def _settle(self, tag: str, action: str) -> None:
        """Acknowledge (``ack``), make visible again (``requeue``) or dead-letter
        (``reject``) the message of ``tag`` on the broker (asynchronously)."""
        delivery = self._deliveries.pop(tag, None)
        if delivery is None:
            return
        if action == "reject" and not self.options.dead_letter_rejected:
            action = "ack"
        future = _submit(self._settle_async(delivery, action))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        self._signal_credit()

    async def _settle_async(self, delivery: _Delivery, action: str) -> None:
        async with delivery.get_lock():
            delivery.settled = True
            consumer = delivery.consumer
            try:
                if action == "ack":
                    await consumer.ack(delivery.handle)
                elif action == "requeue":
                    await consumer.change_invisible_duration(delivery.handle, 0)
                else:
                    delivery.message.properties[_POP_CK] = delivery.handle.extra_info
                    await consumer.forward_to_dead_letter(delivery.message)
            except InvalidReceiptHandleError:
                log.warning(
                    "%s of message %s in queue %s came too late: it became visible again and "
                    "is (or was) delivered again",
                    action,
                    delivery.message.unique_key or delivery.tag,
                    delivery.queue,
                )
            except RocketMQError as exc:
                log.error("%s of a message in queue %s failed: %s (it will be delivered again)",
                          action, delivery.queue, exc)  # fmt: skip

    async def _renew(self) -> None:
        """Keep held messages invisible: every third of ``invisible_time`` extend them."""
        invisible = self.options.invisible_time
        period = max(invisible / 3.0, 0.05)
        while not self._closing:
            await asyncio.sleep(period / 2)
            now = time.monotonic()
            for delivery in list(self._deliveries.values()):
                if delivery.settled or now - delivery.renewed_at < period:
                    continue
                async with delivery.get_lock():
                    if delivery.settled:
                        continue
                    try:
                        delivery.handle = await delivery.consumer.change_invisible_duration(
                            delivery.handle, invisible
                        )
                        delivery.renewed_at = time.monotonic()
                    except InvalidReceiptHandleError:
                        delivery.renewed_at = float("inf")
                        log.warning("message %s in queue %s was held past its invisible time; "
                                    "it may be delivered twice", delivery.tag,
                                    delivery.queue)  # fmt: skip
                    except RocketMQError as exc:
                        log.info("renewing a message of queue %s failed: %s", delivery.queue, exc)

    # --- close -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop fetching, make held messages visible again, wait for settlements, delete the
        auto-delete queues this channel consumed, release the consumers."""
        if self.closed:
            return
        self._closing = True
        consumed = set(self._consumed)
        for queue in list(self._fetching):
            self._stop_queue(queue)
        if self._qos is not None:
            self._qos.restore_unacked_once()
        self.flush(CLOSE_FLUSH_TIMEOUT)
        for queue in sorted(self._auto_delete & consumed):
            try:
                self.queue_delete(queue)
            except (RocketMQError, TimeoutError) as exc:
                log.info("deleting auto-delete queue %s failed: %s", queue, exc)
        for queue in list(self._consumed):
            consumer = self._consumed.pop(queue)
            try:
                _call(self.pool.release_consumer(consumer))
            except (RocketMQError, TimeoutError) as exc:
                log.info("releasing the consumer of %s failed: %s", queue, exc)
        super().close()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for acknowledgements on their way; False if some remain."""
        pending = list(self._pending)
        if not pending:
            return True
        _, not_done = concurrent.futures.wait(pending, timeout)
        return not not_done


_POP_CK = "POP_CK"


def _decode_payload(msg: MessageExt) -> dict[str, Any] | None:
    """The kombu message dict in ``msg.body``, or None when it is not one."""
    try:
        payload = json.loads(msg.body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("properties"), dict):
        return None
    if "body" not in payload:
        return None
    return payload


async def _log_errors(coro: Coroutine[Any, Any, Any], what: str) -> None:
    try:
        await coro
    except RocketMQError as exc:
        log.warning("%s failed: %s", what, exc)


class Transport(virtual.Transport):
    """``rocketmq://host:port[/vhost]``: the NameServer address; see the module docstring."""

    Channel = Channel
    default_port = DEFAULT_PORT
    driver_type = "rocketmq"
    driver_name = "rmq"
    polling_interval = None
    implements = virtual.Transport.implements.extend(
        asynchronous=False,
        exchange_type=frozenset({"direct", "topic", "fanout"}),
    )
    connection_errors = (
        *virtual.Transport.connection_errors,
        RemotingError,
        ConnectionError,
        OSError,
        TimeoutError,
    )
    channel_errors = (*virtual.Transport.channel_errors, BrokerError)

    def __init__(self, client: Any, **kwargs: Any) -> None:
        self.options = TransportOptions.parse(client.transport_options or {})
        self.namesrv = _namesrv_of(client, self.options)
        self.cond = threading.Condition()
        self._generation = 0
        self._next = 0
        self.pool = ClientPool.acquire(self.namesrv, kv_prefix(client.virtual_host), self.options)
        self._released = False
        super().__init__(client, **kwargs)
        if self.options.polling_interval is not None:
            self.polling_interval = self.options.polling_interval

    def driver_version(self) -> str:
        return rmq_core.__version__

    def establish_connection(self) -> Any:
        """Check that a NameServer answers (connection error otherwise), then connect."""
        _call(self.pool.start(), 15.0)
        return super().establish_connection()

    def close_connection(self, connection: Any) -> None:
        try:
            super().close_connection(connection)
        finally:
            self._release_pool()

    def _release_pool(self) -> None:
        if self._released:
            return
        self._released = True
        if self.pool.release():
            try:
                _call(self.pool.close(), 15.0)
            except (RocketMQError, TimeoutError) as exc:
                log.info("closing the RocketMQ clients failed: %s", exc)

    def notify(self) -> None:
        """Wake :meth:`drain_events` (a buffer or a prefetch window changed)."""
        with self.cond:
            self._generation += 1
            self.cond.notify_all()

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.cond:
                generation = self._generation
            channels = list(self.channels)
            if channels:
                self._next = (self._next + 1) % len(channels)
                for channel in channels[self._next :] + channels[: self._next]:
                    if channel.deliver_one():
                        return
                for channel in channels:
                    error = channel.pending_error()
                    if error is not None:
                        raise error
            wait = MAX_BLOCK
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError()
                wait = min(wait, remaining)
            with self.cond:
                self.cond.wait_for(lambda g=generation: self._generation != g, wait)


def _namesrv_of(client: Any, options: TransportOptions) -> tuple[str, ...]:
    """The NameServer addresses of a kombu connection (TransportConfigError when malformed)."""
    if options.namesrv_addr:
        raw = options.namesrv_addr
    else:
        host = client.hostname or "127.0.0.1"
        port = client.port or DEFAULT_PORT
        raw = f"{host}:{port}"
    try:
        addrs = parse_namesrv_addr(raw)
    except ClientError as exc:
        raise TransportConfigError(f"rocketmq broker URL: {exc}") from exc
    if not addrs:
        raise TransportConfigError("rocketmq broker URL names no NameServer")
    return addrs
