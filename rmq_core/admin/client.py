"""``AdminClient``: basic topic and group administration (what ``mqadmin`` does first).

- create a topic on every master broker of a cluster (UPDATE_AND_CREATE_TOPIC; each broker
  then registers it with the NameServers) or on one broker address;
- delete a topic from its brokers (DELETE_TOPIC_IN_BROKER) and from every NameServer
  (DELETE_TOPIC_IN_NAMESRV);
- list topics, show a topic's route and the cluster layout;
- consumer progress: per queue the broker's max offset, the group's committed offset and the
  lag between them (GET_CONSUME_STATS on each broker);
- queues: min/max offset, search by store time, a group's committed offset (read and write)
  and plain pulls of an offset range that commit nothing (no consumer registers);
- groups: the subscription groups and stored consumer offsets of every master, deleting a
  group;
- the NameServers' KV configuration (PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE).

Queue calls go to the master of the queue's broker (any member when it has no master); broker
addresses come from the routes this client fetched, and a broker that fails to answer is
looked up again on the next call.

Errors are those of :mod:`rmq_core.errors`: ``TopicNotExistError`` for an unknown topic,
``RemotingConnectError`` when no NameServer or broker answers, ``ClientError`` for bad input.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rmq_core.client.api import ClientAPI
from rmq_core.client.config import parse_namesrv_addr
from rmq_core.client.consumer.common import post_process, pull_header
from rmq_core.client.heartbeat import SubscriptionData
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.results import PullResult, PullStatus
from rmq_core.client.route import MASTER_ID, TopicRouteData
from rmq_core.client.validators import check_group, check_topic
from rmq_core.common.perm import PERM_READ_WRITE
from rmq_core.errors import ClientError, RemotingError, RocketMQError, TopicNotExistError
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.cluster import ClusterInfo
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.headers import CreateTopicRequestHeader

__all__ = ["AdminClient", "ClusterInfo", "ConsumerProgress", "QueueProgress"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_QUEUE_NUMS = 8
DEFAULT_PERM = PERM_READ_WRITE
RETRY_PREFIX = "%RETRY%"
DEFAULT_ROUTE_WAIT = 10.0  # s to wait for a created/deleted topic's route to change
ROUTE_POLL_INTERVAL = 0.05  # s
DEFAULT_PULL_GROUP = "TOOLS_CONSUMER"
"""The consumer group :meth:`AdminClient.pull` names by default (RocketMQ's tools group)."""


@dataclass(frozen=True, slots=True)
class QueueProgress:
    """One queue of a group's progress; ``lag`` = ``broker_offset - consumer_offset``."""

    mq: MessageQueue
    broker_offset: int
    consumer_offset: int
    last_timestamp: int

    @property
    def lag(self) -> int:
        return max(self.broker_offset - max(self.consumer_offset, 0), 0)


@dataclass(frozen=True, slots=True)
class ConsumerProgress:
    """A group's progress over every queue it consumes, and its consume TPS."""

    group: str
    queues: list[QueueProgress] = field(default_factory=list)
    consume_tps: float = 0.0

    @property
    def total_lag(self) -> int:
        return sum(q.lag for q in self.queues)


class AdminClient:
    """An async admin client; ``async with AdminClient("127.0.0.1:9876") as admin``."""

    def __init__(
        self, namesrv_addr: str | Sequence[str] | None = None, *, timeout: float = 3.0
    ) -> None:
        addrs = parse_namesrv_addr(
            namesrv_addr
            if namesrv_addr is None or isinstance(namesrv_addr, str)
            else tuple(namesrv_addr)
        )
        if not addrs:
            raise ClientError("no NameServer address: pass one or set NAMESRV_ADDR")
        self.namesrv_addrs = addrs
        self._remoting: RemotingClient | None = None
        self._api: ClientAPI | None = None
        self.timeout = timeout
        self._broker_addrs: dict[str, dict[int, str]] = {}

    async def start(self) -> None:
        if self._api is None:
            self._remoting = RemotingClient()
            self._api = ClientAPI(self._remoting, self.namesrv_addrs, timeout=self.timeout)

    async def close(self) -> None:
        if self._remoting is not None:
            await self._remoting.close()
        self._remoting = None
        self._api = None

    async def __aenter__(self) -> AdminClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def api(self) -> ClientAPI:
        if self._api is None:
            raise ClientError("admin client is not started")
        return self._api

    # --- cluster and routes ----------------------------------------------------------------

    async def cluster_info(self) -> ClusterInfo:
        """The cluster layout: ``brokers`` by name, ``clusters`` -> sorted broker names."""
        info = await self.api.get_cluster_info()
        for names in info.cluster_addr_table.values():
            names.sort()
        return info

    async def topic_route(self, topic: str) -> TopicRouteData:
        """The route of ``topic``; TopicNotExistError when unknown."""
        route = await self.api.get_topic_route(topic)
        for broker in route.broker_datas:
            self._broker_addrs[broker.broker_name] = dict(broker.broker_addrs)
        return route

    async def broker_addr(self, mq: MessageQueue) -> str:
        """The address queue calls on ``mq`` go to: its broker's master, else any member.

        The route of ``mq.topic`` is fetched when the broker is unknown; ClientError when
        the broker has no address.
        """
        addrs = self._broker_addrs.get(mq.broker_name)
        if not addrs:
            await self.topic_route(mq.topic)
            addrs = self._broker_addrs.get(mq.broker_name)
        if not addrs:
            raise ClientError(f"broker {mq.broker_name} of {mq} has no address")
        return addrs.get(MASTER_ID) or addrs[min(addrs)]

    async def _on_queue(self, mq: MessageQueue, call: Callable[[str], Awaitable[T]]) -> T:
        """``call(address of mq's broker)``; a transport error forgets the address."""
        addr = await self.broker_addr(mq)
        try:
            return await call(addr)
        except RemotingError:
            self._broker_addrs.pop(mq.broker_name, None)
            raise

    async def list_topics(self) -> list[str]:
        return sorted(await self.api.get_all_topic_list())

    # --- topics ----------------------------------------------------------------------------

    async def create_topic(
        self,
        topic: str,
        *,
        cluster: str | None = None,
        broker_addr: str | None = None,
        read_queue_nums: int = DEFAULT_QUEUE_NUMS,
        write_queue_nums: int = DEFAULT_QUEUE_NUMS,
        perm: int = DEFAULT_PERM,
        order: bool = False,
        wait: float = DEFAULT_ROUTE_WAIT,
    ) -> list[str]:
        """Create or update ``topic`` on ``broker_addr`` or every master of ``cluster``
        (every master of every cluster when both are None); returns the broker addresses.

        Brokers register the topic with the NameServers asynchronously; this waits up to
        ``wait`` seconds for the route to show it (0: do not wait).
        """
        check_topic(topic)
        if read_queue_nums <= 0 or write_queue_nums <= 0:
            raise ClientError(f"topic {topic}: queue numbers must be positive")
        if broker_addr is not None:
            targets = [broker_addr]
        else:
            info = await self.cluster_info()
            if cluster is not None and cluster not in info.clusters:
                raise ClientError(f"cluster {cluster} is unknown to the NameServer")
            targets = info.master_addrs(cluster)
        if not targets:
            raise ClientError(f"no master broker to create topic {topic} on")
        header = CreateTopicRequestHeader(
            topic=topic,
            default_topic="TBW102",
            read_queue_nums=read_queue_nums,
            write_queue_nums=write_queue_nums,
            perm=perm,
            topic_filter_type="SINGLE_TAG",
            topic_sys_flag=0,
            order=order,
        )
        for addr in targets:
            await self.api.create_topic(addr, header)
        await self._wait_route(topic, present=True, timeout=wait)
        return targets

    async def _wait_route(self, topic: str, *, present: bool, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                await self.api.get_topic_route(topic)
                found = True
            except TopicNotExistError:
                found = False
            if found == present:
                return
            await asyncio.sleep(ROUTE_POLL_INTERVAL)
        if timeout > 0:
            log.warning(
                "route of topic %s did not %s within %.1f s",
                topic,
                "appear" if present else "disappear",
                timeout,
            )

    async def delete_topic(
        self, topic: str, *, cluster: str | None = None, wait: float = DEFAULT_ROUTE_WAIT
    ) -> None:
        """Delete ``topic`` from the masters hosting it (of ``cluster`` when given) and from
        every NameServer. TopicNotExistError when no broker hosts it."""
        check_topic(topic)
        try:
            route = await self.api.get_topic_route(topic)
            hosting = {b.broker_name for b in route.broker_datas}
        except TopicNotExistError:
            hosting = set()
        info = await self.cluster_info()
        names = set(info.clusters.get(cluster, [])) if cluster is not None else set(info.brokers)
        targets = [
            addr
            for name in sorted(names & hosting if hosting else names)
            if (addr := info.brokers[name].broker_addrs.get(MASTER_ID)) is not None
        ]
        if not hosting:
            raise TopicNotExistError(17, f"topic {topic} is not hosted by any broker")
        for addr in targets:
            await self.api.delete_topic_in_broker(addr, topic)
        for namesrv in self.namesrv_addrs:
            try:
                await self.api.delete_topic_in_namesrv(namesrv, topic, cluster)
            except RocketMQError as exc:
                log.warning("delete of topic %s on NameServer %s failed: %s", topic, namesrv, exc)
        await self._wait_route(topic, present=False, timeout=wait)

    # --- groups ----------------------------------------------------------------------------

    async def consumer_progress(self, group: str, topic: str | None = None) -> ConsumerProgress:
        """Per-queue broker offset, committed offset and lag of ``group`` (on ``topic``)."""
        check_group(group)
        addrs: set[str] = set()
        for name in (topic, RETRY_PREFIX + group):
            if name is None:
                continue
            try:
                route = await self.api.get_topic_route(name)
            except TopicNotExistError:
                continue
            addrs |= {b.master_addr for b in route.broker_datas if b.master_addr}
        if not addrs:
            addrs = set((await self.cluster_info()).master_addrs())
        queues: list[QueueProgress] = []
        tps = 0.0
        for addr in sorted(addrs):
            stats = await self.api.get_consume_stats(addr, group, topic)
            tps += float(stats.get("consumeTps", 0) or 0)
            queues.extend(_parse_offset_table(stats.get("offsetTable") or {}))
        queues.sort(key=lambda q: q.mq)
        if topic is not None:
            queues = [q for q in queues if q.mq.topic == topic]
        return ConsumerProgress(group, queues, tps)

    async def list_subscription_groups(self, *, broker_addr: str | None = None) -> list[str]:
        """Names of the subscription groups of ``broker_addr`` (every master when None),
        sorted, RocketMQ's built-in groups included."""
        groups: set[str] = set()
        for addr in await self._masters(broker_addr):
            groups.update(await self.api.get_all_subscription_group_config(addr))
        return sorted(groups)

    async def list_consumer_offsets(
        self, *, broker_addr: str | None = None
    ) -> dict[str, dict[MessageQueue, int]]:
        """Every stored consumer offset of ``broker_addr`` (every master when None):
        ``{group: {queue: offset}}``."""
        info = await self.cluster_info()
        names = {
            addr: name for name, data in info.brokers.items() for addr in data.broker_addrs.values()
        }
        out: dict[str, dict[MessageQueue, int]] = {}
        for addr in await self._masters(broker_addr, info):
            broker_name = names.get(addr, addr)
            for (topic, group), queues in (await self.api.get_all_consumer_offset(addr)).items():
                target = out.setdefault(group, {})
                for queue_id, offset in queues.items():
                    target[MessageQueue(topic, broker_name, queue_id)] = offset
        return out

    async def delete_subscription_group(
        self, group: str, *, broker_addr: str | None = None, clean_offset: bool = True
    ) -> None:
        """Delete ``group`` on ``broker_addr`` (every master when None), with its stored
        offsets unless ``clean_offset`` is False."""
        check_group(group)
        for addr in await self._masters(broker_addr):
            await self.api.delete_subscription_group(addr, group, clean_offset)

    async def _masters(self, broker_addr: str | None, info: ClusterInfo | None = None) -> list[str]:
        if broker_addr is not None:
            return [broker_addr]
        info = info or await self.cluster_info()
        return sorted(info.master_addrs())

    # --- queues ----------------------------------------------------------------------------

    async def min_offset(self, mq: MessageQueue) -> int:
        """The smallest offset ``mq`` still holds."""
        return await self._on_queue(mq, lambda addr: self.api.get_min_offset(addr, mq))

    async def max_offset(self, mq: MessageQueue) -> int:
        """The offset the next message of ``mq`` will get (its end, exclusive)."""
        return await self._on_queue(mq, lambda addr: self.api.get_max_offset(addr, mq))

    async def search_offset(self, mq: MessageQueue, timestamp: float) -> int:
        """The first offset of ``mq`` stored at or after ``timestamp`` (seconds since the
        epoch); the end offset when nothing is that recent."""
        millis = round(timestamp * 1000)
        return await self._on_queue(mq, lambda addr: self.api.search_offset(addr, mq, millis))

    async def consumer_offset(self, group: str, mq: MessageQueue) -> int | None:
        """``group``'s committed offset of ``mq``; None when it never stored one."""
        return await self._on_queue(
            mq,
            lambda addr: self.api.query_consumer_offset(
                addr, group, mq, set_zero_if_not_found=False
            ),
        )

    async def update_consumer_offset(self, group: str, mq: MessageQueue, offset: int) -> None:
        """Store ``offset`` as ``group``'s committed offset of ``mq`` (waits for the broker)."""
        if offset < 0:
            raise ClientError(f"offset of {mq} must be >= 0, got {offset}")
        await self._on_queue(
            mq, lambda addr: self.api.update_consumer_offset(addr, group, mq, offset, oneway=False)
        )

    async def pull(
        self,
        mq: MessageQueue,
        offset: int,
        max_nums: int,
        selector: str | MessageSelector | None = None,
        *,
        group: str = DEFAULT_PULL_GROUP,
    ) -> PullResult:
        """Up to ``max_nums`` messages of ``mq`` from ``offset`` on, without long polling and
        without committing anything (no consumer registers).

        ``selector`` is a tag expression or :class:`MessageSelector` (None: every message):
        the broker filters, then the exact tag check drops hash collisions, so a FOUND result
        may hold fewer messages than the range it covers. Go on from ``next_begin_offset``;
        ``min_offset``/``max_offset`` tell where the queue starts and ends. ``group`` names
        the consumer group the broker sees (its subscription group is created when the broker
        auto-creates groups).
        """
        if offset < 0 or max_nums < 1:
            raise ClientError(f"pull of {mq}: offset must be >= 0 and max_nums >= 1")
        check_group(group)
        subscription = SubscriptionData.build(mq.topic, selector)
        header = pull_header(
            group, mq, offset, max_nums, subscription, commit_offset=-1, suspend_ms=0
        )
        result = await self._on_queue(
            mq, lambda addr: self.api.pull_message(addr, header, self.timeout)
        )
        if result.status is PullStatus.FOUND:
            result.messages = post_process(result, subscription, group)
        return result

    # --- NameServer KV configuration -------------------------------------------------------

    async def put_kv_config(self, namespace: str, key: str, value: str) -> None:
        """Set ``namespace``/``key`` on every NameServer; raises only when none took it
        (the others are logged)."""
        await self._on_every_namesrv(
            lambda addr: self.api.put_kv_config(addr, namespace, key, value),
            f"put KV config {namespace}/{key}",
        )

    async def delete_kv_config(self, namespace: str, key: str) -> None:
        """Remove ``namespace``/``key`` from every NameServer (a missing key is no error);
        raises only when none answered."""
        await self._on_every_namesrv(
            lambda addr: self.api.delete_kv_config(addr, namespace, key),
            f"delete KV config {namespace}/{key}",
        )

    async def get_kv_config(self, namespace: str, key: str) -> str | None:
        """The value of ``namespace``/``key`` (from the first NameServer that answers)."""
        return await self.api.get_kv_config(namespace, key)

    async def get_kv_list(self, namespace: str) -> dict[str, str]:
        """Every key and value of ``namespace`` (empty when it has none)."""
        return await self.api.get_kv_list(namespace)

    async def _on_every_namesrv(self, call: Callable[[str], Awaitable[None]], context: str) -> None:
        errors: list[RocketMQError] = []
        for addr in self.namesrv_addrs:
            try:
                await call(addr)
            except RocketMQError as exc:
                errors.append(exc)
                log.warning("%s on NameServer %s failed: %s", context, addr, exc)
        if len(errors) == len(self.namesrv_addrs):
            raise errors[-1]


def _parse_offset_table(table: dict[Any, Any]) -> list[QueueProgress]:
    rows = []
    for key, wrapper in table.items():
        raw = key.value if isinstance(key, fastjson.FrozenKey) else fastjson.loads(str(key))
        rows.append(
            QueueProgress(
                MessageQueue.from_json(raw),
                int(wrapper.get("brokerOffset", 0)),
                int(wrapper.get("consumerOffset", -1)),
                int(wrapper.get("lastTimestamp", 0)),
            )
        )
    return rows
