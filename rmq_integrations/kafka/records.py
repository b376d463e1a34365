"""Kafka records <-> RocketMQ messages.

A Kafka record is ``(key, value, headers, timestamp)``; a RocketMQ message is a non-empty
body plus string properties. The shim writes (and reads back):

=====================  ===================================================================
``KAFKA_KEY``          the key, when it is UTF-8 text without RocketMQ's separator bytes
                       (``\\x01``/``\\x02``); the key is also the message's ``KEYS`` index
                       entry when it has no space, so ``mqadmin queryMsgByKey`` finds it
``KAFKA_KEY_B64``      any other key, base64
``KAFKA_HEADERS``      the headers, JSON ``[[name, base64 value], ...]`` (order and
                       duplicates kept)
``KAFKA_TIMESTAMP``    ``timestamp_ms`` when the caller gave one (else the born timestamp,
                       the producer's clock, is the record timestamp)
``KAFKA_VALUE``        ``null`` or ``empty`` when the value is ``None`` or ``b""``: RocketMQ
                       refuses empty bodies, so the body is then one placeholder byte
=====================  ===================================================================

Messages from other RocketMQ producers read as records too: the key is their ``KEYS``, the
headers their user properties (sorted by name), the timestamp their born timestamp.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from rmq_core.common.message import Message, MessageConst, MessageExt

__all__ = [
    "MAX_PROPERTIES_LENGTH",
    "DecodedRecord",
    "decode",
    "encode",
    "header_size",
    "properties_length",
    "record_timestamp",
]

KEY = "KAFKA_KEY"
KEY_B64 = "KAFKA_KEY_B64"
HEADERS = "KAFKA_HEADERS"
TIMESTAMP = "KAFKA_TIMESTAMP"
VALUE = "KAFKA_VALUE"
SHIM_PROPERTIES = frozenset({KEY, KEY_B64, HEADERS, TIMESTAMP, VALUE})
PLACEHOLDER_BODY = b"\x00"
MAX_PROPERTIES_LENGTH = 32767  # bytes: the broker's limit on a message's encoded properties
_SEPARATORS = ("\x01", "\x02")

Headers = list[tuple[str, bytes]]


def header_size(headers: Headers) -> int:
    """kafka-python's ``serialized_header_size``: -1 without headers."""
    if not headers:
        return -1
    return sum(len(name.encode("utf-8")) + len(value) for name, value in headers)


def _text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or any(sep in text for sep in _SEPARATORS):
        return None
    return text


def encode(
    rmq_topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    timestamp_ms: int | None,
) -> Message:
    """The RocketMQ message carrying one Kafka record (see the module docstring)."""
    body = value if value else PLACEHOLDER_BODY
    msg = Message(topic=rmq_topic, body=bytes(body))
    if value is None:
        msg.put_property(VALUE, "null")
    elif not value:
        msg.put_property(VALUE, "empty")
    if key is not None:
        text = _text(key)
        if text is None:
            msg.put_property(KEY_B64, base64.b64encode(key).decode("ascii"))
        else:
            msg.put_property(KEY, text)
            if " " not in text:
                msg.keys = [text]
    if headers:
        encoded = [[name, base64.b64encode(data).decode("ascii")] for name, data in headers]
        msg.put_property(HEADERS, json.dumps(encoded, separators=(",", ":")))
    if timestamp_ms is not None:
        msg.put_property(TIMESTAMP, str(int(timestamp_ms)))
    return msg


def properties_length(msg: Message) -> int:
    """Bytes the properties take on the wire (``name\\x01value\\x02`` each)."""
    return sum(len(k.encode()) + len(v.encode()) + 2 for k, v in msg.properties.items())


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """The Kafka view of one consumed message (still serialized)."""

    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp: int


def _decode_headers(msg: MessageExt) -> Headers:
    raw = msg.properties.get(HEADERS)
    if raw is not None:
        try:
            items = json.loads(raw)
            return [(str(name), base64.b64decode(data)) for name, data in items]
        except (ValueError, TypeError, binascii.Error):
            return [(HEADERS, raw.encode("utf-8"))]
    return [
        (name, value.encode("utf-8"))
        for name, value in sorted(msg.properties.items())
        if name not in MessageConst.STRING_HASH_SET
        and name not in SHIM_PROPERTIES
        and not name.startswith("__")
    ]


def _decode_key(msg: MessageExt) -> bytes | None:
    props = msg.properties
    if KEY in props:
        return props[KEY].encode("utf-8")
    if KEY_B64 in props:
        try:
            return base64.b64decode(props[KEY_B64])
        except (ValueError, binascii.Error):
            return props[KEY_B64].encode("utf-8")
    keys = props.get(MessageConst.PROPERTY_KEYS)
    return keys.encode("utf-8") if keys else None


def record_timestamp(msg: MessageExt) -> int:
    """The record's timestamp (ms): the caller's ``timestamp_ms`` or the born timestamp."""
    raw = msg.properties.get(TIMESTAMP)
    if raw is not None and raw.lstrip("-").isdigit():
        return int(raw)
    return msg.born_timestamp


def decode(msg: MessageExt) -> DecodedRecord:
    """The key, value, headers and timestamp carried by ``msg``."""
    marker = msg.properties.get(VALUE)
    value: bytes | None
    if marker == "null":
        value = None
    elif marker == "empty":
        value = b""
    else:
        value = msg.body
    return DecodedRecord(_decode_key(msg), value, _decode_headers(msg), record_timestamp(msg))
