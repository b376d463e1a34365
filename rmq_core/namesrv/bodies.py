"""JSON bodies of NameServer requests and responses (reference §1.9, §3).

The bodies the NameServer shares with brokers and clients (TopicRouteData, ClusterInfo,
DataVersion, RegisterBrokerBody) are defined in :mod:`rmq_core.remoting.bodies` and re-exported
here; this module adds the NameServer-only ones, TopicList and KVTable (string keys only, so
the standard and fastjson forms coincide).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rmq_core.remoting.bodies.cluster import decode_cluster_info, encode_cluster_info
from rmq_core.remoting.bodies.data_version import decode_data_version, encode_data_version
from rmq_core.remoting.bodies.fields import (
    BodyError,
    as_list,
    as_map,
    as_opt_str,
    dumps,
    load_object,
    str_list,
)
from rmq_core.remoting.bodies.register_broker import (
    MAX_INFLATED_BODY,
    VERSION_V3_0_11,
    VERSION_V5_0_0,
    decode_register_broker_body,
    encode_register_broker_body,
)
from rmq_core.remoting.bodies.route import VERSION_V4_9_4, decode_topic_route, encode_topic_route

__all__ = [
    "MAX_INFLATED_BODY",
    "VERSION_V3_0_11",
    "VERSION_V4_9_4",
    "VERSION_V5_0_0",
    "BodyError",
    "decode_cluster_info",
    "decode_data_version",
    "decode_kv_table",
    "decode_register_broker_body",
    "decode_topic_list",
    "decode_topic_route",
    "encode_cluster_info",
    "encode_data_version",
    "encode_kv_table",
    "encode_register_broker_body",
    "encode_topic_list",
    "encode_topic_route",
]


# ---------------------------------------------------------------------- TopicList, KVTable


def encode_topic_list(topics: list[str], broker_addr: str | None = None) -> bytes:
    """``{"topicList":[...]}`` plus ``brokerAddr`` when given."""
    doc: dict[str, Any] = {"topicList": list(topics)}
    if broker_addr is not None:
        doc["brokerAddr"] = broker_addr
    return dumps(doc)


def decode_topic_list(data: bytes) -> tuple[list[str], str | None]:
    """Parse a TopicList body into (topics, brokerAddr)."""
    doc = load_object(data, "TopicList")
    return str_list(as_list(doc, "topicList"), "topicList"), as_opt_str(doc, "brokerAddr")


def encode_kv_table(table: Mapping[str, str]) -> bytes:
    """``{"table":{"k":"v"}}``."""
    return dumps({"table": dict(table)})


def decode_kv_table(data: bytes) -> dict[str, str]:
    """Parse a KVTable body."""
    table = as_map(load_object(data, "KVTable"), "table")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise BodyError("KVTable must map strings to strings")
    return dict(table)
