"""``AdminClient``: basic topic and group administration (what ``mqadmin`` does first).

- create a topic on every master broker of a cluster (UPDATE_AND_CREATE_TOPIC; each broker
  then registers it with the NameServers) or on one broker address;
- delete a topic from its brokers (DELETE_TOPIC_IN_BROKER) and from every NameServer
  (DELETE_TOPIC_IN_NAMESRV);
- list topics, show a topic's route and the cluster layout;
- consumer progress: per queue the broker's max offset, the group's committed offset and the
  lag between them (GET_CONSUME_STATS on each broker).

Errors are those of :mod:`rmq_core.errors`: ``TopicNotExistError`` for an unknown topic,
``RemotingConnectError`` when no NameServer or broker answers, ``ClientError`` for bad input.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rmq_core.client.api import ClientAPI
from rmq_core.client.config import parse_namesrv_addr
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.route import MASTER_ID, TopicRouteData
from rmq_core.client.validators import check_group, check_topic
from rmq_core.common.perm import PERM_READ_WRITE
from rmq_core.errors import ClientError, RocketMQError, TopicNotExistError
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.cluster import ClusterInfo
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.headers import CreateTopicRequestHeader

__all__ = ["AdminClient", "ClusterInfo", "ConsumerProgress", "QueueProgress"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE_NUMS = 8
DEFAULT_PERM = PERM_READ_WRITE
RETRY_PREFIX = "%RETRY%"
DEFAULT_ROUTE_WAIT = 10.0  # s to wait for a created/deleted topic's route to change
ROUTE_POLL_INTERVAL = 0.05  # s


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
        return await self.api.get_topic_route(topic)

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
