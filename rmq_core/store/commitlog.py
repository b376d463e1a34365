"""``CommitLog``: the append-only log of every message, in RocketMQ's record layout.

Records follow :mod:`rmq_core.common.message_codec` (reference §4.1) in segments laid out as
:mod:`rmq_core.store.formats.commitlog` describes (BLANK filler at a segment's end). The append
path packs fields straight into the mmap under one lock: no fsync, no file creation (the
:class:`~rmq_core.store.allocate.AllocateService` prepares the next segment) and no deletion.

Invariants:
- global offsets grow by exactly each record's TOTALSIZE; a record never spans two segments;
- ``topic_queue_table[(topic, queue_id)]`` is the next logical offset of that queue; PREPARED
  and ROLLBACK records get queue offset 0 and do not advance it;
- store timestamps never decrease along the log (a clock stepping back is clamped), so
  offset-by-time searches can bisect;
- with ``enabled_append_prop_crc`` every record ends with RocketMQ's ``__CRC32#`` property: the
  masked CRC32 of all record bytes before it, as 10 ASCII digits, least significant first.

:func:`check_record` is the one validator, used by recovery (with CRCs) and by the dispatcher.
"""

from __future__ import annotations

import collections
import logging
import mmap
import struct
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rmq_core.common.message import MessageConst, MessageExt, MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import (
    BLANK_MAGIC_CODE,
    MAX_PROPERTIES_LENGTH,
    MAX_V1_TOPIC_LENGTH,
    MESSAGE_MAGIC_CODE_V1,
    MESSAGE_MAGIC_CODE_V2,
    MessageFormatError,
    decode_properties,
    decode_record,
    encode_properties,
    java_string_hash,
    parse_host,
    record_head_struct,
)
from rmq_core.store.allocate import AllocateService
from rmq_core.store.config import StoreConfig
from rmq_core.store.formats.commitlog import BLANK, END_FILE_MIN_BLANK_LENGTH, RECORD_PREFIX
from rmq_core.store.mapped_file import MappedFile
from rmq_core.store.mapped_file_queue import MappedFileQueue
from rmq_core.store.message_filter import LazyProperties
from rmq_core.store.results import AppendMessageResult, AppendMessageStatus

__all__ = [
    "PROP_CRC_LENGTH",
    "SCHEDULE_TOPIC",
    "CommitLog",
    "DispatchRequest",
    "check_record",
]

log = logging.getLogger(__name__)

SCHEDULE_TOPIC = "SCHEDULE_TOPIC_XXXX"
PROP_CRC_LENGTH = 20  # len("__CRC32#") + 1 + 10 digits + 1
_PROP_CRC_PREFIX = b"__CRC32#\x01"
_PREFIX = struct.Struct(">iiiiiqqiq")
_SHORT = struct.Struct(">h")
_BYTE = struct.Struct(">b")
_LONG = struct.Struct(">q")
_INT = struct.Struct(">i")
_CONSUMABLE = (MessageSysFlag.TRANSACTION_NOT_TYPE, MessageSysFlag.TRANSACTION_COMMIT_TYPE)
_V6_BITS = MessageSysFlag.BORNHOST_V6_FLAG | MessageSysFlag.STOREHOSTADDRESS_V6_FLAG
_BAD_TOPIC_CHARS = frozenset("/\\\x00\x01\x02")

END = 0
"""``check_record`` size meaning: no record here (zero bytes), the data ends."""
INVALID = -1
"""``check_record`` size meaning: bytes here are not a valid record."""


@dataclass(slots=True)
class DispatchRequest:
    """What the dispatcher needs of one record (offsets in bytes, timestamps in ms)."""

    topic: str
    queue_id: int
    commitlog_offset: int
    size: int
    tags_code: int
    store_timestamp: int
    queue_offset: int
    sys_flag: int
    keys: str | None
    uniq_key: str | None
    properties: Mapping[str, str]

    @property
    def consumable(self) -> bool:
        """True for NOT_TYPE and COMMIT records (the ones consume queues list)."""
        return self.sys_flag & MessageSysFlag.TRANSACTION_TYPE_MASK in _CONSUMABLE


def crc_property(crc: int) -> bytes:
    """The 20-byte ``__CRC32#`` property for ``crc`` (digits least significant first)."""
    digits = bytes(0x30 + (crc // 10**i) % 10 for i in range(10))
    return _PROP_CRC_PREFIX + digits + b"\x02"


def tags_code_of(
    topic: str, properties: Mapping[str, str], store_timestamp: int, delay_levels: Sequence[int]
) -> int:
    """The consume-queue tagsCode: Java hash of TAGS, or the delivery time (ms) in the
    schedule topic."""
    if topic == SCHEDULE_TOPIC:
        raw = properties.get(MessageConst.PROPERTY_DELAY_TIME_LEVEL)
        if raw is not None and raw.lstrip("-").isdigit() and delay_levels:
            level = min(int(raw), len(delay_levels))
            if level > 0:
                return store_timestamp + delay_levels[level - 1]
    tags = properties.get(MessageConst.PROPERTY_TAGS)
    return java_string_hash(tags) if tags else 0


Buffer = bytes | bytearray | memoryview | mmap.mmap
"""Anything :func:`check_record` can read: bytes, a view or a mapped file."""


def check_record(
    buf: Buffer,
    pos: int,
    limit: int,
    base_offset: int,
    *,
    check_crc: bool,
    delay_levels: Sequence[int] = (),
    require_prop_crc: bool = False,
) -> tuple[int, DispatchRequest | None, str]:
    """Validate the bytes at ``pos`` (``limit`` bytes available to the segment's end).

    Returns ``(size, request, reason)``: a record gives its size and request; a BLANK gives
    its size and None; ``END`` (0) means zero bytes (no more data); ``INVALID`` (-1) means
    damage, with ``reason``. ``base_offset`` is the segment's global start offset: a record
    must carry its own position in PHYSICALOFFSET. Topic and properties must be clean UTF-8
    (no NUL), properties end with their separator, lengths add up to TOTALSIZE, and a
    ``__CRC32#`` property (when present, or always with ``require_prop_crc``) must match.
    """
    if limit < 8:
        return END, None, "segment end"
    total, magic = RECORD_PREFIX.unpack_from(buf, pos)
    if magic == BLANK_MAGIC_CODE:
        if total == limit:
            return total, None, "blank"
        return INVALID, None, f"blank record of size {total} where {limit} bytes remain"
    if magic not in (MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2):
        if total == 0 and magic == 0:
            return END, None, "end of data"
        return INVALID, None, f"bad magic code {magic & 0xFFFFFFFF:#x}"
    if total < 91 or total > limit - 0:
        return INVALID, None, f"bad total size {total}"
    try:
        return _parse_checked(
            buf, pos, total, base_offset, check_crc, delay_levels, magic, require_prop_crc
        )
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        return INVALID, None, f"malformed record: {exc}"


def _parse_checked(
    buf: Buffer,
    pos: int,
    total: int,
    base_offset: int,
    check_crc: bool,
    delay_levels: Sequence[int],
    magic: int,
    require_prop_crc: bool,
) -> tuple[int, DispatchRequest | None, str]:
    sys_flag = _INT.unpack_from(buf, pos + 36)[0]
    head = record_head_struct(sys_flag)
    if head.size + 3 > total:
        return INVALID, None, "record shorter than its header"
    fields = head.unpack_from(buf, pos)
    crc, queue_id, queue_offset, phys = fields[2], fields[3], fields[5], fields[6]
    store_ts, body_len = fields[11], fields[16]
    if phys != base_offset + pos:
        return INVALID, None, f"PHYSICALOFFSET {phys} differs from position {base_offset + pos}"
    end = pos + total
    p = pos + head.size
    if body_len < 0 or p + body_len > end:
        return INVALID, None, f"bad body length {body_len}"
    if check_crc and (zlib.crc32(buf[p : p + body_len]) & 0x7FFFFFFF) != crc:
        return INVALID, None, "body CRC mismatch"
    p += body_len
    if magic == MESSAGE_MAGIC_CODE_V1:
        topic_len = _BYTE.unpack_from(buf, p)[0]
        p += 1
    else:
        topic_len = _SHORT.unpack_from(buf, p)[0]
        p += 2
    if topic_len <= 0 or p + topic_len + 2 > end:
        return INVALID, None, f"bad topic length {topic_len}"
    topic = bytes(buf[p : p + topic_len]).decode("utf-8")
    if _BAD_TOPIC_CHARS.intersection(topic):
        return INVALID, None, "topic holds forbidden characters"
    p += topic_len
    props_len = _SHORT.unpack_from(buf, p)[0]
    p += 2
    if props_len < 0 or p + props_len != end:
        return INVALID, None, f"bad properties length {props_len}"
    raw_props = bytes(buf[p:end])
    if raw_props and (raw_props[-1] != 2 or 0 in raw_props):
        return INVALID, None, "properties not terminated or hold NUL bytes"
    if require_prop_crc or raw_props[-PROP_CRC_LENGTH:].startswith(_PROP_CRC_PREFIX):
        expected = crc_property(zlib.crc32(buf[pos : end - PROP_CRC_LENGTH]) & 0x7FFFFFFF)
        if raw_props[-PROP_CRC_LENGTH:] != expected:
            return INVALID, None, "record CRC property mismatch"
    properties = decode_properties(raw_props.decode("utf-8")) if raw_props else {}
    request = DispatchRequest(
        topic=topic,
        queue_id=queue_id,
        commitlog_offset=phys,
        size=total,
        tags_code=tags_code_of(topic, properties, store_ts, delay_levels),
        store_timestamp=store_ts,
        queue_offset=queue_offset,
        sys_flag=sys_flag,
        keys=properties.get(MessageConst.PROPERTY_KEYS),
        uniq_key=properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX),
        properties=properties,
    )
    return total, request, "ok"


PENDING_DISPATCH_LIMIT = 65536
PendingDispatch = tuple[int, int, str, int, int, int, int, bytes]
"""phys, size, topic, queue id, queue offset, sys flag, store timestamp, properties bytes as
written (without the ``__CRC32#`` property)."""


def request_from_pending(pending: PendingDispatch, delay_levels: Sequence[int]) -> DispatchRequest:
    """The dispatch request of a record described by its writer."""
    phys, size, topic, queue_id, queue_offset, sys_flag, store_ts, raw = pending
    properties = LazyProperties(raw)
    if topic == SCHEDULE_TOPIC:
        tags_code = tags_code_of(topic, properties, store_ts, delay_levels)
    else:
        tags = _prop_value(raw, b"TAGS\x01")
        tags_code = java_string_hash(tags) if tags else 0
    return DispatchRequest(
        topic,
        queue_id,
        phys,
        size,
        tags_code,
        store_ts,
        queue_offset,
        sys_flag,
        _prop_value(raw, b"KEYS\x01"),
        _prop_value(raw, b"UNIQ_KEY\x01"),
        properties,
    )


_FAST_HEAD = struct.Struct(">iiiiiqqi16xq20xi")
"""Fields the dispatcher needs of a record with two IPv4 hosts (88 bytes)."""
_TOPIC_NAMES: dict[bytes, str] = {}


def _prop_value(raw: bytes, key: bytes) -> str | None:
    """Value of property ``key`` (given as ``b"NAME\x01"``) in a raw properties string."""
    if raw.startswith(key):
        start = len(key)
    else:
        at = raw.find(b"\x02" + key)
        if at < 0:
            return None
        start = at + 1 + len(key)
    end = raw.find(b"\x02", start)
    if end <= start:
        return None
    return raw[start:end].decode("utf-8", "replace")


def parse_for_dispatch(
    buf: Buffer, pos: int, limit: int, base_offset: int, delay_levels: Sequence[int]
) -> tuple[int, DispatchRequest | None, str]:
    """:func:`check_record` without CRCs, fast for records this process wrote or recovery
    checked: same results, with properties parsed lazily."""
    if limit < 91:
        return check_record(buf, pos, limit, base_offset, check_crc=False,
                            delay_levels=delay_levels)  # fmt: skip
    (total, magic, _crc, queue_id, _flag, queue_offset, phys, sys_flag, store_ts,
     body_len) = _FAST_HEAD.unpack_from(buf, pos)  # fmt: skip
    if (
        magic != MESSAGE_MAGIC_CODE_V1
        or sys_flag & _V6_BITS
        or total > limit
        or phys != base_offset + pos
        or body_len < 0
        or 88 + body_len + 3 > total
    ):
        return check_record(buf, pos, limit, base_offset, check_crc=False,
                            delay_levels=delay_levels)  # fmt: skip
    p = pos + 88 + body_len
    topic_len = buf[p]
    end = pos + total
    props_at = p + 1 + topic_len + 2
    if props_at > end:
        return INVALID, None, "bad topic length"
    raw_topic = bytes(buf[p + 1 : p + 1 + topic_len])
    topic = _TOPIC_NAMES.get(raw_topic)
    if topic is None:
        topic = raw_topic.decode("utf-8", "replace")
        if len(_TOPIC_NAMES) < 100_000:
            _TOPIC_NAMES[raw_topic] = topic
    if ((buf[props_at - 2] << 8) | buf[props_at - 1]) != end - props_at:
        return INVALID, None, "bad properties length"
    raw = bytes(buf[props_at:end])
    properties = LazyProperties(raw)
    if topic == SCHEDULE_TOPIC:
        tags_code = tags_code_of(topic, properties, store_ts, delay_levels)
    else:
        tags = _prop_value(raw, b"TAGS\x01")
        tags_code = java_string_hash(tags) if tags else 0
    request = DispatchRequest(
        topic,
        queue_id,
        phys,
        total,
        tags_code,
        store_ts,
        queue_offset,
        sys_flag,
        _prop_value(raw, b"KEYS\x01"),
        _prop_value(raw, b"UNIQ_KEY\x01"),
        properties,
    )
    return total, request, "ok"


class AppendRefused(Exception):
    """A message the commit log will not append; ``status`` says why."""

    def __init__(self, status: AppendMessageStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_Hosts = tuple[bytes, int, bytes, int, int, struct.Struct]
"""born ip, born port, store ip, store port, IPv6 sys-flag bits, head struct."""
_Prepared = tuple[MessageExtBrokerInner | MessageExt, bytes, bytes, int, int, int, int, _Hosts]
"""message, body, tail (topic + properties), magic, size, sys flag, body CRC, hosts."""


def _pack_record(
    mm: mmap.mmap, pos: int, prep: _Prepared, queue_offset: int, phys: int, now: int, extra: int
) -> None:
    """Write one record at ``pos`` of ``mm`` in the layout of reference §4.1: the only packer,
    used by single and batch appends. ``extra`` is the length of the ``__CRC32#`` property to
    append (0 for none); ``now`` the store timestamp (ms)."""
    msg, body, tail, magic, size, sys_flag, crc, hosts = prep
    head = hosts[5]
    head.pack_into(mm, pos, size, magic, crc, msg.queue_id, msg.flag, queue_offset, phys,
                   sys_flag, msg.born_timestamp, hosts[0], hosts[1], now, hosts[2], hosts[3],
                   msg.reconsume_times, msg.prepared_transaction_offset, len(body))  # fmt: skip
    p = pos + head.size
    end = p + len(body)
    mm[p:end] = body
    mm[end : end + len(tail)] = tail
    if extra:
        end = pos + size
        record_crc = zlib.crc32(mm[pos : end - PROP_CRC_LENGTH]) & 0x7FFFFFFF
        mm[end - PROP_CRC_LENGTH : end] = crc_property(record_crc)


class CommitLog:
    """The commit log of a store: appends, reads by offset and the queue-offset table."""

    def __init__(self, config: StoreConfig, allocator: AllocateService | None = None) -> None:
        self.config = config
        self.queue = MappedFileQueue(
            config.commit_log_dir,
            config.mapped_file_size_commit_log,
            allocator=allocator,
            root=config.store_path_root_dir,
        )
        self.file_size = config.mapped_file_size_commit_log
        self.topic_queue_table: dict[tuple[str, int], int] = {}
        self.lock = threading.Lock()
        self.last_store_timestamp = 0
        self.delay_levels = config.delay_levels_ms()
        self.prop_crc = config.enabled_append_prop_crc
        self.max_body_size = config.max_message_size
        self.max_record_size = self.file_size - END_FILE_MIN_BLANK_LENGTH
        self._crc_extra = PROP_CRC_LENGTH if self.prop_crc else 0
        self._topics: dict[str, tuple[bytes, int]] = {}
        self.pending_dispatch: collections.deque[PendingDispatch] = collections.deque()
        """Records just appended, described by the writer (in commit-log order) so the
        dispatcher need not parse them back; bounded by ``PENDING_DISPATCH_LIMIT``."""
        self._host_cache: dict[tuple[str, str], _Hosts] = {}

    # -- offsets --------------------------------------------------------------------------
    @property
    def max_offset(self) -> int:
        """Offset just past the last record (0 for an empty log)."""
        return self.queue.max_offset

    @property
    def min_offset(self) -> int:
        """Offset of the first byte still stored."""
        return self.queue.min_offset

    def roll_next_offset(self, offset: int) -> int:
        """Start offset of the segment after the one holding ``offset``."""
        return offset + self.file_size - offset % self.file_size

    # -- appending ------------------------------------------------------------------------
    def _topic_prefix(self, topic: str) -> tuple[bytes, int]:
        """(TOPICLEN + TOPIC bytes, magic) for ``topic``; raises AppendRefused if illegal."""
        cached = self._topics.get(topic)
        if cached is not None:
            return cached
        if not topic or topic in (".", "..") or _BAD_TOPIC_CHARS.intersection(topic):
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, f"illegal topic {topic!r}")
        raw = topic.encode()
        if len(raw) > 0x7FFF:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "topic too long")
        if len(raw) > MAX_V1_TOPIC_LENGTH:
            prefix = (_SHORT.pack(len(raw)) + raw, MESSAGE_MAGIC_CODE_V2)
        else:
            prefix = (_BYTE.pack(len(raw)) + raw, MESSAGE_MAGIC_CODE_V1)
        if len(self._topics) > 100_000:
            self._topics.clear()
        self._topics[topic] = prefix
        return prefix

    def _hosts(self, born_host: str, store_host: str) -> _Hosts:
        """Packed hosts, their IPv6 sys-flag bits and the head struct; cached per pair."""
        key = (born_host, store_host)
        cached = self._host_cache.get(key)
        if cached is not None:
            return cached
        try:
            born_ip, born_port, born_v6 = parse_host(born_host)
            store_ip, store_port, store_v6 = parse_host(store_host)
        except MessageFormatError as exc:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, str(exc)) from exc
        bits = (MessageSysFlag.BORNHOST_V6_FLAG if born_v6 else 0) | (
            MessageSysFlag.STOREHOSTADDRESS_V6_FLAG if store_v6 else 0
        )
        hosts = (born_ip, born_port, store_ip, store_port, bits, record_head_struct(bits))
        if len(self._host_cache) > 10_000:
            self._host_cache.clear()
        self._host_cache[key] = hosts
        return hosts

    def _prepare(self, msg: MessageExtBrokerInner | MessageExt) -> _Prepared:
        """Encode everything but the offsets and store time; raise AppendRefused if illegal."""
        topic_prefix, magic = self._topics.get(msg.topic) or self._topic_prefix(msg.topic)
        queue_id = msg.queue_id
        if not 0 <= queue_id <= 0x7FFFFFFF:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, f"bad queue id {queue_id}")
        body = msg.body
        if len(body) > self.max_body_size:
            raise AppendRefused(
                AppendMessageStatus.MESSAGE_SIZE_EXCEEDED,
                f"body of {len(body)} bytes exceeds maxMessageSize {self.max_body_size}",
            )
        props_text = getattr(msg, "properties_string", None)
        if props_text is None:
            props_text = encode_properties(msg.properties)
        props = props_text.encode()
        props_len = len(props) + self._crc_extra
        if props_len > MAX_PROPERTIES_LENGTH:
            raise AppendRefused(
                AppendMessageStatus.PROPERTIES_SIZE_EXCEEDED,
                f"properties of {len(props)} bytes exceed {MAX_PROPERTIES_LENGTH}",
            )
        if "\x00" in props_text:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "properties hold NUL")
        hosts = self._host_cache.get((msg.born_host, msg.store_host)) or self._hosts(
            msg.born_host, msg.store_host
        )
        tail = topic_prefix + _SHORT.pack(props_len) + props
        size = hosts[5].size + len(body) + len(tail) + self._crc_extra
        if size > self.max_record_size:
            raise AppendRefused(
                AppendMessageStatus.MESSAGE_SIZE_EXCEEDED,
                f"record of {size} bytes does not fit a segment of {self.file_size}",
            )
        sys_flag = (msg.sys_flag & ~_V6_BITS) | hosts[4]
        crc = zlib.crc32(body) & 0x7FFFFFFF
        return (msg, body, tail, magic, size, sys_flag, crc, hosts)

    def put(self, msg: MessageExtBrokerInner | MessageExt) -> AppendMessageResult:
        """Append one message; raises :class:`AppendRefused` for a message it cannot store.

        Sets ``msg.queue_offset``, ``msg.commitlog_offset`` and ``msg.store_timestamp``.
        This is the hot path: :meth:`_prepare` and :meth:`_write` inlined, but the bytes are
        packed by the same :func:`_pack_record` as a batch's.
        """
        topic = msg.topic
        topic_prefix, magic = self._topics.get(topic) or self._topic_prefix(topic)
        queue_id = msg.queue_id
        body = msg.body
        body_len = len(body)
        props_text = getattr(msg, "properties_string", None)
        if props_text is None:
            props_text = encode_properties(msg.properties)
        props = props_text.encode()
        extra = self._crc_extra
        props_len = len(props) + extra
        hosts = self._host_cache.get((msg.born_host, msg.store_host)) or self._hosts(
            msg.born_host, msg.store_host
        )
        head = hosts[5]
        if props_len > MAX_PROPERTIES_LENGTH:
            self._prepare(msg)  # raises the precise refusal
        tail = topic_prefix + _SHORT.pack(props_len) + props
        size = head.size + body_len + len(tail) + extra
        if (
            body_len > self.max_body_size
            or props_len > MAX_PROPERTIES_LENGTH
            or size > self.max_record_size
            or not 0 <= queue_id <= 0x7FFFFFFF
            or "\x00" in props_text
        ):
            self._prepare(msg)  # raises the precise refusal
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "message refused")
        sys_flag = (msg.sys_flag & ~_V6_BITS) | hosts[4]
        crc = zlib.crc32(body) & 0x7FFFFFFF
        consumable = not sys_flag & MessageSysFlag.TRANSACTION_PREPARED_TYPE
        with self.lock:
            mapped = self.queue.last_for_append()
            pos = mapped.wrote_position
            if pos + size + END_FILE_MIN_BLANK_LENGTH > self.file_size:
                self._fill_blank(mapped, pos)
                mapped = self.queue.last_for_append()
                pos = 0
            now = time.time_ns() // 1_000_000
            if now < self.last_store_timestamp:
                now = self.last_store_timestamp
            phys = mapped.file_from_offset + pos
            if consumable:
                key = (topic, queue_id)
                table = self.topic_queue_table
                queue_offset = table.get(key, 0)
                table[key] = queue_offset + 1
            else:
                queue_offset = 0
            _pack_record(mapped.mm, pos, (msg, body, tail, magic, size, sys_flag, crc, hosts),
                         queue_offset, phys, now, extra)  # fmt: skip
            mapped.wrote_position = pos + size
            self.last_store_timestamp = now
            pending = self.pending_dispatch
            if len(pending) < PENDING_DISPATCH_LIMIT:
                pending.append((phys, size, topic, queue_id, queue_offset, sys_flag, now, props))
        msg.queue_offset = queue_offset
        msg.commitlog_offset = phys
        msg.store_timestamp = now
        return AppendMessageResult(
            AppendMessageStatus.PUT_OK, phys, size, msg.store_host, now, queue_offset, 1
        )

    def put_batch(
        self, messages: Sequence[MessageExtBrokerInner | MessageExt]
    ) -> AppendMessageResult:
        """Append ``messages`` (one topic and queue) as consecutive records in one segment.

        Queue offsets are consecutive; raises :class:`AppendRefused` if any message is refused
        or the whole batch cannot fit one segment (nothing is written then).
        """
        if not messages:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "empty batch")
        preps = [self._prepare(m) for m in messages]
        if len({(m.topic, m.queue_id) for m in messages}) != 1:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "batch spans several queues")
        total = sum(p[4] for p in preps)
        if total > self.max_record_size:
            raise AppendRefused(
                AppendMessageStatus.MESSAGE_SIZE_EXCEEDED,
                f"batch of {total} bytes does not fit a segment of {self.file_size}",
            )
        extra = self._crc_extra
        table = self.topic_queue_table
        key = (messages[0].topic, messages[0].queue_id)
        pending = self.pending_dispatch
        props_at = len(self._topics[key[0]][0]) + 2  # tail: topic prefix, PROPLEN, properties
        prepared_bit = MessageSysFlag.TRANSACTION_PREPARED_TYPE  # PREPARED or ROLLBACK
        offsets: list[int] = []
        queue_offsets: list[int] = []
        with self.lock:
            mapped = self.queue.last_for_append()
            pos = mapped.wrote_position
            if pos + total + END_FILE_MIN_BLANK_LENGTH > self.file_size:
                self._fill_blank(mapped, pos)
                mapped = self.queue.last_for_append()
                pos = 0
            now = max(time.time_ns() // 1_000_000, self.last_store_timestamp)
            mm = mapped.mm
            base = mapped.file_from_offset
            first_queue_offset = next_queue_offset = table.get(key, 0)
            room = PENDING_DISPATCH_LIMIT - len(pending)  # records still to describe
            for prep in preps:
                phys = base + pos
                if prep[5] & prepared_bit:
                    queue_offset = 0
                else:
                    queue_offset = next_queue_offset
                    next_queue_offset += 1
                _pack_record(mm, pos, prep, queue_offset, phys, now, extra)
                queue_offsets.append(queue_offset)
                offsets.append(phys)
                pos += prep[4]
                if room > 0:
                    room -= 1
                    pending.append((phys, prep[4], key[0], key[1], queue_offset, prep[5], now,
                                    prep[2][props_at:]))  # fmt: skip
            if next_queue_offset != first_queue_offset:
                table[key] = next_queue_offset
            mapped.wrote_position = pos
            self.last_store_timestamp = now
        for msg, phys, queue_offset in zip(messages, offsets, queue_offsets, strict=True):
            msg.queue_offset = queue_offset
            msg.commitlog_offset = phys
            msg.store_timestamp = now
        return AppendMessageResult(
            AppendMessageStatus.PUT_OK,
            offsets[0],
            total,
            messages[0].store_host,
            now,
            queue_offsets[0],
            len(preps),
            tuple(offsets),
        )

    def _fill_blank(self, mapped: MappedFile, pos: int) -> None:
        remaining = self.file_size - pos
        BLANK.pack_into(mapped.mm, pos, remaining, BLANK_MAGIC_CODE)
        mapped.wrote_position = self.file_size

    # -- reading --------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> memoryview | None:
        """A view of ``size`` stored bytes at global ``offset``, or None."""
        mapped = self.queue.find(offset)
        if mapped is None:
            return None
        return mapped.read(offset - mapped.file_from_offset, size)

    def record_size_at(self, offset: int) -> int | None:
        """TOTALSIZE of the message record at ``offset``, or None if there is none."""
        view = self.read(offset, 8)
        if view is None:
            return None
        with view:
            total, magic = RECORD_PREFIX.unpack_from(view)
        if magic not in (MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2) or total < 91:
            return None
        return int(total)

    def read_record(self, offset: int) -> memoryview | None:
        """A view of the whole message record at ``offset``, or None."""
        size = self.record_size_at(offset)
        return None if size is None else self.read(offset, size)

    def store_timestamp_at(self, offset: int) -> int | None:
        """STORETIMESTAMP (ms) of the record at ``offset``, or None."""
        view = self.read(offset, 84)
        if view is None:
            return None
        with view:
            sys_flag = _INT.unpack_from(view, 36)[0]
            at = 68 if sys_flag & MessageSysFlag.BORNHOST_V6_FLAG else 56
            return int(_LONG.unpack_from(view, at)[0])

    def look_message(self, offset: int) -> MessageExt | None:
        """The decoded message at ``offset``, or None if there is no valid record there."""
        view = self.read_record(offset)
        if view is None:
            return None
        with view:
            try:
                return decode_record(view, 0, decompress=False)[0]
            except MessageFormatError:
                log.warning("record at %d does not decode", offset)
                return None

    def prepare_next(self) -> None:
        """Ask the allocator for the segment after the last one (after start)."""
        allocator = self.queue.allocator
        last = self.queue.last
        if allocator is not None and last is not None:
            nxt = last.file_from_offset + self.file_size
            allocator.request(self.queue.path_for(nxt), self.file_size, nxt)
