"""``ClientInstance``: what the clients of one client id share (``MQClientInstance``).

One instance exists per (event loop, client id ``ip@instance[@unit]``). It owns the remoting
client (so every producer and consumer of the process shares one connection per broker), the
route cache, and the periodic work:
- route refresh from the NameServer(s) every ``poll_name_server_interval`` (30 s);
- heartbeats to every broker every ``heartbeat_broker_interval`` (30 s);
- rebalance of every consumer every ``rebalance_interval`` (20 s) and at once when a broker
  sends NOTIFY_CONSUMER_IDS_CHANGED;
- consumer offset persistence every ``persist_consumer_offset_interval`` (5 s).

Producers and consumers register under their group; the instance starts with the first and
shuts down (unregistering from every broker) when the last one leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, ClassVar, Protocol

from rmq_core.client.api import ClientAPI
from rmq_core.client.config import ClientConfig, ProducerConfig
from rmq_core.client.heartbeat import ConsumerData, build_heartbeat
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.route import MASTER_ID, BrokerData, TopicRouteData
from rmq_core.errors import ClientError, RocketMQError, TopicNotExistError
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode
from rmq_core.remoting.command import RemotingCommand

if TYPE_CHECKING:
    from rmq_core.client.producer import Producer

__all__ = ["CLIENT_INNER_PRODUCER_GROUP", "ClientInstance", "ConsumerHandle", "ProducerHandle"]

log = logging.getLogger(__name__)

CLIENT_INNER_PRODUCER_GROUP = "CLIENT_INNER_PRODUCER"


class ProducerHandle(Protocol):
    """What the instance needs of a registered producer."""

    @property
    def group(self) -> str: ...

    def topics_in_use(self) -> set[str]: ...

    def on_route_changed(self, topic: str, route: TopicRouteData) -> None: ...


class ConsumerHandle(Protocol):
    """What the instance needs of a registered consumer."""

    @property
    def group(self) -> str: ...

    def consumer_data(self) -> ConsumerData: ...

    def subscribed_topics(self) -> set[str]: ...

    def on_route_changed(self, topic: str, route: TopicRouteData) -> None: ...

    async def do_rebalance(self) -> None: ...

    async def persist_consumer_offset(self) -> None: ...


class ClientInstance:
    """Shared connections, routes, heartbeats and rebalance of one client id on one loop."""

    _registry: ClassVar[dict[tuple[int, str], ClientInstance]] = {}

    @classmethod
    def get_or_create(cls, config: ClientConfig) -> ClientInstance:
        """The instance of ``config``'s client id on the running loop (created on first use)."""
        loop = asyncio.get_running_loop()
        client_id = config.build_client_id()
        key = (id(loop), client_id)
        instance = cls._registry.get(key)
        if instance is None or instance._closed or instance._loop is not loop:
            instance = cls(client_id, config, loop)
            cls._registry[key] = instance
        return instance

    def __init__(
        self, client_id: str, config: ClientConfig, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.client_id = client_id
        self.config = config
        self._loop = loop
        self.remoting = RemotingClient()
        self.api = ClientAPI(
            self.remoting, config.namesrv_addresses(), timeout=config.mq_client_api_timeout
        )
        self.producers: dict[str, ProducerHandle] = {}
        self.consumers: dict[str, ConsumerHandle] = {}
        self.route_table: dict[str, TopicRouteData] = {}
        self.broker_addr_table: dict[str, dict[int, str]] = {}
        self.broker_version_table: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._rebalance_event = asyncio.Event()
        self._route_lock = asyncio.Lock()
        self._heartbeat_lock = asyncio.Lock()
        self._rebalance_lock = asyncio.Lock()
        self._started = False
        self._closed = False
        self._inner_producer: Producer | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic tasks (idempotent)."""
        if self._started:
            return
        self._started = True
        self.remoting.register_processor(
            RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, self._on_consumer_ids_changed
        )
        cfg = self.config
        self._spawn(self._every(cfg.poll_name_server_interval, self.update_all_routes))
        self._spawn(self._every(cfg.heartbeat_broker_interval, self.send_heartbeat_to_all))
        self._spawn(self._every(cfg.persist_consumer_offset_interval, self._persist_all))
        self._spawn(self._rebalance_loop())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: background task failed: %r", self.client_id, task.exception())

    async def _every(self, interval: float, action: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await action()
            except RocketMQError as exc:
                log.warning("%s: periodic %s failed: %s", self.client_id, action.__name__, exc)
            except Exception:
                log.exception("%s: periodic %s crashed", self.client_id, action.__name__)

    async def _rebalance_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._rebalance_event.wait(), timeout=self.config.rebalance_interval
                )
            self._rebalance_event.clear()
            try:
                await self.do_rebalance()
            except Exception:
                log.exception("%s: rebalance crashed", self.client_id)

    async def _maybe_shutdown(self) -> None:
        if self._closed or self.consumers:
            return
        if any(group != CLIENT_INNER_PRODUCER_GROUP for group in self.producers):
            return
        if self._inner_producer is not None:
            inner, self._inner_producer = self._inner_producer, None
            await inner.shutdown()  # its unregister calls back here and closes the instance
            return
        if self.producers:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.remoting.close()
        self._registry.pop((id(self._loop), self.client_id), None)

    @property
    def closed(self) -> bool:
        """True once the last client left and the instance shut down."""
        return self._closed

    # --- registration ----------------------------------------------------------------------

    def register_producer(self, producer: ProducerHandle) -> None:
        if producer.group in self.producers:
            raise ClientError(
                f"producer group {producer.group} is already registered in client "
                f"{self.client_id}; give the second producer another instance_name"
            )
        self.producers[producer.group] = producer

    def register_consumer(self, consumer: ConsumerHandle) -> None:
        if consumer.group in self.consumers:
            raise ClientError(
                f"consumer group {consumer.group} is already registered in client "
                f"{self.client_id}; give the second consumer another instance_name"
            )
        self.consumers[consumer.group] = consumer

    async def unregister_producer(self, group: str) -> None:
        """Forget ``group``, tell the brokers, and close the instance if it was the last."""
        if self.producers.pop(group, None) is not None:
            await self._unregister_client(producer_group=group)
        await self._maybe_shutdown()

    async def unregister_consumer(self, group: str) -> None:
        if self.consumers.pop(group, None) is not None:
            await self._unregister_client(consumer_group=group)
        await self._maybe_shutdown()

    async def _unregister_client(
        self, producer_group: str | None = None, consumer_group: str | None = None
    ) -> None:
        for name, addrs in list(self.broker_addr_table.items()):
            for addr in addrs.values():
                try:
                    await self.api.unregister_client(
                        addr, self.client_id, producer_group, consumer_group
                    )
                except RocketMQError as exc:
                    log.info("unregister %s from broker %s failed: %s", self.client_id, name, exc)

    async def inner_producer(self) -> Producer:
        """The instance's internal producer (``CLIENT_INNER_PRODUCER``) used for send-back."""
        if self._inner_producer is None:
            from rmq_core.client.producer import Producer

            producer = Producer(CLIENT_INNER_PRODUCER_GROUP, config=_inner_config(self.config))
            await producer.start()
            self._inner_producer = producer
        return self._inner_producer

    # --- routes ----------------------------------------------------------------------------

    async def update_topic_route(self, topic: str) -> TopicRouteData | None:
        """Fetch ``topic``'s route and hand it to every interested client.

        Returns the route, or None when the NameServer knows no such topic. Transport errors
        propagate (callers decide whether a stale route will do).
        """
        try:
            route = await self.api.get_topic_route(topic)
        except TopicNotExistError:
            return None
        self._apply_route(topic, route)
        return route

    def _apply_route(self, topic: str, route: TopicRouteData) -> None:
        self.route_table[topic] = route
        self.learn_brokers(route.broker_datas)
        for producer in list(self.producers.values()):
            if topic in producer.topics_in_use():
                producer.on_route_changed(topic, route)
        for consumer in list(self.consumers.values()):
            if topic in consumer.subscribed_topics():
                consumer.on_route_changed(topic, route)

    def learn_brokers(self, brokers: Iterable[BrokerData]) -> bool:
        """Record the addresses of ``brokers`` (from any route, TBW102's included).

        When a broker is new or its addresses changed, a heartbeat to every broker is
        started at once, so the broker knows this client's producers (transaction checks)
        and consumers (rebalance) without waiting for ``heartbeat_broker_interval``.
        Returns True when something changed.
        """
        changed = False
        for broker in brokers:
            addrs = dict(broker.broker_addrs)
            if self.broker_addr_table.get(broker.broker_name) != addrs:
                self.broker_addr_table[broker.broker_name] = addrs
                changed = True
        if changed and self._started and not self._closed:
            self._spawn(self.send_heartbeat_to_all())  # introduce ourselves to new brokers
        return changed

    async def update_all_routes(self) -> None:
        """Refresh the route of every topic a producer or consumer of this client uses."""
        topics: set[str] = set()
        for producer in list(self.producers.values()):
            topics |= producer.topics_in_use()
        for consumer in list(self.consumers.values()):
            topics |= consumer.subscribed_topics()
        async with self._route_lock:
            for topic in sorted(topics):
                try:
                    await self.update_topic_route(topic)
                except RocketMQError as exc:
                    log.warning("route refresh of topic %s failed: %s", topic, exc)

    def find_broker_addr_in_publish(self, broker_name: str) -> str | None:
        """The master address of ``broker_name`` (sends go to masters only)."""
        return self.broker_addr_table.get(broker_name, {}).get(MASTER_ID)

    def find_broker_addr_in_subscribe(
        self, broker_name: str, broker_id: int = MASTER_ID
    ) -> str | None:
        """The address of ``broker_id`` in ``broker_name``, else of any member."""
        addrs = self.broker_addr_table.get(broker_name)
        if not addrs:
            return None
        if broker_id in addrs:
            return addrs[broker_id]
        return addrs[min(addrs)]

    async def find_broker_addr_for_mq(self, mq: MessageQueue) -> str:
        """An address for ``mq``'s broker, refreshing the route once when unknown."""
        addr = self.find_broker_addr_in_subscribe(mq.broker_name)
        if addr is None:
            await self.update_topic_route(mq.topic)
            addr = self.find_broker_addr_in_subscribe(mq.broker_name)
        if addr is None:
            raise ClientError(f"broker {mq.broker_name} of topic {mq.topic} has no address")
        return addr

    async def find_consumer_id_list(self, topic: str, group: str) -> list[str]:
        """Client ids of ``group`` as seen by one broker hosting ``topic``."""
        route = self.route_table.get(topic) or await self.update_topic_route(topic)
        if route is None or not route.broker_datas:
            return []
        broker = random.choice(route.broker_datas)
        addr = broker.select_addr()
        if addr is None:
            return []
        return await self.api.get_consumer_id_list(addr, group)

    # --- heartbeats and rebalance ----------------------------------------------------------

    async def send_heartbeat_to_all(self) -> None:
        """One heartbeat to every known broker (masters only when there is no consumer)."""
        if not self.producers and not self.consumers:
            return
        body = build_heartbeat(
            self.client_id,
            list(self.producers),
            [consumer.consumer_data() for consumer in list(self.consumers.values())],
        )
        async with self._heartbeat_lock:
            for name, addrs in list(self.broker_addr_table.items()):
                for broker_id, addr in list(addrs.items()):
                    if broker_id != MASTER_ID and not self.consumers:
                        continue
                    try:
                        version = await self.api.send_heartbeat(addr, body)
                    except RocketMQError as exc:
                        log.info("heartbeat to broker %s (%s) failed: %s", name, addr, exc)
                        continue
                    self.broker_version_table[addr] = version

    def rebalance_immediately(self) -> None:
        """Wake the rebalance task now (as on NOTIFY_CONSUMER_IDS_CHANGED)."""
        self._rebalance_event.set()

    async def do_rebalance(self) -> None:
        async with self._rebalance_lock:
            for consumer in list(self.consumers.values()):
                try:
                    await consumer.do_rebalance()
                except RocketMQError as exc:
                    log.warning("rebalance of group %s failed: %s", consumer.group, exc)

    async def _persist_all(self) -> None:
        for consumer in list(self.consumers.values()):
            await consumer.persist_consumer_offset()

    async def _on_consumer_ids_changed(
        self, request: RemotingCommand, connection: object
    ) -> RemotingCommand | None:
        group = request.ext_fields.get("consumerGroup", "")
        log.info("%s: consumer ids of group %s changed; rebalancing", self.client_id, group)
        self.rebalance_immediately()
        return None


def _inner_config(config: ClientConfig) -> ProducerConfig:
    """A ProducerConfig sharing ``config``'s client identity and intervals."""
    shared = {f.name: getattr(config, f.name) for f in fields(ClientConfig)}
    return ProducerConfig(producer_group=CLIENT_INNER_PRODUCER_GROUP, **shared)
