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
import itertools
import logging
import mmap
import operator
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from rmq_core.common.crc import crc32
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
from rmq_core.store.batch import BatchEntry, EncodedBatch
from rmq_core.store.config import StoreConfig
from rmq_core.store.formats.commitlog import BLANK, END_FILE_MIN_BLANK_LENGTH, RECORD_PREFIX
from rmq_core.store.mapped_file import NOT_WARMING, PAGE_SIZE, MappedFile
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


def properties_refusal(raw: bytes) -> str | None:
    """Why a record's stored properties string is not acceptable, or None if it is: empty, or
    ending with the ``\x02`` separator, holding no NUL byte and valid UTF-8.

    The one rule shared by recovery (a record breaking it is INVALID and truncates the log)
    and every append path (which refuses such a string, so recovery never drops an
    acknowledged record)."""
    if not raw:
        return None
    if raw[-1] != 2:
        return "properties not terminated by \\x02"
    if 0 in raw:
        return "properties hold NUL"
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"properties are not UTF-8: {exc}"
    return None


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
    if check_crc and (crc32(buf[p : p + body_len]) & 0x7FFFFFFF) != crc:
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
    refusal = properties_refusal(raw_props)
    if refusal is not None:
        return INVALID, None, refusal
    if require_prop_crc or raw_props[-PROP_CRC_LENGTH:].startswith(_PROP_CRC_PREFIX):
        expected = crc_property(crc32(buf[pos : end - PROP_CRC_LENGTH]) & 0x7FFFFFFF)
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


WARM_AHEAD_BYTES = 16 * 1024 * 1024
"""How far ahead of the writer the allocator thread pre-faults the segment being written (see
:meth:`CommitLog.warm_ahead`)."""
WARM_STEP_BYTES = 4 * 1024 * 1024
"""Bytes :meth:`CommitLog.warm_ahead` claims and zeroes at a time: the most a writer reaching
the range being zeroed waits for (~0.4-2 ms of ``pwrite``). The warmer needs the GIL between
steps, which a busy writer hands over only every switch interval (5 ms): with 1 MiB steps it
fell behind and the writer faulted (batches of 32, append only, 3 alternating pairs: 255-262k
with 1 MiB vs 292-311k appends/s with 4 MiB; the live broker's pipelined send the same,
162-175k vs 164-170k msg/s; under SYNC_FLUSH the 2 MiB window is one step)."""
WARM_AHEAD_BYTES_SYNC = 2 * 1024 * 1024
"""The same under SYNC_FLUSH, where the next fdatasync writes the zeros: 64 one-message writers,
fdatasync p99 / max 2.9 / 10-12 ms with 16 MiB, 1.1-2.0 / 7-8.5 ms with 2 MiB (0.65 ms p50 and
24-26 ms max without pre-faulting), the same appends/s."""


REFAULT_MIN_BYTES = 16 * 1024
"""Least :meth:`CommitLog.refault_after_sync` faults back in past the writer."""


class _Rolls(Exception):
    """Raised by ``CommitLog._room_for`` when an append needs a BLANK filler and the next
    segment (see there)."""


def _wait_for_warm(mapped: MappedFile) -> None:
    """Wait until the pre-faulting of ``mapped`` running now has finished (it holds the lock
    while it writes zeros)."""
    with mapped.warm_lock:
        pass


PENDING_DISPATCH_BYTES = 64 * 1024 * 1024
"""Most commit-log bytes ``CommitLog.pending_dispatch`` describes ahead of the dispatcher; past
that (or past ``PENDING_DISPATCH_ENTRIES``), appends are not described and the dispatcher parses
them back from the log."""
PENDING_DISPATCH_ENTRIES = 65_536
"""Most appends ``CommitLog.pending_dispatch`` holds (each ~430 bytes of heap for a single
record: the bytes bound alone allowed ~180 MB of descriptions of small records)."""
PendingDispatch = tuple[int, int, str, int, int, int, int, list[int], list[bytes]]
"""One append described by its writer: first record's phys, total bytes, topic, queue id, first
queue offset (0 for PREPARED/ROLLBACK), sys flag, store timestamp (ms), every record's size and
its properties bytes as written (without the ``__CRC32#`` property). Records of one entry are
consecutive in the log and share topic, queue, sys flag and store timestamp; consumable ones
have consecutive queue offsets."""
PD_PHYS: Final = 0
"""Position of the first record's phys in a :data:`PendingDispatch`."""
PD_TOTAL: Final = 1
"""Position of the total bytes in a :data:`PendingDispatch`."""
PD_SIZES: Final = 7
"""Position of the record sizes in a :data:`PendingDispatch`."""


def requests_from_pending(
    pending: PendingDispatch, delay_levels: Sequence[int]
) -> list[DispatchRequest]:
    """The dispatch requests of the records of one described append, in log order."""
    phys, _total, topic, queue_id, queue_offset, sys_flag, store_ts, sizes, props = pending
    step = 0 if sys_flag & MessageSysFlag.TRANSACTION_PREPARED_TYPE else 1
    requests: list[DispatchRequest] = []
    for size, raw in zip(sizes, props, strict=True):
        properties = LazyProperties(raw)
        if topic == SCHEDULE_TOPIC:
            tags_code = tags_code_of(topic, properties, store_ts, delay_levels)
        else:
            tags_code = tag_hash(prop_value(raw, b"TAGS\x01"))
        keys, uniq_key = _prop_str(raw, b"KEYS\x01"), _prop_str(raw, b"UNIQ_KEY\x01")
        request = DispatchRequest(topic, queue_id, phys, size, tags_code, store_ts, queue_offset,
                                  sys_flag, keys, uniq_key, properties)  # fmt: skip
        requests.append(request)
        phys += size
        queue_offset += step
    return requests


_TAG_HASHES: dict[bytes, int] = {}
_TAG_HASH_LIMIT = 4096
"""Most distinct TAGS values whose Java hash :func:`tag_hash` keeps (cleared when reached)."""


def tags_codes(props: Sequence[bytes], joined: bytes | None = None) -> list[int]:
    """The consume-queue tags code of each raw properties string (see :func:`tag_hash`):
    ``tag_hash(prop_value(raw, b"TAGS\x01"))``. ``joined``: the strings' concatenation, if the
    caller has it.

    The records of a batch usually start with the same ``TAGS`` property: a string starting
    with the previous one's ``TAGS\x01value\x02`` gets its code without a search (kept only
    when the joined batch holds one ``TAGS\x01`` per string that has TAGS: none given twice);
    a batch without ``TAGS\x01`` anywhere gets zeros without a search per string.
    """
    if joined is None:
        joined = b"".join(props)
    if joined.find(b"TAGS\x01") < 0:
        return [0] * len(props)
    cache = _TAG_HASHES
    codes: list[int] = []
    add = codes.append
    leading = b"\x00"  # the previous string's leading TAGS property (never a prefix at first)
    leading_code = 0
    untagged = 0  # strings without a TAGS value (each of the others holds a TAGS\x01)
    for raw in props:
        if raw.startswith(leading):
            add(leading_code)
            continue
        tags = prop_value(raw, b"TAGS\x01")
        code = cache.get(tags) if tags else 0
        if code is None:
            code = tag_hash(tags)
        if not tags:
            untagged += 1
        elif raw.startswith(b"TAGS\x01"):
            leading, leading_code = raw[: 6 + len(tags)], code
        add(code)
    if leading != b"\x00" and joined.count(b"TAGS\x01") != len(props) - untagged:  # twice
        return [tag_hash(prop_value(raw, b"TAGS\x01")) for raw in props]
    return codes


def tag_hash(tags: bytes | None) -> int:
    """The consume-queue tags code of a TAGS value given as UTF-8 bytes (0 for none): Java
    ``String.hashCode``, cached per value (bounded)."""
    if not tags:
        return 0
    code = _TAG_HASHES.get(tags)
    if code is None:
        code = java_string_hash(tags.decode("utf-8", "replace"))
        if len(_TAG_HASHES) >= _TAG_HASH_LIMIT:
            _TAG_HASHES.clear()
        _TAG_HASHES[tags] = code
    return code


_FAST_HEAD = struct.Struct(">iiiiiqqi16xq20xi")
"""Fields the dispatcher needs of a record with two IPv4 hosts (88 bytes)."""
_TOPIC_NAMES: dict[bytes, str] = {}


def prop_value(raw: bytes, key: bytes) -> bytes | None:
    """Value bytes of property ``key`` (given as ``b"NAME\x01"``) in a raw properties string,
    or None when absent or empty: the last occurrence of ``key`` at the start or after a
    ``\x02`` separator whose value is not empty and ends with a separator. Java's
    ``string2messageProperties`` (and :func:`~rmq_core.common.message.parse_properties`) keeps
    the last non-empty value of a property given twice; a stored string ends with ``\x02``."""
    at = raw.rfind(key)
    while at >= 0:
        if at == 0 or raw[at - 1] == 2:
            start = at + len(key)
            end = raw.find(b"\x02", start)
            if end > start:
                return raw[start:end]
        at = raw.rfind(key, 0, at + len(key) - 1)  # the occurrence before (even overlapping)
    return None


def _prop_str(raw: bytes, key: bytes) -> str | None:
    """:func:`prop_value` decoded (invalid UTF-8 replaced)."""
    value = prop_value(raw, key)
    return None if value is None else value.decode("utf-8", "replace")


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
        tags_code = tag_hash(prop_value(raw, b"TAGS\x01"))
    request = DispatchRequest(
        topic,
        queue_id,
        phys,
        total,
        tags_code,
        store_ts,
        queue_offset,
        sys_flag,
        _prop_str(raw, b"KEYS\x01"),
        _prop_str(raw, b"UNIQ_KEY\x01"),
        properties,
    )
    return total, request, "ok"


RUN_MAX_RECORDS = 1024
"""Most records one :func:`describe_runs` call describes."""


def describe_runs(
    buf: mmap.mmap, pos: int, limit: int, base_offset: int
) -> tuple[int, list[PendingDispatch]]:
    """The records from ``pos`` (within ``limit`` bytes of ``buf``, a segment starting at
    commit-log offset ``base_offset``) described as writers describe their appends
    (:data:`PendingDispatch`, properties as stored), each description a run that one batch
    dispatch can take: consecutive V1 records with IPv4 hosts passing
    :func:`parse_for_dispatch`'s fast checks, of one topic (not ``SCHEDULE_TOPIC``) and queue,
    one sys flag (neither PREPARED nor ROLLBACK) and store timestamp (ms), with consecutive
    queue offsets. Stops at the first record that is not such a record, or after
    :data:`RUN_MAX_RECORDS` records.

    Returns (bytes covered, descriptions in log order); (0, []) when the record at ``pos`` is
    not such a record: the caller parses that one with :func:`parse_for_dispatch`.
    Dispatching the descriptions writes the same consume-queue units and index entries as
    dispatching the records one by one (without a CRC check, as :func:`parse_for_dispatch`:
    recovery checked them).
    """
    end_limit = start = run_at = pos
    end_limit += limit
    runs: list[PendingDispatch] = []
    count = 0
    sizes: list[int] = []
    props: list[bytes] = []
    topic, raw_topic, run_topic = "", b"", ""
    queue_id = sys_flag = store_ts = next_offset = first_offset = -1
    while pos + 91 <= end_limit and count < RUN_MAX_RECORDS:
        (total, magic, _crc, r_queue_id, _flag, r_offset, phys, r_sys_flag, r_store_ts,
         body_len) = _FAST_HEAD.unpack_from(buf, pos)  # fmt: skip
        end = pos + total
        if (
            magic != MESSAGE_MAGIC_CODE_V1
            or r_sys_flag & (_V6_BITS | _PREPARED_BIT)
            or end > end_limit
            or phys != base_offset + pos
            or body_len < 0
            or 88 + body_len + 3 > total
        ):
            break
        p = pos + 88 + body_len
        props_at = p + 1 + buf[p] + 2
        if props_at > end or ((buf[props_at - 2] << 8) | buf[props_at - 1]) != end - props_at:
            break
        r_topic = buf[p + 1 : props_at - 2]
        if (
            r_offset != next_offset
            or r_queue_id != queue_id
            or r_store_ts != store_ts
            or r_sys_flag != sys_flag
            or r_topic != raw_topic
        ):
            if r_topic != raw_topic:
                name = _TOPIC_NAMES.get(r_topic)
                name = r_topic.decode("utf-8", "replace") if name is None else name
                if name == SCHEDULE_TOPIC:
                    break
                topic, raw_topic = name, r_topic
            if sizes:
                runs.append((base_offset + run_at, pos - run_at, run_topic, queue_id,
                             first_offset, sys_flag, store_ts, sizes, props))  # fmt: skip
            run_topic = topic
            run_at, sizes, props = pos, [], []
            queue_id, sys_flag, store_ts, first_offset = (
                r_queue_id,
                r_sys_flag,
                r_store_ts,
                r_offset,
            )
        sizes.append(total)
        props.append(buf[props_at:end])
        next_offset = r_offset + 1
        count += 1
        pos = end
    if sizes:
        runs.append((base_offset + run_at, pos - run_at, run_topic, queue_id, first_offset,
                     sys_flag, store_ts, sizes, props))  # fmt: skip
    return pos - start, runs


class AppendRefused(Exception):
    """A message the commit log will not append; ``status`` says why."""

    def __init__(self, status: AppendMessageStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_Hosts = tuple[bytes, int, bytes, int, int, struct.Struct, struct.Struct, struct.Struct]
"""born ip, born port, store ip, store port, IPv6 sys-flag bits, the struct of the fields from
SYSFLAG through PREPAREDTRANSACTIONOFFSET (the head's middle), the head struct (middle packed as
one field) and the whole-head struct (all 17 fields): see :func:`_head_structs`."""
_Mid = tuple[int, int, _Hosts, int, int]
"""What a record's head middle holds besides the store time: sys flag (with the IPv6 bits),
born timestamp (ms), hosts, reconsume times, prepared-transaction offset."""
_Checked = tuple[BatchEntry, int, int, _Mid]
"""A message checked for appending: its (flag, body, properties) entry, record size, body CRC
and head middle."""
_Run = tuple[Sequence[BatchEntry], Sequence[int], Sequence[int], _Mid]
"""Consecutive records sharing one head middle: entries, record sizes, body CRCs, middle."""
_PREPARED_BIT = MessageSysFlag.TRANSACTION_PREPARED_TYPE  # set for PREPARED and ROLLBACK
_CRC_MASK = 0x7FFFFFFF
_pack_short = _SHORT.pack


def _check_properties(props: Sequence[bytes]) -> None:
    """Raise AppendRefused unless every properties string passes :func:`properties_refusal`
    (checked for the whole batch at once: empty or ``\x02``-terminated, no NUL, ASCII)."""
    joined = b"".join(props)
    if (
        b"\x00" in joined
        or not joined.isascii()
        or not _TERMINATED.issuperset(map(_last_byte, filter(None, props)))
    ):
        for raw in props:
            refusal = properties_refusal(raw)
            if refusal is not None:
                raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, refusal)


_TERMINATED = frozenset((2,))
_last_byte = operator.itemgetter(-1)


def _head_structs(
    born_v6: bool, store_v6: bool
) -> tuple[struct.Struct, struct.Struct, struct.Struct]:
    """(middle struct, head struct, whole-head struct) for hosts of these families. The head
    packs TOTALSIZE, MAGICCODE, BODYCRC, QUEUEID, FLAG, QUEUEOFFSET, PHYSICALOFFSET, the packed
    middle as one field, and BODYLEN: 9 arguments per record of a batch instead of 17; the
    whole head takes the 17 fields at once (one record: one pack instead of two)."""
    born, store = ("16s" if born_v6 else "4s"), ("16s" if store_v6 else "4s")
    middle = struct.Struct(f">iq{born}iq{store}iiq")
    whole = struct.Struct(f">iiiiiqqiq{born}iq{store}iiqi")
    return middle, struct.Struct(f">iiiiiqq{middle.size}si"), whole


_HEADS = {(b, s): _head_structs(b, s) for b in (False, True) for s in (False, True)}
_Columns = tuple[Sequence[int], Sequence[bytes], Sequence[bytes]]
"""A uniform run's flags, bodies and properties (every body, and every properties string, of
one length; flags within int32), packed by :func:`_pack_uniform_into`."""
_FIELDS = 13
"""Fields per record in a :func:`_uniform_struct`."""
_UNIFORM_STRUCTS: dict[tuple[int, int, int, int, int], struct.Struct] = {}
_UNIFORM_STRUCT_LIMIT = 256
"""Most uniform-run structs kept (the dict is cleared when reached)."""
_UNIFORM_CHUNK = 64
"""Most records one uniform struct packs: a longer run is packed in chunks, so a cached
struct holds at most 13 x 64 codes (~27 KiB) whatever the batch's count."""
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _uniform_struct(count: int, middle: int, body: int, topic: int, props: int) -> struct.Struct:
    """The struct of ``count`` consecutive records (reference §4.1, no ``__CRC32#`` property)
    whose head middle, body, topic field and properties have these byte lengths: TOTALSIZE,
    MAGICCODE, BODYCRC, QUEUEID, FLAG, QUEUEOFFSET, PHYSICALOFFSET, middle, BODYLEN, body,
    topic field, PROPERTIESLENGTH, properties; cached per shape (bounded)."""
    key = (count, middle, body, topic, props)
    packer = _UNIFORM_STRUCTS.get(key)
    if packer is None:
        packer = struct.Struct(">" + f"iiiiiqq{middle}si{body}s{topic}sh{props}s" * count)
        if len(_UNIFORM_STRUCTS) >= _UNIFORM_STRUCT_LIMIT:
            _UNIFORM_STRUCTS.clear()
        _UNIFORM_STRUCTS[key] = packer
    return packer


def _pack_uniform_into(
    buf: mmap.mmap,
    pos: int,
    run: _Run,
    columns: _Columns,
    queue_id: int,
    magic: int,
    topic_field: bytes,
    phys: int,
    queue_offset: int,
    now: int,
) -> tuple[int, int]:
    """:func:`_pack_records` of a uniform run without the ``__CRC32#`` property, written
    straight into ``buf`` at ``pos``: the same bytes, by one struct call for the whole run
    (arguments laid out column by column) instead of a pack, a part list and a join per
    record. Nothing can fail once the middle is packed: the flags were checked, every other
    field is the store's own. Returns what :func:`_pack_records` returns."""
    _entries, sizes, crcs, (sys_flag, born_ts, hosts, reconsume, prepared) = run
    flags, bodies, props = columns
    middle = hosts[5].pack(sys_flag, born_ts, hosts[0], hosts[1], now, hosts[2], hosts[3],
                           reconsume, prepared)  # fmt: skip
    count = len(sizes)
    size = sizes[0]
    step = 0 if sys_flag & _PREPARED_BIT else 1
    args: list[object] = [None] * (_FIELDS * count)
    args[0::_FIELDS] = sizes
    args[1::_FIELDS] = [magic] * count
    args[2::_FIELDS] = crcs
    args[3::_FIELDS] = [queue_id] * count
    args[4::_FIELDS] = flags
    args[5::_FIELDS] = range(queue_offset, queue_offset + count) if step else [0] * count
    args[6::_FIELDS] = range(phys, phys + count * size, size)
    args[7::_FIELDS] = [middle] * count
    args[8::_FIELDS] = [len(bodies[0])] * count
    args[9::_FIELDS] = bodies
    args[10::_FIELDS] = [topic_field] * count
    args[11::_FIELDS] = [len(props[0])] * count
    args[12::_FIELDS] = props
    shape = (len(middle), len(bodies[0]), len(topic_field), len(props[0]))
    if count <= _UNIFORM_CHUNK:  # a producer's batch: one struct, no argument slices
        _uniform_struct(count, *shape).pack_into(buf, pos, *args)
        return phys + count * size, queue_offset + step * count
    for first in range(0, count, _UNIFORM_CHUNK):
        n = min(_UNIFORM_CHUNK, count - first)
        _uniform_struct(n, *shape).pack_into(
            buf, pos + first * size, *args[first * _FIELDS : (first + n) * _FIELDS]
        )
    return phys + count * size, queue_offset + step * count


def _pack_records(
    parts: list[bytes],
    run: _Run,
    queue_id: int,
    magic: int,
    topic_field: bytes,
    phys: int,
    queue_offset: int,
    now: int,
    extra: int,
) -> tuple[int, int]:
    """Add to ``parts`` the records of ``run`` in the layout of reference §4.1; return the
    commit-log offset and queue offset after them. The general record packer: batches, encoded
    batches and single puts with the ``__CRC32#`` property. Every place that knows the layout
    (a layout change touches them all): this function, :func:`_pack_uniform_into` with
    :func:`_uniform_struct` (uniform encoded batches without ``__CRC32#``), the whole-head
    struct in ``CommitLog._append_one`` (single puts without it) and :func:`_head_structs`.

    ``phys`` is the first record's commit-log offset, ``queue_offset`` the queue's next logical
    offset (PREPARED and ROLLBACK records get 0 and do not advance it), ``now`` the store time
    (ms), ``extra`` the length of the ``__CRC32#`` property to append (0 for none). The head's
    middle (sys flag through prepared-transaction offset) is packed once for the run.
    """
    entries, sizes, crcs, (sys_flag, born_ts, hosts, reconsume, prepared) = run
    middle = hosts[5].pack(sys_flag, born_ts, hosts[0], hosts[1], now, hosts[2], hosts[3],
                           reconsume, prepared)  # fmt: skip
    pack = hosts[6].pack
    step = 0 if sys_flag & _PREPARED_BIT else 1
    offset = queue_offset if step else 0
    add = parts.extend
    if len(sizes) == 1 and not extra:  # the single-send path: no zip, no per-record tuples
        flag, body, props = entries[0]
        add((pack(sizes[0], magic, crcs[0], queue_id, flag, offset, phys, middle, len(body)),
             body, topic_field, _pack_short(len(props)), props))  # fmt: skip
        return phys + sizes[0], queue_offset + step
    # Equal lengths by construction; zip's keyword alone costs ~0.25 us a call here.
    for (flag, body, props), size, crc in zip(entries, sizes, crcs):  # noqa: B905
        head = pack(size, magic, crc, queue_id, flag, offset, phys, middle, len(body))
        props_len = _pack_short(len(props) + extra)
        add((head, body, topic_field, props_len, props))
        if extra:
            record_crc = crc32(props, crc32(props_len, crc32(
                topic_field, crc32(body, crc32(head)))))  # fmt: skip
            parts.append(crc_property(record_crc & _CRC_MASK))
        phys += size
        offset += step
    return phys, queue_offset + step * len(sizes)


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
        """Appends described by their writer (in commit-log order) so the dispatcher need not
        parse them back; at most ``PENDING_DISPATCH_BYTES`` of the log ahead of the oldest and
        ``PENDING_DISPATCH_ENTRIES`` appends."""
        self._host_cache: dict[tuple[str, str], _Hosts] = {}
        window = WARM_AHEAD_BYTES_SYNC if config.sync_flush else WARM_AHEAD_BYTES
        self._warm_window = window if allocator else 0
        self._warm_low = self._warm_window * 3 // 4  # wake the warmer with this much left
        if self._warm_window and allocator is not None:
            allocator.warmer = self.warm_ahead

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
        """Packed hosts, their IPv6 sys-flag bits and the head structs; cached per pair."""
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
        middle, head, whole = _HEADS[(born_v6, store_v6)]
        hosts = (born_ip, born_port, store_ip, store_port, bits, middle, head, whole)
        if len(self._host_cache) > 10_000:
            self._host_cache.clear()
        self._host_cache[key] = hosts
        return hosts

    def _check(self, msg: MessageExtBrokerInner | MessageExt) -> _Checked:
        """Encode a message's entry and check it; raise AppendRefused if illegal (in this
        order: topic, queue id, body size, properties size, :func:`properties_refusal`, hosts,
        record size)."""
        topic_field = (self._topics.get(msg.topic) or self._topic_prefix(msg.topic))[0]
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
        if len(props) + self._crc_extra > MAX_PROPERTIES_LENGTH:
            raise AppendRefused(
                AppendMessageStatus.PROPERTIES_SIZE_EXCEEDED,
                f"properties of {len(props)} bytes exceed {MAX_PROPERTIES_LENGTH}",
            )
        refusal = properties_refusal(props)
        if refusal is not None:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, refusal)
        hosts = self._host_cache.get((msg.born_host, msg.store_host)) or self._hosts(
            msg.born_host, msg.store_host
        )
        size = hosts[6].size + len(body) + len(topic_field) + 2 + len(props) + self._crc_extra
        if size > self.max_record_size:
            raise AppendRefused(
                AppendMessageStatus.MESSAGE_SIZE_EXCEEDED,
                f"record of {size} bytes does not fit a segment of {self.file_size}",
            )
        sys_flag = (msg.sys_flag & ~_V6_BITS) | hosts[4]
        mid = (sys_flag, msg.born_timestamp, hosts, msg.reconsume_times,
               msg.prepared_transaction_offset)  # fmt: skip
        return (msg.flag, body, props), size, crc32(body) & _CRC_MASK, mid

    def put(self, msg: MessageExtBrokerInner | MessageExt) -> AppendMessageResult:
        """Append one message; raises :class:`AppendRefused` for a message it cannot store.

        Sets ``msg.queue_offset``, ``msg.commitlog_offset`` and ``msg.store_timestamp``. The hot
        path of single sends: :meth:`_check`'s tests inlined (it runs only to name a refusal).
        """
        topic = msg.topic
        topic_field, magic = self._topics.get(topic) or self._topic_prefix(topic)
        body = msg.body
        props_text = getattr(msg, "properties_string", None)
        if props_text is None:
            props_text = encode_properties(msg.properties)
        props = props_text.encode()
        hosts = self._host_cache.get((msg.born_host, msg.store_host)) or self._hosts(
            msg.born_host, msg.store_host
        )
        extra = self._crc_extra
        size = hosts[6].size + len(body) + len(topic_field) + 2 + len(props) + extra
        queue_id = msg.queue_id
        if (
            len(body) > self.max_body_size
            or len(props) + extra > MAX_PROPERTIES_LENGTH
            or size > self.max_record_size
            or not 0 <= queue_id <= 0x7FFFFFFF
            or "\x00" in props_text
            or (props and props[-1] != 2)
        ):
            self._check(msg)  # raises the precise refusal
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "message refused")
        sys_flag = (msg.sys_flag & ~_V6_BITS) | hosts[4]
        if extra:
            mid = (sys_flag, msg.born_timestamp, hosts, msg.reconsume_times,
                   msg.prepared_transaction_offset)  # fmt: skip
            sizes = [size]
            run = (((msg.flag, body, props),), sizes, (crc32(body) & _CRC_MASK,), mid)
            phys, queue_offset, now = self._append(topic, queue_id, magic, topic_field, (run,),
                                                   sizes, [props], size)  # fmt: skip
        else:
            phys, queue_offset, now = self._append_one(msg, magic, topic_field, props, size,
                                                       sys_flag, hosts)  # fmt: skip
        if sys_flag & _PREPARED_BIT:
            queue_offset = 0
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
        or the whole batch cannot fit one segment (nothing is written then). Sets every
        message's ``queue_offset``, ``commitlog_offset`` and ``store_timestamp``.
        """
        if not messages:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "empty batch")
        checked = [self._check(m) for m in messages]
        if len({(m.topic, m.queue_id) for m in messages}) != 1:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "batch spans several queues")
        sizes = [c[1] for c in checked]
        total = sum(sizes)
        if total > self.max_record_size:
            raise AppendRefused(
                AppendMessageStatus.MESSAGE_SIZE_EXCEEDED,
                f"batch of {total} bytes does not fit a segment of {self.file_size}",
            )
        runs: list[_Run] = []
        start = 0
        for end in range(1, len(checked) + 1):  # messages sharing a head middle form a run
            if end == len(checked) or checked[end][3] != checked[start][3]:
                part = checked[start:end]
                runs.append(([c[0] for c in part], sizes[start:end], [c[2] for c in part],
                             part[0][3]))  # fmt: skip
                start = end
        topic, queue_id = messages[0].topic, messages[0].queue_id
        topic_field, magic = self._topics[topic]
        phys, queue_offset, now = self._append(topic, queue_id, magic, topic_field, runs, sizes,
                                               [c[0][2] for c in checked], total)  # fmt: skip
        offsets = tuple(itertools.accumulate(sizes[:-1], initial=phys))
        for msg, c, offset in zip(messages, checked, offsets, strict=True):
            if c[3][0] & _PREPARED_BIT:
                msg.queue_offset = 0
            else:
                msg.queue_offset = queue_offset
                queue_offset += 1
            msg.commitlog_offset = offset
            msg.store_timestamp = now
        return AppendMessageResult(AppendMessageStatus.PUT_OK, phys, total,
                                   messages[0].store_host, now, messages[0].queue_offset,
                                   len(checked), offsets)  # fmt: skip

    def put_encoded(self, batch: EncodedBatch) -> AppendMessageResult:
        """Append an :class:`EncodedBatch` as consecutive records in one segment; same
        results and refusals as :meth:`put_batch` of the same messages (properties must also
        be valid UTF-8), without a message object per entry. Nothing is written when refused.
        """
        entries = batch.entries
        if not entries:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, "empty batch")
        topic_field, magic = self._topics.get(batch.topic) or self._topic_prefix(batch.topic)
        queue_id = batch.queue_id
        if not 0 <= queue_id <= 0x7FFFFFFF:
            raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, f"bad queue id {queue_id}")
        flags, bodies, props = zip(*entries, strict=True)
        count = len(bodies)
        uniform, lens = self._entry_lengths(entries, bodies, props)
        _check_properties(props)
        hosts = self._host_cache.get((batch.born_host, batch.store_host)) or self._hosts(
            batch.born_host, batch.store_host
        )
        extra = self._crc_extra
        sizes = list(map((hosts[6].size + len(topic_field) + 2 + extra).__add__, lens))
        total = sizes[0] * count if uniform else sum(sizes)
        if total > self.max_record_size:
            raise AppendRefused(
                AppendMessageStatus.MESSAGE_SIZE_EXCEEDED,
                f"batch of {total} bytes does not fit a segment of {self.file_size}",
            )
        crcs = list(map(_CRC_MASK.__and__, map(crc32, bodies)))
        sys_flag = (batch.sys_flag & ~_V6_BITS) | hosts[4]
        run = (entries, sizes, crcs, (sys_flag, batch.born_timestamp, hosts, 0, 0))
        columns: _Columns | None = None
        if uniform and (
            flags.count(0) == count or (min(flags) >= _INT32_MIN and max(flags) <= _INT32_MAX)
        ):
            columns = (flags, bodies, props)
        phys, queue_offset, now = self._append(batch.topic, queue_id, magic, topic_field, (run,),
                                               sizes, list(props), total, columns)  # fmt: skip
        if sys_flag & _PREPARED_BIT:
            queue_offset = 0
        if uniform:
            offsets = tuple(range(phys, phys + total, sizes[0]))
        else:
            offsets = tuple(itertools.accumulate(sizes[:-1], initial=phys))
        return AppendMessageResult(AppendMessageStatus.PUT_OK, phys, total, batch.store_host, now,
                                   queue_offset, count, offsets)  # fmt: skip

    def _entry_lengths(
        self, entries: Sequence[BatchEntry], bodies: Sequence[bytes], props: Sequence[bytes]
    ) -> tuple[bool, list[int]]:
        """(uniform, body plus properties length of each entry) for :meth:`put_encoded`;
        raises what :meth:`_check_lengths` raises when a body or properties string is too
        long. Uniform: one body length, one properties length and no ``__CRC32#`` property
        (sizes by arithmetic, packed by :func:`_pack_uniform_into` when the flags fit)."""
        count = len(bodies)
        body_lens = list(map(len, bodies))
        props_lens = list(map(len, props))
        extra = self._crc_extra
        body_len, props_len = body_lens[0], props_lens[0]
        if (
            not extra
            and body_lens.count(body_len) == count
            and props_lens.count(props_len) == count
        ):
            if body_len > self.max_body_size or props_len > MAX_PROPERTIES_LENGTH:
                self._check_lengths(entries)
            return True, [body_len + props_len] * count
        lens = list(map(operator.add, body_lens, props_lens))
        if max(lens) + extra > min(self.max_body_size, MAX_PROPERTIES_LENGTH):
            self._check_lengths(entries)  # one body or properties string may be too long
        return False, lens

    def _check_lengths(self, entries: Sequence[BatchEntry]) -> None:
        """Raise AppendRefused for the first limit an entry passes: a body over
        ``maxMessageSize``, then properties (with the ``__CRC32#`` property) over 32,767 bytes."""
        longest_body = max(len(entry[1]) for entry in entries)
        if longest_body > self.max_body_size:
            raise AppendRefused(
                AppendMessageStatus.MESSAGE_SIZE_EXCEEDED,
                f"body of {longest_body} bytes exceeds maxMessageSize {self.max_body_size}",
            )
        longest_props = max(len(entry[2]) for entry in entries)
        if longest_props + self._crc_extra > MAX_PROPERTIES_LENGTH:
            raise AppendRefused(
                AppendMessageStatus.PROPERTIES_SIZE_EXCEEDED,
                f"properties of {longest_props} bytes exceed {MAX_PROPERTIES_LENGTH}",
            )

    def _append(
        self,
        topic: str,
        queue_id: int,
        magic: int,
        topic_field: bytes,
        runs: Sequence[_Run],
        sizes: list[int],
        props: list[bytes],
        total: int,
        columns: _Columns | None = None,
    ) -> tuple[int, int, int]:
        """Write checked records (``total`` bytes, fitting one segment; ``runs`` of records
        sharing a head middle, ``sizes`` and ``props`` of every record) in one slice assignment
        at the log's end; return (first record's offset, the queue's next offset before the
        append, store timestamp in ms). The append is described in ``pending_dispatch``.
        ``columns`` (only for one uniform run without the ``__CRC32#`` property) packs it
        straight into the segment by :func:`_pack_uniform_into`.
        """
        key = (topic, queue_id)
        table = self.topic_queue_table
        extra = self._crc_extra
        parts: list[bytes] = []
        with self.lock:
            try:
                mapped, pos = self._room_for(total)
            except _Rolls:  # pack once where nothing is written: a refusal leaves no filler
                try:
                    for run in runs:
                        _pack_records([], run, queue_id, magic, topic_field, 0, 0, 0, extra)
                except struct.error as exc:
                    raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, str(exc)) from exc
                mapped, pos = self._room_for(total, roll=True)
            now = time.time_ns() // 1_000_000
            if now < self.last_store_timestamp:
                now = self.last_store_timestamp
            first_phys = phys = mapped.file_from_offset + pos
            first = queue_offset = table.get(key, 0)
            try:
                if columns is not None:
                    phys, queue_offset = _pack_uniform_into(mapped.mm, pos, runs[0], columns,
                                                            queue_id, magic, topic_field, phys,
                                                            queue_offset, now)  # fmt: skip
                else:
                    for run in runs:
                        phys, queue_offset = _pack_records(parts, run, queue_id, magic,
                                                           topic_field, phys, queue_offset, now,
                                                           extra)  # fmt: skip
            except struct.error as exc:  # a flag or timestamp out of its field's range
                raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, str(exc)) from exc
            if columns is None:
                mapped.mm[pos : pos + total] = b"".join(parts)
            mapped.wrote_position = pos + total
            if (
                pos + total + self._warm_low > mapped.warmed_to
                and self._warm_window
                and mapped.warmed_to < mapped.file_size  # not once the segment is warmed
            ):
                self.queue.allocator.wakeup()  # type: ignore[union-attr]
            if queue_offset != first:
                table[key] = queue_offset
            self.last_store_timestamp = now
            pending = self.pending_dispatch
            behind = 0
            if pending:
                try:
                    behind = first_phys - pending[0][PD_PHYS]
                except IndexError:  # emptied by the dispatcher thread meanwhile
                    behind = 0
            if behind <= PENDING_DISPATCH_BYTES and len(pending) < PENDING_DISPATCH_ENTRIES:
                if len(runs) == 1 or len({run[3][0] for run in runs}) == 1:
                    sys_flag = runs[0][3][0]
                    pending.append((first_phys, total, topic, queue_id,
                                    0 if sys_flag & _PREPARED_BIT else first, sys_flag, now,
                                    sizes, props))  # fmt: skip
                else:
                    self._describe_each(first_phys, topic, queue_id, first, now, runs)
        return first_phys, first, now

    def _room_for(self, total: int, roll: bool = False) -> tuple[MappedFile, int]:
        """The segment and position where ``total`` bytes go (under :attr:`lock`): the end of
        the last segment, or (``roll``) the start of the next after a BLANK filler; waits for
        a pre-faulting of that range running now. Raises :class:`_Rolls` when a filler is
        needed and ``roll`` is False: the caller first packs its records where a refusal
        writes nothing, then calls again with ``roll``."""
        mapped = self.queue.last_for_append()
        pos = mapped.wrote_position
        if pos + total + END_FILE_MIN_BLANK_LENGTH > self.file_size:
            if not roll:
                raise _Rolls
            if pos + END_FILE_MIN_BLANK_LENGTH > mapped.warming_from:
                _wait_for_warm(mapped)
            self._fill_blank(mapped, pos)
            mapped = self.queue.last_for_append()
            pos = 0
        if pos + total > mapped.warming_from:
            _wait_for_warm(mapped)
        return mapped, pos

    def _append_one(
        self,
        msg: MessageExtBrokerInner | MessageExt,
        magic: int,
        topic_field: bytes,
        props: bytes,
        size: int,
        sys_flag: int,
        hosts: _Hosts,
    ) -> tuple[int, int, int]:
        """:meth:`_append` of one checked message without the ``__CRC32#`` property (the
        single-send path): the same bytes, queue offset and description, without the run
        tuples, the part list and the loop. Returns (commit-log offset, the queue's next
        offset before the append, store timestamp in ms)."""
        topic, queue_id, body = msg.topic, msg.queue_id, msg.body
        crc = crc32(body) & _CRC_MASK
        key = (topic, queue_id)
        prepared = sys_flag & _PREPARED_BIT
        pack = hosts[7].pack
        with self.lock:
            files = self.queue.files
            mapped = files[-1] if files else None
            pos = 0 if mapped is None else mapped.wrote_position
            if (  # not the usual case (room in the last segment, not being zeroed there)
                mapped is None
                or pos + size + END_FILE_MIN_BLANK_LENGTH > self.file_size
                or pos + size > mapped.warming_from
            ):
                try:
                    mapped, pos = self._room_for(size)
                except _Rolls:  # pack once where nothing is written: a refusal leaves no filler
                    try:
                        pack(size, magic, crc, queue_id, msg.flag, 0, 0, sys_flag,
                             msg.born_timestamp, hosts[0], hosts[1], 0, hosts[2], hosts[3],
                             msg.reconsume_times, msg.prepared_transaction_offset,
                             len(body))  # fmt: skip
                    except struct.error as exc:
                        raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, str(exc)) from exc
                    mapped, pos = self._room_for(size, roll=True)
            now = time.time_ns() // 1_000_000
            if now < self.last_store_timestamp:
                now = self.last_store_timestamp
            phys = mapped.file_from_offset + pos
            queue_offset = self.topic_queue_table.get(key, 0)
            offset = 0 if prepared else queue_offset
            try:
                head = pack(size, magic, crc, queue_id, msg.flag, offset, phys, sys_flag,
                            msg.born_timestamp, hosts[0], hosts[1], now, hosts[2], hosts[3],
                            msg.reconsume_times, msg.prepared_transaction_offset,
                            len(body))  # fmt: skip
            except struct.error as exc:  # a flag or timestamp out of its field's range
                raise AppendRefused(AppendMessageStatus.UNKNOWN_ERROR, str(exc)) from exc
            end = pos + size
            mapped.mm[pos:end] = b"".join((head, body, topic_field, _pack_short(len(props)), props))
            mapped.wrote_position = end
            if (
                end + self._warm_low > mapped.warmed_to
                and self._warm_window
                and mapped.warmed_to < mapped.file_size  # not once the segment is warmed
            ):
                self.queue.allocator.wakeup()  # type: ignore[union-attr]
            if not prepared:
                self.topic_queue_table[key] = queue_offset + 1
            self.last_store_timestamp = now
            pending = self.pending_dispatch
            behind = 0
            if pending:
                try:
                    behind = phys - pending[0][PD_PHYS]
                except IndexError:  # emptied by the dispatcher thread meanwhile
                    behind = 0
            if behind <= PENDING_DISPATCH_BYTES and len(pending) < PENDING_DISPATCH_ENTRIES:
                pending.append((phys, size, topic, queue_id, offset, sys_flag, now, [size],
                                [props]))  # fmt: skip
        return phys, queue_offset, now

    def _describe_each(
        self,
        phys: int,
        topic: str,
        queue_id: int,
        queue_offset: int,
        now: int,
        runs: Sequence[_Run],
    ) -> None:
        """Describe a batch whose records differ in sys flag, one record at a time."""
        pending = self.pending_dispatch
        for entries, sizes, _crcs, mid in runs:
            sys_flag = mid[0]
            prepared = sys_flag & _PREPARED_BIT
            for entry, size in zip(entries, sizes, strict=True):
                pending.append((phys, size, topic, queue_id, 0 if prepared else queue_offset,
                                sys_flag, now, [size], [entry[2]]))  # fmt: skip
                phys += size
                if not prepared:
                    queue_offset += 1

    def warm_ahead(self) -> None:
        """Pre-fault the next ``WARM_AHEAD_BYTES`` (``WARM_AHEAD_BYTES_SYNC`` under
        SYNC_FLUSH) of the segment being written (allocator thread) with the GIL released, so
        the writer's stores into the mmap find their pages instead of faulting (0.5-2.7 us per
        1 KiB record here, and ~3 us more while the machine hands out never-touched memory)
        while holding the GIL.

        Zeros are written through the file descriptor, in steps, as follows. Faulting the
        window in by ``MADV_POPULATE_WRITE`` instead (:meth:`MappedFile.populate`, one GIL-free
        call per window) made the store alone append faster (batches of 32, append only:
        345-385k vs 305-325k records/s) but the broker slower where producer and broker share
        the cores (pipelined send, 7 alternating pairs: median 150k vs 177k msg/s, broker CPU
        7.8-8.7 vs 6.6-7.7 µs per message), so it is used only after an fdatasync
        (:meth:`refault_after_sync`). Under SYNC_FLUSH populated pages would also be mapped,
        and each fdatasync writing them would have to write-protect them (fdatasync p50
        0.23-0.38 -> 0.46-0.52 ms with 64 one-message writers).

        Under SYNC_FLUSH too: the next fdatasync writes those zero pages once, and allocates
        their blocks, so the writer's later page faults take ext4's fast path (blocks mapped:
        no journal handle, which could wait for the commit an fdatasync runs); 64 writers of
        one message each: loop CPU ~1.5 us less per message, 5-20 % more appends/s, and
        fdatasync p50 0.65 -> 0.3 ms (no journal commit for newly allocated blocks).

        The range is claimed and zeroed in ``WARM_STEP_BYTES`` steps, each under :attr:`lock`
        from the writer's position at that moment (at or past it, never a byte below
        ``wrote_position``). A writer reaching the step being zeroed waits for ``warm_lock``:
        for one step at most, since it holds :attr:`lock` meanwhile and the next step is
        claimed only after its append. Warming starts when less than a quarter of the window
        is left ahead of the writer, and near the segment's end goes on to its last byte (so a
        warmed segment wakes the warmer no more). A failed write (e.g. ENOSPC) turns warming
        off.
        """
        with self.lock:
            files = self.queue.files
            window = self._warm_window
            if not window or not files:
                return
            mapped = files[-1]
            wrote = mapped.wrote_position
            target = min(wrote + window, mapped.file_size)
            start = max(mapped.warmed_to, -(-wrote // PAGE_SIZE) * PAGE_SIZE)
            if target < mapped.file_size and target - start < window // 4:
                return  # still far enough ahead
        while self._warm_step(mapped, target):
            pass

    def refault_after_sync(self, synced_bytes: int) -> None:
        """After an fdatasync under SYNC_FLUSH (flusher thread, once the writers are told): the
        sync write-protected every page it cleaned, so the writer's next store into each would
        take a fault (~7 us a page here, GIL held: ~2 us per 1 KiB record). Fault the next
        ``synced_bytes`` (what the writers stored since the previous sync; at least
        :data:`REFAULT_MIN_BYTES`, at most the warm window) past the write position back in
        writable with the GIL released (:meth:`MappedFile.populate`); nothing where that is
        unsupported or pre-faulting is off. No byte changes; the next fdatasync writes those
        pages again."""
        files = self.queue.files
        window = self._warm_window
        if not window or not files:
            return
        mapped = files[-1]
        start = mapped.wrote_position
        mapped.populate(start, start + min(max(synced_bytes, REFAULT_MIN_BYTES), window))

    def _warm_step(self, mapped: MappedFile, target: int) -> bool:
        """Zero the next ``WARM_STEP_BYTES`` of ``mapped`` past the writer, up to ``target``;
        False when nothing is left (target reached, another segment written, warming off)."""
        with self.lock:
            files = self.queue.files
            if not self._warm_window or not files or files[-1] is not mapped:
                return False
            wrote = mapped.wrote_position
            start = max(mapped.warmed_to, -(-wrote // PAGE_SIZE) * PAGE_SIZE)
            end = min(start + WARM_STEP_BYTES, target)
            if start >= end:
                return False
            mapped.warm_lock.acquire()
            mapped.warming_from = start
        try:
            mapped.warm(start, end)
            mapped.warmed_to = end
        except OSError as exc:
            self._warm_window = 0
            log.warning("pre-faulting commit-log pages failed (%s); appends fault them", exc)
            return False
        finally:
            mapped.warming_from = NOT_WARMING
            mapped.warm_lock.release()
        return True

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
