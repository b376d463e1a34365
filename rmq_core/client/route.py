"""Topic routes from the NameServer (reference §3.1) and the queue lists built from them.

``TopicRouteData`` (with ``QueueData`` and ``BrokerData``) is the shared wire model of
:mod:`rmq_core.remoting.bodies.route`, parsed from either JSON form the NameServer may send
(standard, or fastjson's bare numeric keys); it is re-exported here. From a route the client
builds:
- the publish list (:func:`publish_queues`): writable queues of brokers that have a master,
  brokers sorted by name, or the ``orderTopicConf`` list when present;
- the subscribe list (:func:`subscribe_queues`): every readable queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmq_core.client.message_queue import MessageQueue
from rmq_core.common.perm import PERM_INHERIT, PERM_READ, PERM_WRITE
from rmq_core.remoting.bodies.route import MASTER_ID, BrokerData, QueueData, TopicRouteData

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
