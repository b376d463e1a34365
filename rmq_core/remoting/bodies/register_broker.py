"""The REGISTER_BROKER body (``RegisterBrokerBody``, reference §3.4), for brokers and NameServers.

JSON form (header ``compressed=false``)::

    {"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{..},
     "mappingDataVersion":{..},"topicConfigTable":{name: TopicConfig},
     "topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}

Brokers older than V3_0_11 (request version < 37) sent the bare wrapper; it is accepted too.

Compressed form (header ``compressed=true``): a zlib stream of big-endian ints and UTF-8
strings::

    int len, DataVersion JSON
    int topicCount, topicCount x (int len, "name read write perm filterType [attributesJson]")
    int len, filterServerList JSON
    (broker version >= 413 only) int n, n x (int len, TopicQueueMappingInfo JSON)

An inflated body is bounded by :data:`MAX_INFLATED_BODY`. Static-topic mapping documents are
kept opaque (decoded JSON).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.remoting.bodies.data_version import DataVersion
from rmq_core.remoting.bodies.fields import (
    BodyError,
    as_list,
    as_map,
    dumps,
    load_json,
    load_object,
    str_list,
)
from rmq_core.remoting.bodies.topic_config import TopicConfig

__all__ = [
    "MAX_INFLATED_BODY",
    "VERSION_V3_0_11",
    "VERSION_V5_0_0",
    "RegisterBrokerBody",
    "decode_register_broker_body",
    "encode_register_broker_body",
    "register_body_from_wrapper",
]

VERSION_V3_0_11 = 37
"""Oldest broker version whose REGISTER_BROKER body is a RegisterBrokerBody (older: wrapper)."""
VERSION_V4_9_4 = 401
VERSION_V5_0_0 = 413
"""From this broker version on, the compressed body ends with static-topic mapping infos."""

MAX_INFLATED_BODY = 64 * 1024 * 1024
"""Upper bound (bytes) on an inflated compressed RegisterBrokerBody."""

_INT = struct.Struct(">i")


@dataclass(slots=True)
class RegisterBrokerBody:
    """The body of REGISTER_BROKER, whichever form it arrived in.

    ``topic_queue_mapping_info_map`` maps topic -> the broker's static-topic mapping document
    and ``topic_queue_mapping_detail_map`` topic -> its detail document (decoded JSON, kept
    opaque). ``mapping_data_version`` is None when the body carried none.
    """

    data_version: DataVersion = field(default_factory=DataVersion)
    topic_config_table: dict[str, TopicConfig] = field(default_factory=dict)
    filter_server_list: list[str] = field(default_factory=list)
    topic_queue_mapping_info_map: dict[str, Any] = field(default_factory=dict)
    topic_queue_mapping_detail_map: dict[str, Any] = field(default_factory=dict)
    mapping_data_version: DataVersion | None = None


def register_body_from_wrapper(wrapper: Mapping[Any, Any]) -> RegisterBrokerBody:
    """A body (no filter servers) from a decoded TopicConfig(AndMapping)SerializeWrapper."""
    body = RegisterBrokerBody()
    body.data_version = DataVersion.from_json(as_map(wrapper, "dataVersion"))
    if wrapper.get("mappingDataVersion") is not None:
        body.mapping_data_version = DataVersion.from_json(as_map(wrapper, "mappingDataVersion"))
    for name, config in as_map(wrapper, "topicConfigTable").items():
        if not isinstance(name, str):
            raise BodyError(f"topicConfigTable key {name!r} is not a topic name")
        topic = TopicConfig.from_json(config, name)
        body.topic_config_table[topic.topic_name] = topic
    for key, target in (
        ("topicQueueMappingInfoMap", body.topic_queue_mapping_info_map),
        ("topicQueueMappingDetailMap", body.topic_queue_mapping_detail_map),
    ):
        for topic_name, mapping in as_map(wrapper, key).items():
            if not isinstance(topic_name, str):
                raise BodyError(f"{key} key {topic_name!r} is not a topic name")
            target[topic_name] = mapping
    return body


def _wrapper_doc(body: RegisterBrokerBody) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "dataVersion": body.data_version.to_json(),
        "topicConfigTable": {
            name: config.to_json() for name, config in body.topic_config_table.items()
        },
        "topicQueueMappingDetailMap": dict(body.topic_queue_mapping_detail_map),
        "topicQueueMappingInfoMap": dict(body.topic_queue_mapping_info_map),
    }
    if body.mapping_data_version is not None:
        doc["mappingDataVersion"] = body.mapping_data_version.to_json()
    return doc


def decode_register_broker_body(
    data: bytes, *, compressed: bool, version: int
) -> RegisterBrokerBody:
    """Parse a REGISTER_BROKER body sent by a broker announcing request ``version``.

    ``compressed`` is the header flag. Raises BodyError when the body is malformed.
    """
    if compressed:
        return _decode_compressed(data, version)
    doc = load_object(data, "RegisterBrokerBody")
    if version < VERSION_V3_0_11 and "topicConfigSerializeWrapper" not in doc:
        return register_body_from_wrapper(doc)
    body = register_body_from_wrapper(as_map(doc, "topicConfigSerializeWrapper"))
    body.filter_server_list = str_list(as_list(doc, "filterServerList"), "filterServerList")
    return body


def encode_register_broker_body(
    body: RegisterBrokerBody, *, compressed: bool = False, version: int = VERSION_V4_9_4
) -> bytes:
    """Encode ``body`` as a broker of request ``version`` does (JSON, or the compressed form).

    The JSON form is fastjson's: keys sorted, UTF-8.
    """
    if compressed:
        return _encode_compressed(body, version)
    return dumps(
        {
            "filterServerList": list(body.filter_server_list),
            "topicConfigSerializeWrapper": _wrapper_doc(body),
        }
    )


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
    body.data_version = DataVersion.from_json(
        load_object(reader.text("the DataVersion"), "DataVersion")
    )
    count = reader.int("the topic count")
    if count < 0:
        raise BodyError(f"compressed RegisterBrokerBody: negative topic count {count}")
    for i in range(count):
        topic = TopicConfig.from_text(reader.text(f"topic config #{i}"))
        body.topic_config_table[topic.topic_name] = topic
    servers_text = reader.text("the filter server list")
    servers = load_json(servers_text, "filterServerList") if servers_text.strip() else []
    if not isinstance(servers, list):
        raise BodyError("compressed RegisterBrokerBody: filter server list is not an array")
    body.filter_server_list = str_list(servers, "filterServerList")
    if version >= VERSION_V5_0_0 and reader.remaining:
        for i in range(reader.int("the mapping count")):
            mapping = load_object(reader.text(f"mapping info #{i}"), "TopicQueueMappingInfo")
            mapped = mapping.get("topic")
            if not isinstance(mapped, str):
                raise BodyError(f"mapping info #{i} has no topic")
            body.topic_queue_mapping_info_map[mapped] = dict(mapping)
    return body


def _encode_compressed(body: RegisterBrokerBody, version: int) -> bytes:
    out = bytearray()

    def put_text(text: str) -> None:
        raw = text.encode("utf-8")
        out.extend(_INT.pack(len(raw)))
        out.extend(raw)

    put_text(dumps(body.data_version.to_json()).decode())
    out.extend(_INT.pack(len(body.topic_config_table)))
    for config in body.topic_config_table.values():
        put_text(config.to_text())
    put_text(json.dumps(list(body.filter_server_list), separators=(",", ":")))
    if version >= VERSION_V5_0_0:
        out.extend(_INT.pack(len(body.topic_queue_mapping_info_map)))
        for mapping in body.topic_queue_mapping_info_map.values():
            put_text(dumps(mapping).decode())
    return zlib.compress(bytes(out), 9)
