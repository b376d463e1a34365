"""The RocketMQ clients one process shares between its kombu connections.

A :class:`ClientPool` exists per (process, NameServer addresses, binding namespace) and is
reference-counted by the transports using it: one :class:`~rmq_core.Producer`, one admin
client, the server-side binding tables (:class:`ServerState`) with a small cache, and one
:class:`~rmq_core.SimpleConsumer` per consumed queue (its own consumer group), shared by the
channels consuming that queue. Every method is a coroutine for the client loop of
:mod:`rmq_core.client.sync` (kombu's threads reach it through ``run_sync``); after a ``fork()``
the child builds its own pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import threading
import time
from typing import Any, ClassVar

from rmq_core import (
    ConsumeFromWhere,
    Message,
    MessageExt,
    Producer,
    RocketMQError,
    SimpleConsumer,
)
from rmq_core.admin import AdminClient
from rmq_core.client.simple_consumer import pop_retry_topic
from rmq_core.errors import RemotingConnectError, RemotingError, TopicNotExistError
from rmq_integrations.celery.naming import group_for_topic
from rmq_integrations.celery.options import TransportOptions
from rmq_integrations.celery.server_state import Binding, ServerState

__all__ = ["ClientPool"]

log = logging.getLogger(__name__)

ROUTE_WAIT = 10.0
"""Seconds to wait for a created topic's route to reach the NameServer."""
PURGE_BATCH = 32
PURGE_INVISIBLE = 60.0
_POOL_IDS = itertools.count(1)


class ClientPool:
    """Shared clients of one process (see the module docstring)."""

    _pools: ClassVar[dict[tuple[int, tuple[str, ...], str], ClientPool]] = {}
    _lock = threading.Lock()

    @classmethod
    def acquire(
        cls, namesrv: tuple[str, ...], prefix: str, options: TransportOptions
    ) -> ClientPool:
        """The pool of this process for ``namesrv``/``prefix`` (created on first use)."""
        key = (os.getpid(), namesrv, prefix)
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = ClientPool(namesrv, prefix, options)
            pool.users += 1
            return pool

    def __init__(self, namesrv: tuple[str, ...], prefix: str, options: TransportOptions) -> None:
        self.namesrv = namesrv
        self.prefix = prefix
        self.options = options
        self.users = 0
        # every pool is its own RocketMQ client instance (own connections, own groups)
        self.instance_name = f"kombu-{os.getpid()}-{next(_POOL_IDS)}"
        self.admin = AdminClient(list(namesrv))
        self.state = ServerState(self.admin, prefix)
        self._producer: Producer | None = None
        self._consumers: dict[str, tuple[SimpleConsumer, int]] = {}
        self._known_topics: set[str] = set()
        self._tables: dict[str, tuple[float, list[Binding]]] = {}
        self._types: dict[str, str] = {}
        self._declared: set[tuple[str, str]] = set()
        self._start_lock: asyncio.Lock | None = None
        self._started = False

    def release(self) -> bool:
        """Drop one user; True when it was the last (the caller then runs :meth:`close`)."""
        with self._lock:
            self.users -= 1
            if self.users > 0:
                return False
            key = (os.getpid(), self.namesrv, self.prefix)
            if self._pools.get(key) is self:
                del self._pools[key]
            return True

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check that a NameServer answers and knows a master broker (RemotingError
        otherwise: kombu retries), and start the producer the first time."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                await self._require_broker()
                return
            await self.admin.start()
            await self._require_broker()
            producer = Producer(
                self.options.producer_group,
                list(self.namesrv),
                instance_name=self.instance_name,
                send_msg_timeout=self.options.send_timeout,
                default_topic_queue_nums=self.options.queue_nums,
            )
            await producer.start()
            self._producer = producer
            self._started = True

    async def _require_broker(self) -> None:
        """RemotingConnectError (a connection error: kombu retries) while no master broker
        is registered with the NameServers (one starting up, or restarting)."""
        info = await self.admin.cluster_info()
        if not info.master_addrs():
            raise RemotingConnectError(
                f"no master broker is registered with NameServer(s) {';'.join(self.namesrv)}"
            )

    async def close(self) -> None:
        """Shut every client down."""
        for consumer, _ in list(self._consumers.values()):
            await _quietly(consumer.shutdown())
        self._consumers.clear()
        if self._producer is not None:
            await _quietly(self._producer.shutdown())
            self._producer = None
        await _quietly(self.admin.close())
        self._started = False

    # --- topics ----------------------------------------------------------------------------

    async def topic_exists(self, topic: str) -> bool:
        """True when the NameServer routes ``topic``."""
        try:
            await self.admin.topic_route(topic)
        except TopicNotExistError:
            return False
        self._known_topics.add(topic)
        return True

    async def ensure_topic(self, topic: str) -> None:
        """Create ``topic`` (``queue_nums`` queues on every master) unless it is routed."""
        if topic in self._known_topics or await self.topic_exists(topic):
            return
        await self._require_broker()
        n = self.options.queue_nums
        await self.admin.create_topic(topic, read_queue_nums=n, write_queue_nums=n, wait=ROUTE_WAIT)
        self._known_topics.add(topic)

    async def delete_topic(self, topic: str, group: str) -> None:
        """Delete ``topic``, the group's pop retry topic and the group itself."""
        self._known_topics.discard(topic)
        brokers = set()
        for name in (topic, pop_retry_topic(group, topic)):
            try:
                route = await self.admin.topic_route(name)
            except TopicNotExistError:
                continue
            brokers |= {b.master_addr for b in route.broker_datas if b.master_addr}
            with contextlib.suppress(TopicNotExistError):
                await self.admin.delete_topic(name, wait=0)
        if brokers:
            await self.state.delete_group(sorted(brokers), group)

    # --- publishing ------------------------------------------------------------------------

    async def send(self, topic: str, body: bytes, keys: list[str]) -> None:
        """Store one message in ``topic`` (created first if the broker does not know it)."""
        assert self._producer is not None, "pool not started"
        msg = Message(topic, body)
        if keys:
            msg.keys = keys
        try:
            await self._producer.send(msg)
        except TopicNotExistError:
            await self.ensure_topic(topic)
            await self._producer.send(msg)
        except RemotingError:
            # the broker may be back on another address: refresh the route, try once more
            with contextlib.suppress(RocketMQError):
                await self._producer.instance.update_topic_route(topic)
            await self._producer.send(msg)

    # --- exchanges and bindings ------------------------------------------------------------

    async def declare_exchange(self, exchange: str, exchange_type: str) -> None:
        if (exchange, exchange_type) in self._declared:
            return
        await self.state.declare_exchange(exchange, exchange_type)
        self._declared.add((exchange, exchange_type))
        self._types[exchange] = exchange_type

    async def exchange_type(self, exchange: str) -> str | None:
        found = self._types.get(exchange)
        if found is None:
            found = await self.state.exchange_type(exchange)
            if found is not None:
                self._types[exchange] = found
        return found

    async def bind(
        self, exchange: str, exchange_type: str, routing_key: str, pattern: str, queue: str
    ) -> None:
        await self.declare_exchange(exchange, exchange_type)
        await self.state.bind(exchange, routing_key, pattern, queue)
        self._tables.pop(exchange, None)

    async def unbind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        await self.state.unbind(exchange, routing_key, pattern, queue)
        self._tables.pop(exchange, None)

    async def unbind_queue(self, queue: str) -> None:
        await self.state.unbind_queue(queue)
        self._tables.clear()

    async def table(self, exchange: str, *, fresh: bool) -> list[Binding]:
        """``exchange``'s bindings, from the cache when younger than ``binding_ttl``."""
        now = time.monotonic()
        cached = self._tables.get(exchange)
        if not fresh and cached is not None and cached[0] > now:
            return cached[1]
        table = await self.state.table(exchange)
        self._tables[exchange] = (now + self.options.binding_ttl, table)
        return table

    # --- consumers -------------------------------------------------------------------------

    async def consumer(self, topic: str) -> SimpleConsumer:
        """The started consumer of ``topic``'s group (one more user)."""
        group = group_for_topic(topic, self.options.consumer_group_prefix)
        entry = self._consumers.get(group)
        if entry is not None:
            self._consumers[group] = (entry[0], entry[1] + 1)
            return entry[0]
        consumer = SimpleConsumer(
            group,
            list(self.namesrv),
            instance_name=self.instance_name,
            invisible_duration=self.options.invisible_time,
            await_duration=self.options.long_poll,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        )
        consumer.subscribe(topic)
        self._consumers[group] = (consumer, 1)
        try:
            await consumer.start()
        except BaseException:
            self._consumers.pop(group, None)
            raise
        return consumer

    async def release_consumer(self, consumer: SimpleConsumer) -> None:
        """One user fewer; the consumer shuts down with its last user."""
        entry = self._consumers.get(consumer.group)
        if entry is None or entry[0] is not consumer:
            return
        if entry[1] > 1:
            self._consumers[consumer.group] = (consumer, entry[1] - 1)
            return
        del self._consumers[consumer.group]
        await _quietly(consumer.shutdown())

    async def size(self, topic: str, group: str) -> int:
        """Messages of ``topic`` the group has not acknowledged yet (in-flight ones too)."""
        total = 0
        for name in (topic, pop_retry_topic(group, topic)):
            try:
                progress = await self.admin.consumer_progress(group, name)
            except RocketMQError as exc:
                log.debug("no progress of %s on %s: %s", group, name, exc)
                continue
            total += sum(max(q.broker_offset - max(q.consumer_offset, 0), 0)
                         for q in progress.queues)  # fmt: skip
        return total

    async def purge(self, topic: str) -> int:
        """Receive and acknowledge every visible message of ``topic``; returns the count."""
        consumer = await self.consumer(topic)
        count = 0
        try:
            while True:
                batch: list[MessageExt] = await consumer.receive(
                    PURGE_BATCH, PURGE_INVISIBLE, await_duration=0
                )
                if not batch:
                    return count
                await consumer.ack_batch(batch)
                count += len(batch)
        finally:
            await self.release_consumer(consumer)


async def _quietly(coro: Any) -> None:
    try:
        await coro
    except (RocketMQError, OSError) as exc:
        log.info("ignored while closing: %s", exc)
