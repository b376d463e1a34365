"""Topic routes from the NameServer (reference §3.1) and the queue lists built from them.

``TopicRouteData`` is parsed from either JSON form the NameServer may send (standard, or
fastjson's bare numeric keys). From a route the client builds:
- the publish list (:func:`publish_queues`): writable queues of brokers that have a master,
  brokers sorted by name, or the ``orderTopicConf`` list when present;
- the subscribe list (:func:`subscribe_queues`): every readable queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.client.message_queue import MessageQueue
from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting import fastjson

__all__ = [
    "MASTER_ID",
    "PERM_INHERIT",
    "PERM_READ",
    "PERM_WRITE",
    "BrokerData",
    "QueueData",
    "TopicPublishInfo",
    "TopicRouteData",
    "publish_queues",
    "subscribe_queues",
]

MASTER_ID = 0
PERM_INHERIT = 1
PERM_WRITE = 2
PERM_READ = 4


@dataclass(frozen=True, slots=True)
class QueueData:
    """The queues one broker group hosts for a topic."""

    broker_name: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int
    topic_sys_flag: int = 0

    @property
    def writable(self) -> bool:
        return bool(self.perm & PERM_WRITE)

    @property
    def readable(self) -> bool:
        return bool(self.perm & PERM_READ)


@dataclass(frozen=True, slots=True)
class BrokerData:
    """A broker group: its cluster, name and ``broker id -> "ip:port"`` (0 = master)."""

    cluster: str
    broker_name: str
    broker_addrs: Mapping[int, str]

    @property
    def master_addr(self) -> str | None:
        return self.broker_addrs.get(MASTER_ID)

    def select_addr(self) -> str | None:
        """The master's address, else the lowest-id slave's."""
        if MASTER_ID in self.broker_addrs:
            return self.broker_addrs[MASTER_ID]
        return self.broker_addrs[min(self.broker_addrs)] if self.broker_addrs else None

    @classmethod
    def from_json(cls, data: Mapping[Any, Any]) -> BrokerData:
        addrs = {int(str(k)): str(v) for k, v in dict(data.get("brokerAddrs") or {}).items()}
        return cls(str(data.get("cluster", "")), str(data["brokerName"]), addrs)


@dataclass(frozen=True, slots=True)
class TopicRouteData:
    """A topic's route: its queue data and the broker groups hosting it."""

    queue_datas: tuple[QueueData, ...]
    broker_datas: tuple[BrokerData, ...]
    order_topic_conf: str | None = None
    filter_server_table: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def decode(cls, body: bytes) -> TopicRouteData:
        """Parse a GET_ROUTEINFO_BY_TOPIC body; raises RemoteProtocolError when malformed."""
        try:
            data = fastjson.loads(body)
            queue_datas = tuple(
                QueueData(
                    str(q["brokerName"]),
                    int(q.get("readQueueNums", 0)),
                    int(q.get("writeQueueNums", 0)),
                    int(q.get("perm", 0)),
                    int(q.get("topicSysFlag", 0)),
                )
                for q in data.get("queueDatas") or ()
            )
            broker_datas = tuple(BrokerData.from_json(b) for b in data.get("brokerDatas") or ())
            order = data.get("orderTopicConf")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RemoteProtocolError(f"malformed topic route data: {exc!r}") from exc
        return cls(queue_datas, broker_datas, str(order) if order else None)

    def broker(self, broker_name: str) -> BrokerData | None:
        for broker in self.broker_datas:
            if broker.broker_name == broker_name:
                return broker
        return None


@dataclass(frozen=True, slots=True)
class TopicPublishInfo:
    """What a producer needs to send to a topic: its publish list and route."""

    topic: str
    queues: tuple[MessageQueue, ...]
    route: TopicRouteData
    order_topic: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.queues)


def publish_queues(topic: str, route: TopicRouteData) -> TopicPublishInfo:
    """The publish list of ``route`` for ``topic`` (``MQClientInstance.topicRouteData2…``)."""
    if route.order_topic_conf:
        queues = [
            MessageQueue(topic, name, q)
            for name, _, nums in (
                part.partition(":") for part in route.order_topic_conf.split(";") if part
            )
            for q in range(int(nums))
        ]
        return TopicPublishInfo(topic, tuple(queues), route, order_topic=True)
    queues = []
    for qd in sorted(route.queue_datas, key=lambda q: q.broker_name):
        broker = route.broker(qd.broker_name)
        if not qd.writable or broker is None or broker.master_addr is None:
            continue
        queues.extend(MessageQueue(topic, qd.broker_name, q) for q in range(qd.write_queue_nums))
    return TopicPublishInfo(topic, tuple(queues), route)


def subscribe_queues(topic: str, route: TopicRouteData) -> list[MessageQueue]:
    """Every readable queue of ``route``, sorted (the ``mqAll`` of a rebalance)."""
    return sorted(
        MessageQueue(topic, qd.broker_name, q)
        for qd in route.queue_datas
        if qd.readable
        for q in range(qd.read_queue_nums)
    )
