"""The NameServer's data model: topic configs, queue and broker data, route and cluster views.

These are the Python shapes of RocketMQ's ``TopicConfig``, ``QueueData``, ``BrokerData``,
``TopicRouteData``, ``ClusterInfo`` and ``DataVersion`` (reference §3.1, §3.2, §3.4). They are
plain data; :mod:`rmq_core.namesrv.bodies` turns them into and out of JSON bodies and
:mod:`rmq_core.namesrv.route_info` keeps the live tables.

Invariants:
- broker id 0 is the master (``MASTER_ID``), ids >= 1 are slaves;
- ``perm`` is a :class:`PermName` bit set (READ 4, WRITE 2, INHERIT 1);
- queue counts are non-negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MASTER_ID",
    "BrokerData",
    "ClusterInfo",
    "DataVersion",
    "PermName",
    "QueueData",
    "RegisterBrokerBody",
    "TopicConfig",
    "TopicRouteData",
]

MASTER_ID = 0


class PermName:
    """Permission bits of a topic or broker (``PermName.java``)."""

    PERM_PRIORITY = 8
    PERM_READ = 4
    PERM_WRITE = 2
    PERM_INHERIT = 1

    @staticmethod
    def is_readable(perm: int) -> bool:
        """True when ``perm`` has the READ bit."""
        return bool(perm & PermName.PERM_READ)

    @staticmethod
    def is_writeable(perm: int) -> bool:
        """True when ``perm`` has the WRITE bit."""
        return bool(perm & PermName.PERM_WRITE)


@dataclass(slots=True, frozen=True)
class DataVersion:
    """Version of a broker's topic table: compared as (state_version, counter, timestamp).

    ``timestamp`` is in milliseconds since the epoch, as on the wire.
    """

    counter: int = 0
    state_version: int = 0
    timestamp: int = 0


@dataclass(slots=True)
class TopicConfig:
    """One topic as a broker reports it (``TopicConfig.java``); defaults are RocketMQ's."""

    topic_name: str
    read_queue_nums: int = 16
    write_queue_nums: int = 16
    perm: int = PermName.PERM_READ | PermName.PERM_WRITE
    topic_filter_type: str = "SINGLE_TAG"
    topic_sys_flag: int = 0
    order: bool = False
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class QueueData:
    """The queues one broker name holds for a topic."""

    broker_name: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int
    topic_sys_flag: int = 0

    @classmethod
    def from_topic_config(cls, broker_name: str, config: TopicConfig) -> QueueData:
        """The queue data a broker's ``config`` announces."""
        return cls(
            broker_name=broker_name,
            read_queue_nums=config.read_queue_nums,
            write_queue_nums=config.write_queue_nums,
            perm=config.perm,
            topic_sys_flag=config.topic_sys_flag,
        )


@dataclass(slots=True)
class BrokerData:
    """A broker group (one broker name): its cluster and ``broker id -> "ip:port"``."""

    cluster: str
    broker_name: str
    broker_addrs: dict[int, str] = field(default_factory=dict)
    enable_acting_master: bool = False
    zone_name: str | None = None

    def copy(self) -> BrokerData:
        """An independent copy (the address map is copied too)."""
        return BrokerData(
            cluster=self.cluster,
            broker_name=self.broker_name,
            broker_addrs=dict(self.broker_addrs),
            enable_acting_master=self.enable_acting_master,
            zone_name=self.zone_name,
        )


@dataclass(slots=True)
class TopicRouteData:
    """The answer to GET_ROUTEINFO_BY_TOPIC (reference §3.1).

    ``topic_queue_mapping_by_broker`` holds static-topic mapping documents exactly as brokers
    sent them (decoded JSON), keyed by broker name; None when the topic has none.
    """

    queue_datas: list[QueueData] = field(default_factory=list)
    broker_datas: list[BrokerData] = field(default_factory=list)
    filter_server_table: dict[str, list[str]] = field(default_factory=dict)
    order_topic_conf: str | None = None
    topic_queue_mapping_by_broker: dict[str, Any] | None = None


@dataclass(slots=True)
class ClusterInfo:
    """The answer to GET_BROKER_CLUSTER_INFO: broker groups and cluster membership."""

    broker_addr_table: dict[str, BrokerData] = field(default_factory=dict)
    cluster_addr_table: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class RegisterBrokerBody:
    """The body of REGISTER_BROKER (reference §3.4), whichever form it arrived in.

    ``topic_queue_mapping_info_map`` maps topic -> the broker's static-topic mapping document
    (decoded JSON, kept opaque).
    """

    data_version: DataVersion = field(default_factory=DataVersion)
    topic_config_table: dict[str, TopicConfig] = field(default_factory=dict)
    filter_server_list: list[str] = field(default_factory=list)
    topic_queue_mapping_info_map: dict[str, Any] = field(default_factory=dict)
