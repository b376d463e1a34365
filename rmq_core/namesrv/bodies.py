"""JSON (and compressed) bodies of NameServer requests and responses (reference §1.9, §3).

Decoding is lenient the way fastjson is: map keys may be bare numbers, numbers may arrive as
numeric strings, unknown properties are ignored. Anything that still does not fit raises
:class:`BodyError` naming what is wrong; it never raises anything else on bad bytes.

Encoding mimics the Java NameServer:

- TopicRouteData: standard JSON (quoted keys, sorted maps, non-ASCII escaped) when the request
  version is >= 401 or ``acceptStandardJsonOnly``; otherwise fastjson's default, with
  ``brokerAddrs`` keys bare (``{0:"10.0.0.1:10911"}``);
- ClusterInfo: always fastjson's default (bare numeric keys);
- everything else has string keys only, so both forms coincide.

Compressed RegisterBrokerBody (header ``compressed=true``), zlib stream of big-endian ints and
UTF-8 strings::

    int len, DataVersion JSON
    int topicCount, topicCount x (int len, "name read write perm filterType [attributesJson]")
    int len, filterServerList JSON
    (broker version >= 413 only) int n, n x (int len, TopicQueueMappingInfo JSON)
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from rmq_core.errors import RemoteProtocolError
from rmq_core.namesrv.model import (
    BrokerData,
    ClusterInfo,
    DataVersion,
    QueueData,
    RegisterBrokerBody,
    TopicConfig,
    TopicRouteData,
)
from rmq_core.remoting import fastjson

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

VERSION_V3_0_11 = 37
"""Oldest broker version whose REGISTER_BROKER body is a RegisterBrokerBody (older: wrapper)."""
VERSION_V4_9_4 = 401
"""From this request version on, route data is answered in standard JSON."""
VERSION_V5_0_0 = 413
"""From this broker version on, the compressed body ends with static-topic mapping infos."""

MAX_INFLATED_BODY = 64 * 1024 * 1024
"""Upper bound (bytes) on an inflated compressed RegisterBrokerBody."""

_INT = struct.Struct(">i")


class BodyError(RemoteProtocolError):
    """A request body that is not the JSON (or compressed) document its code requires."""


# ---------------------------------------------------------------------- scalar coercion


def _as_int(obj: Mapping[Any, Any], key: str, default: int | None = None) -> int:
    value = obj.get(key)
    if value is None:
        if default is None:
            raise BodyError(f"missing number {key!r}")
        return default
    if isinstance(value, bool):
        raise BodyError(f"{key!r} must be a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise BodyError(f"{key!r} must be an integer, got {value!r}")


def _as_str(obj: Mapping[Any, Any], key: str, default: str | None = None) -> str:
    value = obj.get(key)
    if value is None:
        if default is None:
            raise BodyError(f"missing string {key!r}")
        return default
    if isinstance(value, str):
        return value
    raise BodyError(f"{key!r} must be a string, got {value!r}")


def _as_opt_str(obj: Mapping[Any, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BodyError(f"{key!r} must be a string, got {value!r}")


def _as_bool(obj: Mapping[Any, Any], key: str, default: bool = False) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BodyError(f"{key!r} must be a boolean, got {value!r}")


def _as_map(obj: Mapping[Any, Any], key: str) -> Mapping[Any, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise BodyError(f"{key!r} must be an object, got {type(value).__name__}")


def _as_list(obj: Mapping[Any, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise BodyError(f"{key!r} must be an array, got {type(value).__name__}")


def _str_list(values: list[Any], what: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise BodyError(f"{what} must hold strings only")
    return list(values)


def _load_json(data: bytes | str, what: str) -> Any:
    if not data:
        raise BodyError(f"{what}: empty body")
    try:
        return fastjson.loads(data)
    except (ValueError, RemoteProtocolError, UnicodeDecodeError, RecursionError) as exc:
        raise BodyError(f"{what}: malformed JSON: {exc}") from exc


def _load_object(data: bytes | str, what: str) -> Mapping[Any, Any]:
    doc = _load_json(data, what)
    if not isinstance(doc, Mapping):
        raise BodyError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    return doc


def _json_bytes(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# ---------------------------------------------------------------------- DataVersion


def _data_version_from(obj: Mapping[Any, Any]) -> DataVersion:
    return DataVersion(
        counter=_as_int(obj, "counter", 0),
        state_version=_as_int(obj, "stateVersion", 0),
        timestamp=_as_int(obj, "timestamp", 0),
    )


def _data_version_doc(version: DataVersion) -> dict[str, int]:
    return {
        "counter": version.counter,
        "stateVersion": version.state_version,
        "timestamp": version.timestamp,
    }


def decode_data_version(data: bytes) -> DataVersion:
    """Parse a DataVersion body (QUERY_DATA_VERSION)."""
    return _data_version_from(_load_object(data, "DataVersion"))


def encode_data_version(version: DataVersion) -> bytes:
    """``{"counter":..,"stateVersion":..,"timestamp":..}``."""
    return _json_bytes(_data_version_doc(version))


# ---------------------------------------------------------------------- TopicConfig


def _topic_config_from(name: str, obj: object) -> TopicConfig:
    if not isinstance(obj, Mapping):
        raise BodyError(f"topic config of {name!r} must be an object")
    attributes = _as_map(obj, "attributes")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
        raise BodyError(f"attributes of topic {name!r} must map strings to strings")
    return TopicConfig(
        topic_name=_as_str(obj, "topicName", name),
        read_queue_nums=_as_int(obj, "readQueueNums", 16),
        write_queue_nums=_as_int(obj, "writeQueueNums", 16),
        perm=_as_int(obj, "perm", 6),
        topic_filter_type=_as_str(obj, "topicFilterType", "SINGLE_TAG"),
        topic_sys_flag=_as_int(obj, "topicSysFlag", 0),
        order=_as_bool(obj, "order", False),
        attributes=dict(attributes),
    )


def _topic_config_doc(config: TopicConfig) -> dict[str, Any]:
    return {
        "attributes": dict(config.attributes),
        "order": config.order,
        "perm": config.perm,
        "readQueueNums": config.read_queue_nums,
        "topicFilterType": config.topic_filter_type,
        "topicName": config.topic_name,
        "topicSysFlag": config.topic_sys_flag,
        "writeQueueNums": config.write_queue_nums,
    }


def _topic_config_from_text(text: str) -> TopicConfig:
    """Parse ``TopicConfig.encode()``: ``name read write perm filterType [attributesJson]``."""
    parts = text.split(" ", 5)
    if len(parts) < 5:
        raise BodyError(f"compressed topic config {text[:80]!r} has fewer than 5 fields")
    try:
        read, write, perm = int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError as exc:
        raise BodyError(f"compressed topic config {text[:80]!r}: {exc}") from exc
    attributes: dict[str, str] = {}
    if len(parts) == 6 and parts[5].strip():
        doc = _load_object(parts[5], f"attributes of topic {parts[0]!r}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
            raise BodyError(f"attributes of topic {parts[0]!r} must map strings to strings")
        attributes = dict(doc)
    return TopicConfig(
        topic_name=parts[0],
        read_queue_nums=read,
        write_queue_nums=write,
        perm=perm,
        topic_filter_type=parts[4],
        attributes=attributes,
    )


def _topic_config_text(config: TopicConfig) -> str:
    attributes = json.dumps(config.attributes, sort_keys=True, separators=(",", ":"))
    return (
        f"{config.topic_name} {config.read_queue_nums} {config.write_queue_nums} "
        f"{config.perm} {config.topic_filter_type} {attributes}"
    )


# ---------------------------------------------------------------------- RegisterBrokerBody


def _wrapper_from(obj: Mapping[Any, Any], body: RegisterBrokerBody) -> None:
    body.data_version = _data_version_from(_as_map(obj, "dataVersion"))
    for name, config in _as_map(obj, "topicConfigTable").items():
        if not isinstance(name, str):
            raise BodyError(f"topicConfigTable key {name!r} is not a topic name")
        topic = _topic_config_from(name, config)
        body.topic_config_table[topic.topic_name] = topic
    for topic, mapping in _as_map(obj, "topicQueueMappingInfoMap").items():
        if not isinstance(topic, str):
            raise BodyError(f"topicQueueMappingInfoMap key {topic!r} is not a topic name")
        body.topic_queue_mapping_info_map[topic] = mapping


def decode_register_broker_body(
    data: bytes, *, compressed: bool, version: int
) -> RegisterBrokerBody:
    """Parse a REGISTER_BROKER body sent by a broker announcing request ``version``.

    ``compressed`` is the header flag. Brokers older than V3_0_11 sent the bare
    TopicConfigSerializeWrapper; that form is accepted too.
    """
    if compressed:
        return _decode_compressed(data, version)
    doc = _load_object(data, "RegisterBrokerBody")
    body = RegisterBrokerBody()
    if version < VERSION_V3_0_11 and "topicConfigSerializeWrapper" not in doc:
        _wrapper_from(doc, body)
        return body
    _wrapper_from(_as_map(doc, "topicConfigSerializeWrapper"), body)
    body.filter_server_list = _str_list(_as_list(doc, "filterServerList"), "filterServerList")
    return body


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def int(self, what: str) -> int:
        if self.remaining < 4:
            raise BodyError(f"compressed RegisterBrokerBody truncated before {what}")
        (value,) = _INT.unpack_from(self._data, self._pos)
        self._pos += 4
        return int(value)

    def text(self, what: str) -> str:
        length = self.int(f"the length of {what}")
        if length < 0 or length > self.remaining:
            raise BodyError(f"compressed RegisterBrokerBody: bad length {length} of {what}")
        raw = self._data[self._pos : self._pos + length]
        self._pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyError(f"compressed RegisterBrokerBody: {what} is not UTF-8") from exc


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED_BODY + 1)
    except zlib.error as exc:
        raise BodyError(f"compressed RegisterBrokerBody is not a zlib stream: {exc}") from exc
    if len(out) > MAX_INFLATED_BODY:
        raise BodyError(f"compressed RegisterBrokerBody inflates past {MAX_INFLATED_BODY} bytes")
    return out


def _decode_compressed(data: bytes, version: int) -> RegisterBrokerBody:
    reader = _Reader(_inflate(data))
    body = RegisterBrokerBody()
    body.data_version = _data_version_from(
        _load_object(reader.text("the DataVersion"), "DataVersion")
    )
    count = reader.int("the topic count")
    if count < 0:
        raise BodyError(f"compressed RegisterBrokerBody: negative topic count {count}")
    for i in range(count):
        topic = _topic_config_from_text(reader.text(f"topic config #{i}"))
        body.topic_config_table[topic.topic_name] = topic
    servers_text = reader.text("the filter server list")
    servers = _load_json(servers_text, "filterServerList") if servers_text.strip() else []
    if not isinstance(servers, list):
        raise BodyError("compressed RegisterBrokerBody: filter server list is not an array")
    body.filter_server_list = _str_list(servers, "filterServerList")
    if version >= VERSION_V5_0_0 and reader.remaining:
        for i in range(reader.int("the mapping count")):
            mapping = _load_object(reader.text(f"mapping info #{i}"), "TopicQueueMappingInfo")
            mapped = mapping.get("topic")
            if not isinstance(mapped, str):
                raise BodyError(f"mapping info #{i} has no topic")
            body.topic_queue_mapping_info_map[mapped] = dict(mapping)
    return body


def encode_register_broker_body(
    body: RegisterBrokerBody, *, compressed: bool = False, version: int = VERSION_V4_9_4
) -> bytes:
    """Encode ``body`` as a broker of ``version`` would (JSON, or the compressed form).

    Static-topic mapping documents are written with string keys only.
    """
    if compressed:
        return _encode_compressed(body, version)
    wrapper = {
        "dataVersion": _data_version_doc(body.data_version),
        "topicConfigTable": {
            name: _topic_config_doc(config) for name, config in body.topic_config_table.items()
        },
        "topicQueueMappingInfoMap": dict(body.topic_queue_mapping_info_map),
    }
    return _json_bytes(
        {"filterServerList": list(body.filter_server_list), "topicConfigSerializeWrapper": wrapper}
    )


def _encode_compressed(body: RegisterBrokerBody, version: int) -> bytes:
    out = bytearray()

    def put_text(text: str) -> None:
        raw = text.encode("utf-8")
        out.extend(_INT.pack(len(raw)))
        out.extend(raw)

    put_text(_json_bytes(_data_version_doc(body.data_version)).decode())
    out.extend(_INT.pack(len(body.topic_config_table)))
    for config in body.topic_config_table.values():
        put_text(_topic_config_text(config))
    put_text(json.dumps(list(body.filter_server_list), separators=(",", ":")))
    if version >= VERSION_V5_0_0:
        out.extend(_INT.pack(len(body.topic_queue_mapping_info_map)))
        for mapping in body.topic_queue_mapping_info_map.values():
            put_text(_json_bytes(mapping).decode())
    return zlib.compress(bytes(out), 9)


# ---------------------------------------------------------------------- TopicRouteData


def _broker_data_doc(data: BrokerData) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "brokerAddrs": {i: data.broker_addrs[i] for i in sorted(data.broker_addrs)},
        "brokerName": data.broker_name,
        "cluster": data.cluster,
        "enableActingMaster": data.enable_acting_master,
    }
    if data.zone_name is not None:
        doc["zoneName"] = data.zone_name
    return doc


def _broker_data_from(obj: object) -> BrokerData:
    if not isinstance(obj, Mapping):
        raise BodyError("broker data must be an object")
    addrs: dict[int, str] = {}
    for key, addr in _as_map(obj, "brokerAddrs").items():
        try:
            broker_id = int(key)
        except (TypeError, ValueError) as exc:
            raise BodyError(f"brokerAddrs key {key!r} is not a broker id") from exc
        if not isinstance(addr, str):
            raise BodyError(f"brokerAddrs[{broker_id}] must be an address string")
        addrs[broker_id] = addr
    return BrokerData(
        cluster=_as_str(obj, "cluster", ""),
        broker_name=_as_str(obj, "brokerName"),
        broker_addrs=addrs,
        enable_acting_master=_as_bool(obj, "enableActingMaster", False),
        zone_name=_as_opt_str(obj, "zoneName"),
    )


def _queue_data_from(obj: object) -> QueueData:
    if not isinstance(obj, Mapping):
        raise BodyError("queue data must be an object")
    return QueueData(
        broker_name=_as_str(obj, "brokerName"),
        read_queue_nums=_as_int(obj, "readQueueNums"),
        write_queue_nums=_as_int(obj, "writeQueueNums"),
        perm=_as_int(obj, "perm"),
        topic_sys_flag=_as_int(obj, "topicSysFlag", 0),
    )


def _route_doc(route: TopicRouteData) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "brokerDatas": [_broker_data_doc(b) for b in route.broker_datas],
        "filterServerTable": {a: list(s) for a, s in route.filter_server_table.items()},
        "queueDatas": [
            {
                "brokerName": q.broker_name,
                "perm": q.perm,
                "readQueueNums": q.read_queue_nums,
                "topicSysFlag": q.topic_sys_flag,
                "writeQueueNums": q.write_queue_nums,
            }
            for q in route.queue_datas
        ],
    }
    if route.order_topic_conf is not None:
        doc["orderTopicConf"] = route.order_topic_conf
    if route.topic_queue_mapping_by_broker:
        doc["topicQueueMappingByBroker"] = route.topic_queue_mapping_by_broker
    return doc


def encode_topic_route(route: TopicRouteData, *, standard: bool) -> bytes:
    """Encode a route: standard JSON, or fastjson's form with bare ``brokerAddrs`` keys."""
    doc = _route_doc(route)
    if standard:
        return fastjson.dumps(doc, bare_non_string_keys=False, ensure_ascii=True)
    return fastjson.dumps(doc)


def decode_topic_route(data: bytes) -> TopicRouteData:
    """Parse a TopicRouteData body in either form."""
    doc = _load_object(data, "TopicRouteData")
    servers: dict[str, list[str]] = {}
    for addr, lst in _as_map(doc, "filterServerTable").items():
        if not isinstance(addr, str) or not isinstance(lst, list):
            raise BodyError("filterServerTable must map addresses to arrays")
        servers[addr] = _str_list(lst, "filterServerTable")
    mapping = doc.get("topicQueueMappingByBroker")
    return TopicRouteData(
        queue_datas=[_queue_data_from(q) for q in _as_list(doc, "queueDatas")],
        broker_datas=[_broker_data_from(b) for b in _as_list(doc, "brokerDatas")],
        filter_server_table=servers,
        order_topic_conf=_as_opt_str(doc, "orderTopicConf"),
        topic_queue_mapping_by_broker=dict(mapping) if isinstance(mapping, Mapping) else None,
    )


# ---------------------------------------------------------------------- ClusterInfo


def encode_cluster_info(info: ClusterInfo) -> bytes:
    """Encode ClusterInfo as Java does: fastjson's form, ``brokerAddrs`` keys bare."""
    doc = {
        "brokerAddrTable": {
            name: _broker_data_doc(data) for name, data in info.broker_addr_table.items()
        },
        "clusterAddrTable": {c: list(names) for c, names in info.cluster_addr_table.items()},
    }
    return fastjson.dumps(doc)


def decode_cluster_info(data: bytes) -> ClusterInfo:
    """Parse a ClusterInfo body in either form."""
    doc = _load_object(data, "ClusterInfo")
    brokers: dict[str, BrokerData] = {}
    for name, obj in _as_map(doc, "brokerAddrTable").items():
        brokers[str(name)] = _broker_data_from(obj)
    clusters: dict[str, list[str]] = {}
    for cluster, names in _as_map(doc, "clusterAddrTable").items():
        if not isinstance(names, list):
            raise BodyError(f"clusterAddrTable[{cluster!r}] must be an array")
        clusters[str(cluster)] = _str_list(names, "clusterAddrTable")
    return ClusterInfo(broker_addr_table=brokers, cluster_addr_table=clusters)


# ---------------------------------------------------------------------- TopicList, KVTable


def encode_topic_list(topics: list[str], broker_addr: str | None = None) -> bytes:
    """``{"topicList":[...]}`` plus ``brokerAddr`` when given."""
    doc: dict[str, Any] = {"topicList": list(topics)}
    if broker_addr is not None:
        doc["brokerAddr"] = broker_addr
    return _json_bytes(doc)


def decode_topic_list(data: bytes) -> tuple[list[str], str | None]:
    """Parse a TopicList body into (topics, brokerAddr)."""
    doc = _load_object(data, "TopicList")
    return _str_list(_as_list(doc, "topicList"), "topicList"), _as_opt_str(doc, "brokerAddr")


def encode_kv_table(table: Mapping[str, str]) -> bytes:
    """``{"table":{"k":"v"}}``."""
    return _json_bytes({"table": dict(table)})


def decode_kv_table(data: bytes) -> dict[str, str]:
    """Parse a KVTable body."""
    table = _as_map(_load_object(data, "KVTable"), "table")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise BodyError("KVTable must map strings to strings")
    return dict(table)
