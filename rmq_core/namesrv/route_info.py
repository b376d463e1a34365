"""The NameServer's routing tables: pure state, no I/O, clock injected.

Mirrors RocketMQ's ``RouteInfoManager`` (reference §3.4 "NameServer rules"):

- ``topic -> broker name -> QueueData``: which broker groups hold which queues of a topic;
- ``broker name -> BrokerData``: the cluster of a group and its ``broker id -> address`` map;
- ``cluster -> {broker names}``;
- ``(cluster, broker address) -> BrokerLiveInfo``: when the broker last registered, its
  heartbeat timeout, the DataVersion of its topic table, its HA address and its connection.

Rules kept from RocketMQ:
- a registration updates topic queues only when it comes from the master (id 0) or, for a
  broker group in acting-master mode, from the lowest-id slave; and only for topics whose
  broker DataVersion changed or that this NameServer has not seen from that group;
- one address has one id within a group: re-registering an address under another id replaces
  the old entry (slave promoted to master);
- a broker that has not re-registered within its timeout (120 s unless it said otherwise) is
  dropped by :meth:`RouteInfoManager.scan_not_active_brokers`; one whose connection closed is
  dropped by :meth:`RouteInfoManager.on_channel_closed`; a group with no address left leaves
  its cluster and every topic route.

Times are seconds from the injected ``clock`` (``time.monotonic`` by default). Every method
is meant to be called from one thread (the server's event loop); there is no locking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rmq_core.common.perm import PERM_READ, PERM_WRITE
from rmq_core.namesrv.model import (
    MASTER_ID,
    BrokerData,
    ClusterInfo,
    DataVersion,
    QueueData,
    RegisterBrokerBody,
    TopicRouteData,
)

__all__ = [
    "DEFAULT_BROKER_TIMEOUT",
    "BrokerAddrInfo",
    "BrokerLiveInfo",
    "BrokerRegistration",
    "RegisterBrokerResult",
    "RouteInfoManager",
]

logger = logging.getLogger(__name__)

DEFAULT_BROKER_TIMEOUT = 120.0
"""Seconds a broker stays routable without re-registering (``BROKER_CHANNEL_EXPIRED_TIME``)."""


@dataclass(slots=True, frozen=True)
class BrokerAddrInfo:
    """Identity of one broker process as the NameServer tracks its liveness."""

    cluster_name: str
    broker_addr: str


@dataclass(slots=True)
class BrokerLiveInfo:
    """Liveness of one broker: ``last_update`` and ``timeout`` in seconds of the clock."""

    last_update: float
    timeout: float
    data_version: DataVersion
    channel: Hashable | None
    ha_server_addr: str | None

    def expired(self, now: float) -> bool:
        """True once ``now`` is past ``last_update + timeout``."""
        return self.last_update + self.timeout < now


@dataclass(slots=True)
class BrokerRegistration:
    """Everything a REGISTER_BROKER request says about a broker.

    ``body`` is None when the request had no body (the broker's DataVersion then counts as
    all zeros). ``timeout`` is the broker's heartbeat timeout in seconds (None: the default).
    ``enable_acting_master`` is None for brokers too old to send it. ``channel`` is any
    hashable identifying the broker's connection (used by :meth:`on_channel_closed`).
    """

    cluster_name: str
    broker_addr: str
    broker_name: str
    broker_id: int
    ha_server_addr: str | None = None
    body: RegisterBrokerBody | None = None
    channel: Hashable | None = None
    timeout: float | None = None
    enable_acting_master: bool | None = None
    zone_name: str | None = None


@dataclass(slots=True, frozen=True)
class RegisterBrokerResult:
    """What a slave learns from registering: its master's address and HA address."""

    ha_server_addr: str | None = None
    master_addr: str | None = None


@dataclass(slots=True)
class _Tables:
    topic_queue: dict[str, dict[str, QueueData]] = field(default_factory=dict)
    broker_addr: dict[str, BrokerData] = field(default_factory=dict)
    cluster_addr: dict[str, set[str]] = field(default_factory=dict)
    broker_live: dict[BrokerAddrInfo, BrokerLiveInfo] = field(default_factory=dict)
    filter_server: dict[BrokerAddrInfo, list[str]] = field(default_factory=dict)
    topic_queue_mapping: dict[str, dict[str, Any]] = field(default_factory=dict)


class RouteInfoManager:
    """The routing tables of one NameServer.

    ``clock`` returns seconds (monotonic by default); methods taking ``now`` use it when
    ``now`` is None. ``delete_topic_with_broker_registration`` makes a master's registration
    also drop topics it no longer lists (RocketMQ's ``deleteTopicWithBrokerRegistration``).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        default_timeout: float = DEFAULT_BROKER_TIMEOUT,
        delete_topic_with_broker_registration: bool = False,
    ) -> None:
        self._clock = clock
        self._default_timeout = default_timeout
        self._delete_topic_with_registration = delete_topic_with_broker_registration
        self._t = _Tables()

    # ------------------------------------------------------------------ registration

    def register_broker(
        self, reg: BrokerRegistration, now: float | None = None
    ) -> RegisterBrokerResult:
        """Record a broker's registration (REGISTER_BROKER).

        Returns the master's addresses for a slave (empty result for a master). A
        registration whose DataVersion state version is older than that of the address
        currently holding the same id is ignored (empty result). Unlike RocketMQ 5.x, a first
        registration listing a single topic is accepted: a small broker may have just one.
        """
        now = self._clock() if now is None else now
        body = reg.body if reg.body is not None else RegisterBrokerBody()
        t = self._t
        existing = t.broker_addr.get(reg.broker_name)
        current = {} if existing is None else existing.broker_addrs
        if self._older_than_current_holder(reg, current.get(reg.broker_id), body.data_version):
            t.broker_live.pop(BrokerAddrInfo(reg.cluster_name, reg.broker_addr), None)
            return RegisterBrokerResult()

        t.cluster_addr.setdefault(reg.cluster_name, set()).add(reg.broker_name)
        register_first = existing is None
        broker_data = existing
        if broker_data is None:
            broker_data = BrokerData(cluster=reg.cluster_name, broker_name=reg.broker_name)
            t.broker_addr[reg.broker_name] = broker_data
        old_version_broker = reg.enable_acting_master is None
        broker_data.enable_acting_master = bool(reg.enable_acting_master)
        broker_data.zone_name = reg.zone_name
        addrs = broker_data.broker_addrs
        for other_id in [
            i for i, a in addrs.items() if a == reg.broker_addr and i != reg.broker_id
        ]:
            del addrs[other_id]

        old_addr = addrs.get(reg.broker_id)
        addrs[reg.broker_id] = reg.broker_addr
        register_first = register_first or not old_addr
        is_master = reg.broker_id == MASTER_ID
        is_prime_slave = not old_version_broker and not is_master and reg.broker_id == min(addrs)
        if reg.body is not None and (is_master or is_prime_slave):
            self._update_topics(reg, broker_data, body, register_first, is_prime_slave)

        info = BrokerAddrInfo(reg.cluster_name, reg.broker_addr)
        previous = t.broker_live.get(info)
        t.broker_live[info] = BrokerLiveInfo(
            last_update=now,
            timeout=self._default_timeout if reg.timeout is None else reg.timeout,
            data_version=body.data_version,
            channel=reg.channel,
            ha_server_addr=reg.ha_server_addr,
        )
        if previous is None:
            logger.info("new broker registered: %s (HA %s)", info, reg.ha_server_addr)
        if reg.body is not None:
            if body.filter_server_list:
                t.filter_server[info] = list(body.filter_server_list)
            else:
                t.filter_server.pop(info, None)
        return self._master_of(reg, broker_data)

    def _older_than_current_holder(
        self, reg: BrokerRegistration, holder: str | None, version: DataVersion
    ) -> bool:
        if holder is None or holder == reg.broker_addr:
            return False
        holder_info = self._t.broker_live.get(BrokerAddrInfo(reg.cluster_name, holder))
        if holder_info is None:
            return False
        if holder_info.data_version.state_version > version.state_version:
            logger.warning(
                "ignoring registration of %s: %s holds id %d with a newer state version",
                reg.broker_addr,
                holder,
                reg.broker_id,
            )
            return True
        return False

    def _update_topics(
        self,
        reg: BrokerRegistration,
        broker_data: BrokerData,
        body: RegisterBrokerBody,
        register_first: bool,
        is_prime_slave: bool,
    ) -> None:
        t = self._t
        table = body.topic_config_table
        if self._delete_topic_with_registration and not body.topic_queue_mapping_info_map:
            for topic in self._topics_of_broker(reg.broker_name) - table.keys():
                self._remove_queue_data(topic, reg.broker_name)
        version_changed = self.is_broker_topic_config_changed(
            reg.cluster_name, reg.broker_addr, body.data_version
        )
        for topic, config in table.items():
            known = reg.broker_name in t.topic_queue.get(topic, {})
            if not (register_first or version_changed or not known):
                continue
            queue_data = QueueData.from_topic_config(reg.broker_name, config)
            if is_prime_slave and broker_data.enable_acting_master:
                queue_data.perm &= ~PERM_WRITE
            t.topic_queue.setdefault(topic, {})[reg.broker_name] = queue_data
        if version_changed or register_first:
            for topic, mapping in body.topic_queue_mapping_info_map.items():
                bname = mapping.get("bname") if isinstance(mapping, dict) else None
                key = bname if isinstance(bname, str) else reg.broker_name
                t.topic_queue_mapping.setdefault(topic, {})[key] = mapping

    def _master_of(self, reg: BrokerRegistration, broker_data: BrokerData) -> RegisterBrokerResult:
        if reg.broker_id == MASTER_ID:
            return RegisterBrokerResult()
        master_addr = broker_data.broker_addrs.get(MASTER_ID)
        if master_addr is None:
            return RegisterBrokerResult()
        master_live = self._t.broker_live.get(BrokerAddrInfo(reg.cluster_name, master_addr))
        if master_live is None:
            return RegisterBrokerResult()
        return RegisterBrokerResult(
            ha_server_addr=master_live.ha_server_addr, master_addr=master_addr
        )

    def unregister_broker(
        self, cluster_name: str, broker_addr: str, broker_name: str, broker_id: int
    ) -> bool:
        """Remove one broker (UNREGISTER_BROKER). Returns True if it was known.

        ``broker_id`` is informational: the address is what is removed from the group.
        """
        t = self._t
        info = BrokerAddrInfo(cluster_name, broker_addr)
        known = t.broker_live.pop(info, None) is not None
        t.filter_server.pop(info, None)
        broker_data = t.broker_addr.get(broker_name)
        if broker_data is None:
            return known
        stale_ids = [i for i, a in broker_data.broker_addrs.items() if a == broker_addr]
        for i in stale_ids:
            del broker_data.broker_addrs[i]
        known = known or bool(stale_ids)
        logger.info("unregistered broker %s/%s id %d", broker_name, broker_addr, broker_id)
        if not broker_data.broker_addrs:
            del t.broker_addr[broker_name]
            names = t.cluster_addr.get(cluster_name)
            if names is not None:
                names.discard(broker_name)
                if not names:
                    del t.cluster_addr[cluster_name]
            for topic in self._topics_of_broker(broker_name):
                self._remove_queue_data(topic, broker_name)
        elif broker_data.enable_acting_master and MASTER_ID not in broker_data.broker_addrs:
            for topic in self._topics_of_broker(broker_name):
                t.topic_queue[topic][broker_name].perm &= ~PERM_WRITE
        return known

    # ------------------------------------------------------------------ liveness

    def update_broker_timestamp(
        self, cluster_name: str, broker_addr: str, now: float | None = None
    ) -> bool:
        """Mark a broker alive now (QUERY_DATA_VERSION, BROKER_HEARTBEAT). False if unknown."""
        live = self._t.broker_live.get(BrokerAddrInfo(cluster_name, broker_addr))
        if live is None:
            return False
        live.last_update = self._clock() if now is None else now
        return True

    def scan_not_active_brokers(self, now: float | None = None) -> list[BrokerLiveInfo]:
        """Drop every broker whose timeout has passed; return their live infos.

        The caller closes the returned ``channel`` of each, as RocketMQ does.
        """
        now = self._clock() if now is None else now
        expired = [(i, live) for i, live in self._t.broker_live.items() if live.expired(now)]
        for info, live in expired:
            logger.warning(
                "broker %s expired: no registration for %.1f s",
                info.broker_addr,
                now - live.last_update,
            )
            self._destroy(info)
        return [live for _, live in expired]

    def on_channel_closed(self, channel: Hashable) -> list[BrokerAddrInfo]:
        """Drop the brokers registered over ``channel`` (its connection closed)."""
        gone = [i for i, live in self._t.broker_live.items() if live.channel == channel]
        for info in gone:
            logger.info("broker %s connection closed; removing it", info.broker_addr)
            self._destroy(info)
        return gone

    def _destroy(self, info: BrokerAddrInfo) -> None:
        for broker_data in list(self._t.broker_addr.values()):
            if broker_data.cluster != info.cluster_name:
                continue
            for broker_id, addr in list(broker_data.broker_addrs.items()):
                if addr == info.broker_addr:
                    self.unregister_broker(
                        info.cluster_name, addr, broker_data.broker_name, broker_id
                    )
        self._t.broker_live.pop(info, None)
        self._t.filter_server.pop(info, None)

    def live_brokers(self) -> dict[BrokerAddrInfo, BrokerLiveInfo]:
        """A copy of the liveness table."""
        return dict(self._t.broker_live)

    # ------------------------------------------------------------------ data versions

    def query_broker_data_version(self, cluster_name: str, broker_addr: str) -> DataVersion | None:
        """The DataVersion of the broker's last registration, or None if unknown."""
        live = self._t.broker_live.get(BrokerAddrInfo(cluster_name, broker_addr))
        return None if live is None else live.data_version

    def is_broker_topic_config_changed(
        self, cluster_name: str, broker_addr: str, version: DataVersion
    ) -> bool:
        """True unless the broker's last registration carried exactly ``version``."""
        return self.query_broker_data_version(cluster_name, broker_addr) != version

    # ------------------------------------------------------------------ topics

    def pickup_topic_route(self, topic: str) -> TopicRouteData | None:
        """The route of ``topic``, or None when no live broker group holds it.

        Queue and broker datas are sorted by broker name; everything returned is a copy.
        """
        t = self._t
        queue_map = t.topic_queue.get(topic)
        if not queue_map:
            return None
        route = TopicRouteData()
        for broker_name in sorted(queue_map):
            q = queue_map[broker_name]
            route.queue_datas.append(
                QueueData(
                    q.broker_name, q.read_queue_nums, q.write_queue_nums, q.perm, q.topic_sys_flag
                )
            )
            broker_data = t.broker_addr.get(broker_name)
            if broker_data is None:
                continue
            route.broker_datas.append(broker_data.copy())
            for addr in broker_data.broker_addrs.values():
                servers = t.filter_server.get(BrokerAddrInfo(broker_data.cluster, addr))
                if servers:
                    route.filter_server_table[addr] = list(servers)
        if not route.broker_datas:
            return None
        mapping = t.topic_queue_mapping.get(topic)
        route.topic_queue_mapping_by_broker = dict(mapping) if mapping else None
        return route

    def register_topic(self, topic: str, queue_datas: Iterable[QueueData]) -> bool:
        """Set ``topic``'s queues on the given broker groups (REGISTER_TOPIC_IN_NAMESRV).

        Refused (False, nothing changed) when a queue data names an unknown broker group or
        the list is empty.
        """
        datas = list(queue_datas)
        if not datas:
            return False
        unknown = [q.broker_name for q in datas if q.broker_name not in self._t.broker_addr]
        if unknown:
            logger.warning("register topic %s names unknown brokers %s", topic, unknown)
            return False
        queue_map = self._t.topic_queue.setdefault(topic, {})
        for q in datas:
            queue_map[q.broker_name] = QueueData(
                q.broker_name, q.read_queue_nums, q.write_queue_nums, q.perm, q.topic_sys_flag
            )
        return True

    def delete_topic(self, topic: str, cluster_name: str | None = None) -> bool:
        """Forget ``topic`` (only its queues on ``cluster_name``'s groups when given)."""
        t = self._t
        if not cluster_name:
            t.topic_queue_mapping.pop(topic, None)
            return t.topic_queue.pop(topic, None) is not None
        removed = False
        for broker_name in t.cluster_addr.get(cluster_name, set()):
            removed = self._remove_queue_data(topic, broker_name) or removed
        return removed

    def all_topics(self) -> list[str]:
        """Every topic with a route, sorted."""
        return sorted(self._t.topic_queue)

    def topics_by_cluster(self, cluster_name: str) -> list[str]:
        """Topics with queues on any broker group of ``cluster_name``, sorted."""
        names = self._t.cluster_addr.get(cluster_name, set())
        return sorted(
            topic for topic, queues in self._t.topic_queue.items() if names & queues.keys()
        )

    def system_topics(self) -> tuple[list[str], str | None]:
        """GET_SYSTEM_TOPIC_LIST_FROM_NS: cluster and broker names, plus one broker address."""
        t = self._t
        topics: set[str] = set()
        broker_addr: str | None = None
        for cluster, names in t.cluster_addr.items():
            topics.add(cluster)
            topics.update(names)
        for name in sorted(t.broker_addr):
            addrs = t.broker_addr[name].broker_addrs
            if addrs:
                broker_addr = addrs[min(addrs)]
                break
        return sorted(topics), broker_addr

    def wipe_write_perm(self, broker_name: str) -> int:
        """Make every queue of ``broker_name`` read-only; returns how many topics changed."""
        count = 0
        for topic in self._topics_of_broker(broker_name):
            self._t.topic_queue[topic][broker_name].perm &= ~PERM_WRITE
            count += 1
        return count

    def add_write_perm(self, broker_name: str) -> int:
        """Make every queue of ``broker_name`` read-write; returns how many topics changed."""
        count = 0
        for topic in self._topics_of_broker(broker_name):
            self._t.topic_queue[topic][broker_name].perm = PERM_READ | PERM_WRITE
            count += 1
        return count

    def _topics_of_broker(self, broker_name: str) -> set[str]:
        return {topic for topic, queues in self._t.topic_queue.items() if broker_name in queues}

    def _remove_queue_data(self, topic: str, broker_name: str) -> bool:
        queues = self._t.topic_queue.get(topic)
        if queues is None or queues.pop(broker_name, None) is None:
            return False
        if not queues:
            del self._t.topic_queue[topic]
            self._t.topic_queue_mapping.pop(topic, None)
        return True

    # ------------------------------------------------------------------ clusters

    def cluster_info(self) -> ClusterInfo:
        """A copy of the broker-group and cluster tables (names sorted)."""
        t = self._t
        return ClusterInfo(
            broker_addr_table={n: t.broker_addr[n].copy() for n in sorted(t.broker_addr)},
            cluster_addr_table={c: sorted(t.cluster_addr[c]) for c in sorted(t.cluster_addr)},
        )

    def broker_data(self, broker_name: str) -> BrokerData | None:
        """A copy of one broker group, or None."""
        data = self._t.broker_addr.get(broker_name)
        return None if data is None else data.copy()
