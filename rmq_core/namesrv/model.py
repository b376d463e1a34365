"""The NameServer's data model, as defined once in :mod:`rmq_core.remoting.bodies`.

``TopicConfig``, ``QueueData``, ``BrokerData``, ``TopicRouteData``, ``ClusterInfo``,
``DataVersion`` and ``RegisterBrokerBody`` (reference §3.1, §3.2, §3.4) are shared with the
broker and the clients; this module names the ones the NameServer works with.
:mod:`rmq_core.namesrv.route_info` keeps the live tables.
"""

from __future__ import annotations

from rmq_core.remoting.bodies.cluster import ClusterInfo
from rmq_core.remoting.bodies.data_version import DataVersion
from rmq_core.remoting.bodies.register_broker import RegisterBrokerBody
from rmq_core.remoting.bodies.route import MASTER_ID, BrokerData, QueueData, TopicRouteData
from rmq_core.remoting.bodies.topic_config import TopicConfig

__all__ = [
    "MASTER_ID",
    "BrokerData",
    "ClusterInfo",
    "DataVersion",
    "QueueData",
    "RegisterBrokerBody",
    "TopicConfig",
    "TopicRouteData",
]
