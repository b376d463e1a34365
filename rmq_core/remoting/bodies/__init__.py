"""Typed JSON bodies of the remoting protocol, defined once for NameServer, broker and client.

- :mod:`.fields`: :class:`BodyError` and fastjson-lenient field readers;
- :mod:`.data_version`: ``DataVersion`` (QUERY_DATA_VERSION, inside REGISTER_BROKER);
- :mod:`.topic_config`: ``TopicConfig`` (JSON and the compressed text form);
- :mod:`.route`: ``TopicRouteData`` with ``QueueData``/``BrokerData`` (GET_ROUTEINFO_BY_TOPIC);
- :mod:`.cluster`: ``ClusterInfo`` (GET_BROKER_CLUSTER_INFO);
- :mod:`.register_broker`: ``RegisterBrokerBody`` (REGISTER_BROKER, JSON and compressed);
- :mod:`.heartbeat`: ``HeartbeatData`` (HEART_BEAT).

Each module states its wire layout. Decoders raise :class:`BodyError` (a
``RemoteProtocolError``) on malformed input and nothing else; encoders write what the Java
peers write.
"""

from rmq_core.remoting.bodies.cluster import ClusterInfo, decode_cluster_info, encode_cluster_info
from rmq_core.remoting.bodies.data_version import (
    DataVersion,
    decode_data_version,
    encode_data_version,
)
from rmq_core.remoting.bodies.fields import BodyError
from rmq_core.remoting.bodies.heartbeat import (
    ConsumerData,
    HeartbeatData,
    HeartbeatError,
    SubscriptionData,
    decode_heartbeat,
    encode_heartbeat,
)
from rmq_core.remoting.bodies.register_broker import (
    RegisterBrokerBody,
    decode_register_broker_body,
    encode_register_broker_body,
    register_body_from_wrapper,
)
from rmq_core.remoting.bodies.route import (
    MASTER_ID,
    BrokerData,
    QueueData,
    TopicRouteData,
    decode_topic_route,
    encode_topic_route,
)
from rmq_core.remoting.bodies.topic_config import TopicConfig

__all__ = [
    "MASTER_ID",
    "BodyError",
    "BrokerData",
    "ClusterInfo",
    "ConsumerData",
    "DataVersion",
    "HeartbeatData",
    "HeartbeatError",
    "QueueData",
    "RegisterBrokerBody",
    "SubscriptionData",
    "TopicConfig",
    "TopicRouteData",
    "decode_cluster_info",
    "decode_data_version",
    "decode_heartbeat",
    "decode_register_broker_body",
    "decode_topic_route",
    "encode_cluster_info",
    "encode_data_version",
    "encode_heartbeat",
    "encode_register_broker_body",
    "encode_topic_route",
    "register_body_from_wrapper",
]
