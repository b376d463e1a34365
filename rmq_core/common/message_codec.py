"""Byte layouts of messages: stored records, properties, batches and message ids.

Stored record (reference §4.1; the CommitLog record, also each element of a pull, query or
view response body). Big-endian; offsets for IPv4 born and store hosts:

=====  ============================  ==========  ==================================================
 off   field                         width       notes
=====  ============================  ==========  ==================================================
   0   TOTALSIZE                     int 4       whole record length, this field included
   4   MAGICCODE                     int 4       V1 0xDAA320A7, V2 0xDAA320AB (blank 0xCBD43194)
   8   BODYCRC                       int 4       zlib CRC32 of the stored body ``& 0x7FFFFFFF``
  12   QUEUEID                       int 4
  16   FLAG                          int 4       producer's flag
  20   QUEUEOFFSET                   long 8      logical offset in the consume queue
  28   PHYSICALOFFSET                long 8      commit-log offset of this record
  36   SYSFLAG                       int 4       :class:`~rmq_core.common.message.MessageSysFlag`
  40   BORNTIMESTAMP                 long 8      ms
  48   BORNHOST                      8 or 20     IPv4 + int port (IPv6, 20 bytes, if SYSFLAG 0x10)
  56   STORETIMESTAMP                long 8      ms
  64   STOREHOST                     8 or 20     IPv6 if SYSFLAG 0x20
  72   RECONSUMETIMES                int 4
  76   PREPARED_TRANSACTION_OFFSET   long 8
  84   BODYLEN + BODY                int 4 + n
   .   TOPICLEN + TOPIC              byte 1 (V1) or short 2 (V2) + n, UTF-8
   .   PROPLEN + PROPERTIES          short 2 + n, properties string (at most 32767 bytes)
=====  ============================  ==========  ==================================================

Size (IPv4, V1) = 91 + body + topic + properties. V2 (2-byte topic length) is written only when
the topic is longer than 127 bytes; readers choose the width from the magic code.

Properties string: ``name \\x01 value \\x02`` for each entry. Batch entry (SEND_BATCH_MESSAGE
body, §4.6): ``int total, int magic=0, int crc=0, int flag, int bodylen, body, short proplen,
props``. Offset message id (§4.5): upper-case hex of ``store ip ‖ int port ‖ long offset``.
"""

from __future__ import annotations

import collections
import functools
import itertools
import os
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from rmq_core.common.crc import crc32
from rmq_core.common.message import (
    NAME_VALUE_SEPARATOR,
    PROPERTY_SEPARATOR,
    Message,
    MessageExt,
    MessageSysFlag,
    parse_properties,
)
from rmq_core.errors import RocketMQError

__all__ = [
    "BLANK_MAGIC_CODE",
    "MAX_PROPERTIES_LENGTH",
    "MAX_V1_TOPIC_LENGTH",
    "MESSAGE_MAGIC_CODE_V1",
    "MESSAGE_MAGIC_CODE_V2",
    "NAME_VALUE_SEPARATOR",
    "PROPERTY_SEPARATOR",
    "MessageFormatError",
    "body_crc",
    "create_offset_msg_id",
    "create_uniq_id",
    "decode_batch",
    "decode_offset_msg_id",
    "decode_properties",
    "decode_record",
    "decode_records",
    "decompress_body",
    "encode_batch",
    "encode_properties",
    "encode_record",
    "format_host",
    "java_string_hash",
    "parse_host",
    "record_head_struct",
    "record_size",
]

MESSAGE_MAGIC_CODE_V1 = -626843481  # 0xDAA320A7 as a signed int
MESSAGE_MAGIC_CODE_V2 = -626843477  # 0xDAA320AB
BLANK_MAGIC_CODE = -875286124  # 0xCBD43194
MAX_PROPERTIES_LENGTH = 32767
"""Largest properties string (bytes) a record can hold (its length is a signed short)."""
MAX_V1_TOPIC_LENGTH = 127

_PREFIX = struct.Struct(">iiiiiqqiq")  # TOTALSIZE .. BORNTIMESTAMP, 48 bytes
_INT = struct.Struct(">i")
_SHORT = struct.Struct(">h")
_BYTE = struct.Struct(">b")
_BATCH_HEAD = struct.Struct(">iiiii")
_MIN_RECORD_SIZE = _PREFIX.size + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2


class MessageFormatError(RocketMQError, ValueError):
    """Bytes that are not a valid record, batch, properties string or message id."""


def _head_struct(born_v6: bool, store_v6: bool) -> struct.Struct:
    born = "16si" if born_v6 else "4si"
    store = "16si" if store_v6 else "4si"
    return struct.Struct(f">iiiiiqqiq{born}q{store}iqi")


_HEAD_STRUCTS = {(b, s): _head_struct(b, s) for b in (False, True) for s in (False, True)}
_HEAD_V4 = _HEAD_STRUCTS[(False, False)]
_V6_FLAGS = MessageSysFlag.BORNHOST_V6_FLAG | MessageSysFlag.STOREHOSTADDRESS_V6_FLAG


def record_head_struct(sys_flag: int) -> struct.Struct:
    """The struct packing every field from TOTALSIZE through BODYLEN for hosts of ``sys_flag``.

    Field order: total, magic, crc, queue id, flag, queue offset, physical offset, sys flag,
    born ms, born ip (bytes), born port, store ms, store ip, store port, reconsume times,
    prepared transaction offset, body length. 88 bytes for two IPv4 hosts.
    """
    return _HEAD_STRUCTS[
        (
            bool(sys_flag & MessageSysFlag.BORNHOST_V6_FLAG),
            bool(sys_flag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG),
        )
    ]


def record_size(sys_flag: int, body_length: int, topic_length: int, properties_length: int) -> int:
    """TOTALSIZE in bytes of a record with these lengths (topic length in UTF-8 bytes)."""
    topic_width = 1 if topic_length <= MAX_V1_TOPIC_LENGTH else 2
    return (
        record_head_struct(sys_flag).size
        + body_length
        + topic_width
        + topic_length
        + 2
        + properties_length
    )


def body_crc(body: bytes | memoryview) -> int:
    """RocketMQ's body CRC: zlib CRC32 masked with ``0x7FFFFFFF`` (``UtilAll.crc32``)."""
    return crc32(body) & 0x7FFFFFFF


@functools.lru_cache(maxsize=1024)
def parse_host(host: str) -> tuple[bytes, int, bool]:
    """``"ip:port"`` (or ``"[ipv6]:port"``) to (packed ip, port, is_ipv6).

    Raises MessageFormatError for anything else.
    """
    ip, sep, port_text = host.rpartition(":")
    if not sep:
        raise MessageFormatError(f"host {host!r} is not ip:port")
    ip = ip.strip("[]").lstrip("/")
    try:
        port = int(port_text)
        if ":" in ip:
            return socket.inet_pton(socket.AF_INET6, ip), port, True
        return socket.inet_aton(ip), port, False
    except (OSError, ValueError) as exc:
        raise MessageFormatError(f"host {host!r} is not ip:port") from exc


def format_host(ip: bytes, port: int) -> str:
    """Packed ip and port to ``"a.b.c.d:port"`` or ``"[v6]:port"``."""
    if len(ip) == 4:
        return f"{socket.inet_ntoa(ip)}:{port}"
    return f"[{socket.inet_ntop(socket.AF_INET6, ip)}]:{port}"


def encode_properties(properties: Mapping[str, str] | None) -> str:
    """The properties string of ``properties`` (entries with a None value are skipped)."""
    if not properties:
        return ""
    return "".join(
        f"{name}{NAME_VALUE_SEPARATOR}{value}{PROPERTY_SEPARATOR}"
        for name, value in properties.items()
        if value is not None
    )


def decode_properties(text: str | bytes | bytearray | memoryview | None) -> dict[str, str]:
    """Parse a properties string like Java's ``string2messageProperties``.

    Entries shorter than 3 characters or with an empty name or value are skipped.
    """
    if not text:
        return {}
    if not isinstance(text, str):
        text = str(text, "utf-8", "replace")
    return parse_properties(text)


def encode_record(msg: MessageExt, *, properties_string: str | None = None) -> bytes:
    """Encode ``msg`` as a stored record (module docstring) and return the bytes.

    Uses the message's queue id/offset, commit-log offset, timestamps and hosts as they are;
    the body CRC is computed; the IPv6 bits of the sys flag follow the hosts. Raises
    MessageFormatError when the properties exceed 32767 bytes or a host is malformed.
    """
    if properties_string is None:
        properties_string = encode_properties(msg.properties)
    props = properties_string.encode()
    if len(props) > MAX_PROPERTIES_LENGTH:
        raise MessageFormatError(f"properties are {len(props)} bytes, over 32767")
    topic = msg.topic.encode()
    if len(topic) > 0x7FFF:
        raise MessageFormatError(f"topic is {len(topic)} bytes, over 32767")
    born_ip, born_port, born_v6 = parse_host(msg.born_host)
    store_ip, store_port, store_v6 = parse_host(msg.store_host)
    sys_flag = msg.sys_flag & ~(
        MessageSysFlag.BORNHOST_V6_FLAG | MessageSysFlag.STOREHOSTADDRESS_V6_FLAG
    )
    if born_v6:
        sys_flag |= MessageSysFlag.BORNHOST_V6_FLAG
    if store_v6:
        sys_flag |= MessageSysFlag.STOREHOSTADDRESS_V6_FLAG
    body = msg.body
    v2 = len(topic) > MAX_V1_TOPIC_LENGTH
    size = record_size(sys_flag, len(body), len(topic), len(props))
    head = record_head_struct(sys_flag).pack(
        size,
        MESSAGE_MAGIC_CODE_V2 if v2 else MESSAGE_MAGIC_CODE_V1,
        body_crc(body),
        msg.queue_id,
        msg.flag,
        msg.queue_offset,
        msg.commitlog_offset,
        sys_flag,
        msg.born_timestamp,
        born_ip,
        born_port,
        msg.store_timestamp,
        store_ip,
        store_port,
        msg.reconsume_times,
        msg.prepared_transaction_offset,
        len(body),
    )
    topic_len = _SHORT.pack(len(topic)) if v2 else _BYTE.pack(len(topic))
    return b"".join((head, body, topic_len, topic, _SHORT.pack(len(props)), props))


def decompress_body(body: bytes, sys_flag: int) -> bytes:
    """Inflate a body stored with the COMPRESSED sysflag bit (zlib only; LZ4/ZSTD are errors)."""
    kind = MessageSysFlag.compression_type(sys_flag)
    if kind != MessageSysFlag.COMPRESSION_ZLIB:
        name = {1: "LZ4", 2: "ZSTD"}.get(kind, str(kind))
        raise MessageFormatError(f"body compressed with unsupported type {name}")
    try:
        return zlib.decompress(body)
    except zlib.error as exc:
        raise MessageFormatError(f"compressed body does not inflate: {exc}") from exc


def decode_record(
    buf: bytes | bytearray | memoryview,
    offset: int = 0,
    *,
    decompress: bool = True,
    check_crc: bool = False,
    lazy_properties: bool = False,
) -> tuple[MessageExt, int]:
    """Decode the record starting at ``offset``; return it and the offset just past it.

    Raises MessageFormatError when the bytes are not a whole, well-formed message record (a
    blank end-of-file filler included) or, with ``check_crc``, when the body CRC differs.
    The fixed head is unpacked once with the IPv4/IPv4 struct (the usual layout) and again
    only when the sysflag announces an IPv6 host. With ``lazy_properties`` a non-empty
    properties string is kept as bytes in ``raw_properties`` and parsed on the first access
    of ``properties`` (see :class:`~rmq_core.common.message.MessageExt`).
    """
    available = len(buf) - offset
    if available >= _HEAD_V4.size:
        fields = _HEAD_V4.unpack_from(buf, offset)
        total, magic, sys_flag = fields[0], fields[1], fields[7]
        head = _HEAD_V4 if not sys_flag & _V6_FLAGS else record_head_struct(sys_flag)
    elif available >= _PREFIX.size:
        total, magic, _, _, _, _, _, sys_flag, _ = _PREFIX.unpack_from(buf, offset)
        head = record_head_struct(sys_flag)
    else:
        raise MessageFormatError(f"record at {offset} truncated: {available} bytes left")
    if magic != MESSAGE_MAGIC_CODE_V1 and magic != MESSAGE_MAGIC_CODE_V2:
        raise MessageFormatError(f"record at {offset} has bad magic code {magic & 0xFFFFFFFF:#x}")
    if total < _MIN_RECORD_SIZE or total > available:
        raise MessageFormatError(f"record at {offset} has bad total size {total}")
    head_size = head.size
    if head_size > total:
        raise MessageFormatError(f"record at {offset} shorter than its header")
    if head is not _HEAD_V4:
        fields = head.unpack_from(buf, offset)
    (
        _,
        _,
        crc,
        queue_id,
        flag,
        queue_offset,
        phys,
        _,
        born_ts,
        born_ip,
        born_port,
        store_ts,
        store_ip,
        store_port,
        reconsume,
        prepared,
        body_len,
    ) = fields
    end = offset + total
    pos = offset + head_size
    if body_len < 0 or pos + body_len > end:
        raise MessageFormatError(f"record at {offset} has bad body length {body_len}")
    raw_body = bytes(buf[pos : pos + body_len])
    pos += body_len
    if check_crc and body_crc(raw_body) != crc:
        raise MessageFormatError(f"record at {offset} fails its body CRC")
    if magic == MESSAGE_MAGIC_CODE_V1:
        if pos + 1 > end:
            raise MessageFormatError(f"record at {offset} truncated in topic length")
        topic_len = buf[pos]
        pos += 1
    else:
        if pos + 2 > end:
            raise MessageFormatError(f"record at {offset} truncated in topic length")
        (topic_len,) = _SHORT.unpack_from(buf, pos)
        pos += 2
    if topic_len < 0 or pos + topic_len + 2 > end:
        raise MessageFormatError(f"record at {offset} has bad topic length {topic_len}")
    topic = str(buf[pos : pos + topic_len], "utf-8", "replace")
    pos += topic_len
    (props_len,) = _SHORT.unpack_from(buf, pos)
    pos += 2
    if props_len < 0 or pos + props_len != end:
        raise MessageFormatError(f"record at {offset} has bad properties length {props_len}")
    body = raw_body
    if decompress and sys_flag & MessageSysFlag.COMPRESSED_FLAG:
        body = decompress_body(raw_body, sys_flag)
    hosts = _HOST_PAIRS.get((born_ip, born_port, store_ip, store_port))
    if hosts is None:
        hosts = _cached_hosts(born_ip, born_port, store_ip, store_port)
    # Positional: Message's fields, then MessageExt's, in declaration order (a keyword call
    # of the 16-field dataclass __init__ cost ~1 us per record).
    msg = MessageExt(
        topic,
        body,
        flag,
        {},
        queue_id,
        queue_offset,
        phys,
        sys_flag,
        born_ts,
        hosts[0],
        store_ts,
        hosts[1],
        reconsume,
        prepared,
        crc,
        total,
    )
    if props_len:
        if lazy_properties:
            msg.raw_properties = bytes(buf[pos:end])
            del msg.properties  # parsed on first access (MessageExt docstring)
        else:
            msg.properties = parse_properties(str(buf[pos:end], "utf-8", "replace"))
    return msg, end


_HOST_PAIRS: dict[tuple[bytes, int, bytes, int], tuple[str, str]] = {}
"""Formatted (born host, store host) by their packed ips and ports: the records of a pull
answer share a few pairs, and formatting two addresses was ~15 % of decoding a record."""
_HOSTS_LIMIT = 4096


def _cached_hosts(
    born_ip: bytes, born_port: int, store_ip: bytes, store_port: int
) -> tuple[str, str]:
    if len(_HOST_PAIRS) >= _HOSTS_LIMIT:
        _HOST_PAIRS.clear()
    pair = format_host(born_ip, born_port), format_host(store_ip, store_port)
    _HOST_PAIRS[(born_ip, born_port, store_ip, store_port)] = pair
    return pair


@functools.lru_cache(maxsize=64)
def _uniform_struct(body_len: int, topic_len: int, props_len: int) -> struct.Struct:
    """Every field of a V1, IPv4 record with these lengths: the head's 17, then body, topic
    length, topic, properties length and properties (22 values, record order)."""
    return struct.Struct(f"{_HEAD_V4.format}{body_len}sB{topic_len}sH{props_len}s")


_SIZE_MAGIC = struct.Struct(">ii")  # TOTALSIZE, MAGICCODE
_SYS_FLAG_AT = 36


def _uniform_layout(data: bytes, odd_flags: int) -> struct.Struct | None:
    """The struct of ``data``'s first record when ``data`` could be records of its size only
    (V1 magic, none of ``odd_flags`` in its SYSFLAG, lengths adding up to its TOTALSIZE, which
    divides ``len(data)``), else None.

    Only the first record is read: an answer whose records share TOTALSIZE but split it
    differently (rare: one producer's messages of one size) is rejected later, by
    :func:`_columns_alike`, after the column split it did for nothing."""
    head_size = _HEAD_V4.size
    if len(data) < head_size:
        return None
    total, magic = _SIZE_MAGIC.unpack_from(data)
    (sys_flag,) = _INT.unpack_from(data, _SYS_FLAG_AT)
    (body_len,) = _INT.unpack_from(data, head_size - 4)
    if magic != MESSAGE_MAGIC_CODE_V1 or total < _MIN_RECORD_SIZE or len(data) % total:
        return None
    if sys_flag & odd_flags or not 0 <= body_len <= total - _MIN_RECORD_SIZE:
        return None
    topic_len = data[head_size + body_len]
    props_at = head_size + body_len + 1 + topic_len
    if props_at + 2 > total:
        return None
    props_len = (data[props_at] << 8) | data[props_at + 1]
    if props_len > MAX_PROPERTIES_LENGTH or props_at + 2 + props_len != total:
        return None
    return _uniform_struct(body_len, topic_len, props_len)


def _columns_alike(columns: tuple[tuple[Any, ...], ...], odd_flags: int) -> bool:
    """True when every record of the split (``_uniform_struct`` order) has the first one's
    TOTALSIZE, magic, body/topic/properties lengths and topic, and no SYSFLAG in
    ``odd_flags``: then each is exactly what :func:`decode_record` would accept."""
    n = len(columns[0])
    sys_flags = columns[7]
    for index in (0, 1, 16, 18, 19, 20):  # totals, magics, body/topic lengths, topics, props
        column = columns[index]
        if column.count(column[0]) != n:
            return False
    return not any(flag & odd_flags for flag in set(sys_flags))


def _property_columns(
    props: tuple[bytes, ...], props_len: int, lazy: bool
) -> tuple[Iterable[object], Iterable[bytes | None]]:
    """Every record's ``properties`` value and ``raw_properties``: a dict of its own each
    (empty, or parsed when not ``lazy``), or one shared ``{}`` (deleted by the caller) and
    the raw bytes when ``lazy``."""
    n = len(props)
    if not props_len:
        return ({} for _ in props), itertools.repeat(None, n)
    if lazy:
        return itertools.repeat({}, n), props
    texts = map(str, props, itertools.repeat("utf-8"), itertools.repeat("replace"))
    return map(parse_properties, texts), itertools.repeat(None, n)


def _decode_uniform(data: bytes, odd_flags: int, lazy_properties: bool) -> list[MessageExt] | None:
    """Decode ``data`` when all its records have the first one's layout (one producer's
    messages of one size: the usual pull answer), else None (nothing decoded).

    Layout of the first record, one ``iter_unpack`` splitting every record into its 22
    fields, a C-level ``count`` per column to check them, then the messages built by
    ``map``: the same messages as :func:`decode_record` gives, record after record."""
    layout = _uniform_layout(data, odd_flags)
    if layout is None:
        return None
    columns = tuple(zip(*layout.iter_unpack(data), strict=True))
    if not _columns_alike(columns, odd_flags):
        return None
    (totals, _magics, crcs, queue_ids, flags, queue_offsets, physs, sys_flags, born_tss,
     born_ips, born_ports, store_tss, store_ips, store_ports, reconsumes, prepareds,
     _body_lens, bodies, _topic_lens, topics, props_lens, props,
     ) = columns  # fmt: skip
    n = len(totals)
    repeat = itertools.repeat
    borns: Iterable[str]
    stores: Iterable[str]
    key = (born_ips[0], born_ports[0], store_ips[0], store_ports[0])
    if (
        born_ips.count(key[0]) == n
        and born_ports.count(key[1]) == n
        and store_ips.count(key[2]) == n
        and store_ports.count(key[3]) == n
    ):
        born, store = _HOST_PAIRS.get(key) or _cached_hosts(*key)
        borns, stores = repeat(born, n), repeat(store, n)
    else:
        borns, stores = _host_columns(born_ips, born_ports, store_ips, store_ports)
    values, raw = _property_columns(props, props_lens[0], lazy_properties)
    # Positional, as in decode_record: Message's fields, then MessageExt's, in declaration
    # order, raw_properties 17th (tests/unit/common/test_common_message_codec.py pins it).
    messages = list(
        map(
            MessageExt, repeat(str(topics[0], "utf-8", "replace"), n), bodies, flags, values,
            queue_ids, queue_offsets, physs, sys_flags, born_tss, borns, store_tss, stores,
            reconsumes, prepareds, crcs, totals, raw,
        )
    )  # fmt: skip
    if lazy_properties and props_lens[0]:
        collections.deque(map(delattr, messages, repeat("properties", n)), 0)
    return messages


def _host_columns(
    born_ips: tuple[bytes, ...],
    born_ports: tuple[int, ...],
    store_ips: tuple[bytes, ...],
    store_ports: tuple[int, ...],
) -> tuple[list[str], list[str]]:
    """The formatted born and store host of every record, from the packed columns."""
    pairs = [
        _HOST_PAIRS.get(key) or _cached_hosts(*key)
        for key in zip(born_ips, born_ports, store_ips, store_ports, strict=True)
    ]
    return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


def decode_records(
    data: bytes | bytearray | memoryview, *, decompress: bool = True, lazy_properties: bool = True
) -> list[MessageExt]:
    """Decode back-to-back records until ``data`` is exhausted (a pull response body).

    Same result and errors as :func:`decode_record` applied record after record. Records that
    all share the first one's layout are decoded column-wise (:func:`_decode_uniform`; figures
    in docs/benchmarks.md). Otherwise the usual record (magic V1, IPv4 hosts, not to be inflated)
    is decoded inline: one unpack of the fixed head, the topic string reused while
    consecutive records share it, the host pair looked up only when it changes. Anything
    else, a malformed record included, goes through :func:`decode_record`.

    With ``lazy_properties`` (the default) a message's properties string is kept as bytes
    and parsed on its first access (see :class:`~rmq_core.common.message.MessageExt`): ~1 µs
    less per record for a reader that never looks at them, ~0.45 µs more for one that reads
    every message's (the first access goes through ``__getattr__``), which should pass False.
    """
    if type(data) is not bytes:
        data = bytes(data)
    odd_flags = _V6_FLAGS | MessageSysFlag.COMPRESSED_FLAG if decompress else _V6_FLAGS
    uniform = _decode_uniform(data, odd_flags, lazy_properties)
    if uniform is not None:
        return uniform
    result: list[MessageExt] = []
    append = result.append
    unpack = _HEAD_V4.unpack_from
    head_size = _HEAD_V4.size
    size = len(data)
    offset = 0
    topic_raw, topic = b"", ""
    host_key: tuple[bytes, int, bytes, int] | None = None
    hosts = ("", "")
    while offset < size:
        if size - offset >= head_size:
            (total, magic, crc, queue_id, flag, queue_offset, phys, sys_flag, born_ts, born_ip,
             born_port, store_ts, store_ip, store_port, reconsume, prepared, body_len,
             ) = unpack(data, offset)  # fmt: skip
            end = offset + total
            body_end = offset + head_size + body_len
            if (
                magic == MESSAGE_MAGIC_CODE_V1
                and not sys_flag & odd_flags
                and total >= _MIN_RECORD_SIZE
                and end <= size
                and body_len >= 0
                and body_end < end
            ):
                props_at = body_end + 1 + data[body_end]
                props_len = (
                    (data[props_at] << 8) | data[props_at + 1] if props_at + 2 <= end else -1
                )
                if 0 <= props_len <= MAX_PROPERTIES_LENGTH and props_at + 2 + props_len == end:
                    if props_at - body_end - 1 != len(topic_raw) or not data.startswith(
                        topic_raw, body_end + 1
                    ):
                        topic_raw = data[body_end + 1 : props_at]
                        topic = str(topic_raw, "utf-8", "replace")
                    key = (born_ip, born_port, store_ip, store_port)
                    if key != host_key:
                        host_key = key
                        hosts = _HOST_PAIRS.get(key) or _cached_hosts(*key)
                    msg = MessageExt(
                        topic,
                        data[offset + head_size : body_end],
                        flag,
                        {}
                        if lazy_properties or not props_len
                        else parse_properties(str(data[props_at + 2 : end], "utf-8", "replace")),
                        queue_id,
                        queue_offset,
                        phys,
                        sys_flag,
                        born_ts,
                        hosts[0],
                        store_ts,
                        hosts[1],
                        reconsume,
                        prepared,
                        crc,
                        total,
                    )
                    if lazy_properties and props_len:
                        msg.raw_properties = data[props_at + 2 : end]
                        del msg.properties
                    append(msg)
                    offset = end
                    continue
        msg, offset = decode_record(
            data, offset, decompress=decompress, lazy_properties=lazy_properties
        )
        append(msg)
    return result


def encode_batch(messages: Iterable[Message]) -> bytes:
    """The SEND_BATCH_MESSAGE body for ``messages`` (each with its own properties)."""
    parts: list[bytes] = []
    for msg in messages:
        props = encode_properties(msg.properties).encode()
        if len(props) > MAX_PROPERTIES_LENGTH:
            raise MessageFormatError(f"properties are {len(props)} bytes, over 32767")
        body = msg.body
        total = _BATCH_HEAD.size + len(body) + 2 + len(props)
        parts.append(_BATCH_HEAD.pack(total, 0, 0, msg.flag, len(body)))
        parts.append(body)
        parts.append(_SHORT.pack(len(props)))
        parts.append(props)
    return b"".join(parts)


def decode_batch(data: bytes | bytearray | memoryview, topic: str = "") -> list[Message]:
    """Split a SEND_BATCH_MESSAGE body into messages of ``topic``.

    Raises MessageFormatError when an entry's lengths do not fit the data.
    """
    result: list[Message] = []
    offset = 0
    size = len(data)
    while offset < size:
        if size - offset < _BATCH_HEAD.size + 2:
            raise MessageFormatError(f"batch entry at {offset} truncated")
        total, _magic, _crc, flag, body_len = _BATCH_HEAD.unpack_from(data, offset)
        pos = offset + _BATCH_HEAD.size
        if body_len < 0 or pos + body_len + 2 > size:
            raise MessageFormatError(f"batch entry at {offset} has bad body length {body_len}")
        body = bytes(data[pos : pos + body_len])
        pos += body_len
        (props_len,) = _SHORT.unpack_from(data, pos)
        pos += 2
        if props_len < 0 or pos + props_len > size:
            raise MessageFormatError(f"batch entry at {offset} has bad properties length")
        properties = decode_properties(data[pos : pos + props_len])
        pos += props_len
        if total != pos - offset:
            raise MessageFormatError(f"batch entry at {offset} has bad total size {total}")
        result.append(Message(topic=topic, body=body, flag=flag, properties=properties))
        offset = pos
    return result


_OFFSET_ID_TAIL = struct.Struct(">iq")


def create_offset_msg_id(store_host: str, commitlog_offset: int) -> str:
    """The offset message id: hex of store ip, int port and long commit-log offset."""
    ip, port, _v6 = parse_host(store_host)
    return (ip + _OFFSET_ID_TAIL.pack(port, commitlog_offset)).hex().upper()


def decode_offset_msg_id(msg_id: str) -> tuple[str, int]:
    """Parse an offset message id into (``"ip:port"``, commit-log offset)."""
    if len(msg_id) not in (32, 56):
        raise MessageFormatError(f"message id {msg_id!r} is not an offset message id")
    try:
        raw = bytes.fromhex(msg_id)
    except ValueError as exc:
        raise MessageFormatError(f"message id {msg_id!r} is not hex") from exc
    ip_len = len(raw) - _OFFSET_ID_TAIL.size
    port, offset = _OFFSET_ID_TAIL.unpack_from(raw, ip_len)
    return format_host(raw[:ip_len], port), offset


@functools.lru_cache(maxsize=8192)
def java_string_hash(s: str) -> int:
    """Java ``String.hashCode()`` of ``s`` as a signed 32-bit int (UTF-16 code units)."""
    h = 0
    if s.isascii():
        for ch in s:
            h = (31 * h + ord(ch)) & 0xFFFFFFFF
    else:
        data = s.encode("utf-16-be", "surrogatepass")
        for i in range(0, len(data), 2):
            h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - 0x100000000 if h >= 0x80000000 else h


class _UniqIdGenerator:
    """MessageClientIDSetter: ip ‖ pid ‖ loader hash ‖ ms since month start ‖ counter."""

    def __init__(self) -> None:
        ip = _local_ip()
        fixed = ip + struct.pack(">Hi", os.getpid() & 0xFFFF, random.getrandbits(31))
        self._prefix = fixed.hex().upper()
        self._counter = itertools.count(random.getrandbits(15))
        self._lock = threading.Lock()
        self._start_ms = 0
        self._next_start_ms = 0

    def _roll_month(self, now_ms: int) -> None:
        now = time.localtime(now_ms / 1000)
        start = time.mktime((now.tm_year, now.tm_mon, 1, 0, 0, 0, 0, 0, -1))
        year, month = (now.tm_year + 1, 1) if now.tm_mon == 12 else (now.tm_year, now.tm_mon + 1)
        nxt = time.mktime((year, month, 1, 0, 0, 0, 0, 0, -1))
        self._start_ms = int(start * 1000)
        self._next_start_ms = int(nxt * 1000)

    def create(self) -> str:
        now_ms = time.time_ns() // 1_000_000
        if now_ms >= self._next_start_ms or now_ms < self._start_ms:
            with self._lock:
                self._roll_month(now_ms)
        elapsed = (now_ms - self._start_ms) & 0xFFFFFFFF
        return f"{self._prefix}{elapsed:08X}{next(self._counter) & 0xFFFF:04X}"


def _local_ip() -> bytes:
    try:
        addr = socket.gethostbyname(socket.gethostname())
        packed = socket.inet_aton(addr)
        if not addr.startswith("127."):
            return packed
    except OSError:
        pass
    return random.getrandbits(32).to_bytes(4, "big")


_UNIQ: list[_UniqIdGenerator] = []
_UNIQ_LOCK = threading.Lock()


def create_uniq_id() -> str:
    """A new client message id (UNIQ_KEY, reference §4.5): 32 upper-case hex chars."""
    if not _UNIQ:
        with _UNIQ_LOCK:
            if not _UNIQ:
                _UNIQ.append(_UniqIdGenerator())
    return _UNIQ[0].create()
