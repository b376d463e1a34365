"""TopicRouteData, the answer to GET_ROUTEINFO_BY_TOPIC (reference §3.1), for every side.

The NameServer builds and encodes it; clients decode it and derive their queue lists from it
(:mod:`rmq_core.client.route`).

Encoding follows the Java NameServer: standard JSON (quoted keys, sorted maps, non-ASCII
escaped) when the request version is >= 401 (``VERSION_V4_9_4``) or the client asked for
``acceptStandardJsonOnly``; otherwise fastjson's default form, where the ``brokerAddrs`` keys
are bare numbers (``{0:"10.0.0.1:10911"}``). Decoding accepts both.

Invariants: broker id 0 (:data:`MASTER_ID`) is the master, ids >= 1 are slaves; ``perm`` is a
:mod:`rmq_core.common.perm` bit set; queue counts are non-negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.common.perm import PERM_READ, PERM_WRITE
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.fields import (
    BodyError,
    as_bool,
    as_int,
    as_list,
    as_map,
    as_opt_str,
    as_str,
    load_object,
    str_list,
)
from rmq_core.remoting.bodies.topic_config import TopicConfig

__all__ = [
    "MASTER_ID",
    "VERSION_V4_9_4",
    "BrokerData",
    "QueueData",
    "TopicRouteData",
    "decode_topic_route",
    "encode_topic_route",
]

MASTER_ID = 0
VERSION_V4_9_4 = 401
"""From this request version on, route data is answered in standard JSON."""


@dataclass(slots=True)
class QueueData:
    """The queues one broker group (broker name) hosts for a topic."""

    broker_name: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int
    topic_sys_flag: int = 0

    @property
    def readable(self) -> bool:
        """True when ``perm`` has the READ bit."""
        return bool(self.perm & PERM_READ)

    @property
    def writable(self) -> bool:
        """True when ``perm`` has the WRITE bit."""
        return bool(self.perm & PERM_WRITE)

    @classmethod
    def from_topic_config(cls, broker_name: str, config: TopicConfig) -> QueueData:
        """The queue data a broker's topic ``config`` announces."""
        return cls(
            broker_name=broker_name,
            read_queue_nums=config.read_queue_nums,
            write_queue_nums=config.write_queue_nums,
            perm=config.perm,
            topic_sys_flag=config.topic_sys_flag,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerName": self.broker_name,
            "perm": self.perm,
            "readQueueNums": self.read_queue_nums,
            "topicSysFlag": self.topic_sys_flag,
            "writeQueueNums": self.write_queue_nums,
        }

    @classmethod
    def from_json(cls, obj: object) -> QueueData:
        if not isinstance(obj, Mapping):
            raise BodyError("queue data must be an object")
        return cls(
            broker_name=as_str(obj, "brokerName"),
            read_queue_nums=as_int(obj, "readQueueNums"),
            write_queue_nums=as_int(obj, "writeQueueNums"),
            perm=as_int(obj, "perm"),
            topic_sys_flag=as_int(obj, "topicSysFlag", 0),
        )


@dataclass(slots=True)
class BrokerData:
    """A broker group: its cluster, name and ``broker id -> "ip:port"`` (0 = master).

    ``zone_name`` and ``enable_acting_master`` are 5.x additions; None / False when absent.
    """

    cluster: str
    broker_name: str
    broker_addrs: dict[int, str] = field(default_factory=dict)
    enable_acting_master: bool = False
    zone_name: str | None = None

    @property
    def master_addr(self) -> str | None:
        """The master's address, None when the group has no master now."""
        return self.broker_addrs.get(MASTER_ID)

    def select_addr(self) -> str | None:
        """The master's address, else the lowest-id slave's."""
        if MASTER_ID in self.broker_addrs:
            return self.broker_addrs[MASTER_ID]
        return self.broker_addrs[min(self.broker_addrs)] if self.broker_addrs else None

    def copy(self) -> BrokerData:
        """An independent copy (the address map is copied too)."""
        return BrokerData(
            cluster=self.cluster,
            broker_name=self.broker_name,
            broker_addrs=dict(self.broker_addrs),
            enable_acting_master=self.enable_acting_master,
            zone_name=self.zone_name,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object; ``brokerAddrs`` keeps int keys (the encoder decides their form)."""
        doc: dict[str, Any] = {
            "brokerAddrs": {i: self.broker_addrs[i] for i in sorted(self.broker_addrs)},
            "brokerName": self.broker_name,
            "cluster": self.cluster,
            "enableActingMaster": self.enable_acting_master,
        }
        if self.zone_name is not None:
            doc["zoneName"] = self.zone_name
        return doc

    @classmethod
    def from_json(cls, obj: object) -> BrokerData:
        """Read a BrokerData object (``brokerAddrs`` keys bare or quoted numbers)."""
        if not isinstance(obj, Mapping):
            raise BodyError("broker data must be an object")
        addrs: dict[int, str] = {}
        for key, addr in as_map(obj, "brokerAddrs").items():
            try:
                broker_id = int(key)
            except (TypeError, ValueError) as exc:
                raise BodyError(f"brokerAddrs key {key!r} is not a broker id") from exc
            if not isinstance(addr, str):
                raise BodyError(f"brokerAddrs[{broker_id}] must be an address string")
            addrs[broker_id] = addr
        return cls(
            cluster=as_str(obj, "cluster", ""),
            broker_name=as_str(obj, "brokerName"),
            broker_addrs=addrs,
            enable_acting_master=as_bool(obj, "enableActingMaster", False),
            zone_name=as_opt_str(obj, "zoneName"),
        )


@dataclass(slots=True)
class TopicRouteData:
    """A topic's route: its queue data and the broker groups hosting it.

    ``order_topic_conf`` (``"broker-a:4;broker-b:4"``) comes from the NameServer's ORDER_TOPIC
    KV config. ``topic_queue_mapping_by_broker`` holds static-topic mapping documents exactly
    as brokers sent them (decoded JSON), keyed by broker name; None when the topic has none.
    """

    queue_datas: list[QueueData] = field(default_factory=list)
    broker_datas: list[BrokerData] = field(default_factory=list)
    filter_server_table: dict[str, list[str]] = field(default_factory=dict)
    order_topic_conf: str | None = None
    topic_queue_mapping_by_broker: dict[str, Any] | None = None

    def broker(self, broker_name: str) -> BrokerData | None:
        """The broker group named ``broker_name``, None when the route has none."""
        for broker in self.broker_datas:
            if broker.broker_name == broker_name:
                return broker
        return None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "brokerDatas": [b.to_json() for b in self.broker_datas],
            "filterServerTable": {a: list(s) for a, s in self.filter_server_table.items()},
            "queueDatas": [q.to_json() for q in self.queue_datas],
        }
        if self.order_topic_conf is not None:
            doc["orderTopicConf"] = self.order_topic_conf
        if self.topic_queue_mapping_by_broker:
            doc["topicQueueMappingByBroker"] = self.topic_queue_mapping_by_broker
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[Any, Any]) -> TopicRouteData:
        servers: dict[str, list[str]] = {}
        for addr, lst in as_map(doc, "filterServerTable").items():
            if not isinstance(addr, str) or not isinstance(lst, list):
                raise BodyError("filterServerTable must map addresses to arrays")
            servers[addr] = str_list(lst, "filterServerTable")
        mapping = doc.get("topicQueueMappingByBroker")
        return cls(
            queue_datas=[QueueData.from_json(q) for q in as_list(doc, "queueDatas")],
            broker_datas=[BrokerData.from_json(b) for b in as_list(doc, "brokerDatas")],
            filter_server_table=servers,
            order_topic_conf=as_opt_str(doc, "orderTopicConf") or None,
            topic_queue_mapping_by_broker=dict(mapping) if isinstance(mapping, Mapping) else None,
        )

    @classmethod
    def decode(cls, data: bytes) -> TopicRouteData:
        """:func:`decode_topic_route`."""
        return decode_topic_route(data)


def encode_topic_route(route: TopicRouteData, *, standard: bool) -> bytes:
    """Encode a route: standard JSON, or fastjson's form with bare ``brokerAddrs`` keys."""
    doc = route.to_json()
    if standard:
        return fastjson.dumps(doc, bare_non_string_keys=False, ensure_ascii=True)
    return fastjson.dumps(doc)


def decode_topic_route(data: bytes) -> TopicRouteData:
    """Parse a TopicRouteData body in either form; raises BodyError when malformed."""
    return TopicRouteData.from_json(load_object(data, "TopicRouteData"))
