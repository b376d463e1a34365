"""RocketMQ 5 pop consumption on the wire: headers, receipt handles and batch-ack bodies.

Pop codes (reference §2.2) travel with JSON headers only: POP_MESSAGE (200050), ACK_MESSAGE
(200051), CHANGE_MESSAGE_INVISIBLETIME (200053) and BATCH_ACK_MESSAGE (200151, JSON body).
Times are milliseconds (``invisibleTime``, ``pollTime``; ``bornTime``/``popTime`` since the
epoch).

Receipt handle (RocketMQ's ``extraInfo``, the ``POP_CK`` property of a popped message): fields
joined by one space (``MessageConst.KEY_SEPARATOR``)::

    ckQueueOffset popTime invisibleTime reviveQid topicMark brokerName queueId [queueOffset]

``ckQueueOffset`` is the first offset the pop read from that queue, ``topicMark`` ``0`` for the
topic itself and ``1`` for the group's pop retry topic ``%RETRY%<group>_<topic>``, and the last
field the message's own queue offset. A handle names one pop of one message: a later pop or
an invisible-time change of the same message gets a new ``popTime`` and so a new handle.

The pop response header describes the batch per queue, entries separated by ``;``:
``startOffsetInfo`` = ``mark queueId startOffset``; ``msgOffsetInfo`` = ``mark queueId
o1,o2,...`` (the popped offsets in body order); ``orderCountInfo`` (orderly pops only).

BATCH_ACK_MESSAGE body (fastjson field names)::

    {"brokerName": "...", "acks": [{"c": group, "t": topic, "r": "0"|"1", "so": startOffset,
      "q": queueId, "rq": reviveQid, "pt": popTime, "it": invisibleTime, "b": bitSet}]}

where bit ``i`` of ``b`` acknowledges offset ``so + i``. ``b`` is Java's ``BitSet`` as
fastjson2 writes it: the base64 of ``BitSet.toByteArray()`` (little-endian bytes); a JSON
list of 64-bit words (``toLongArray()``) is accepted too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting.headers import CommandHeader

__all__ = [
    "CONSUME_INIT_MODE_MAX",
    "CONSUME_INIT_MODE_MIN",
    "NORMAL_TOPIC_MARK",
    "RETRY_TOPIC_MARK",
    "AckMessageRequestHeader",
    "BatchAck",
    "ChangeInvisibleTimeRequestHeader",
    "ChangeInvisibleTimeResponseHeader",
    "ExtraInfo",
    "PopMessageRequestHeader",
    "PopMessageResponseHeader",
    "QueueOffsets",
    "bitset_from_offsets",
    "decode_batch_ack_body",
    "encode_batch_ack_body",
    "format_queue_offsets",
    "offsets_from_bitset",
    "parse_queue_offsets",
    "pop_retry_topic",
]

NORMAL_TOPIC_MARK = "0"
RETRY_TOPIC_MARK = "1"
CONSUME_INIT_MODE_MIN = 0
"""``initMode``: a group without an offset starts at the queue's smallest offset."""
CONSUME_INIT_MODE_MAX = 1
"""``initMode``: a group without an offset starts at the end (new messages only)."""
_SEPARATOR = " "
MAX_BITSET_BYTES = 8192
"""Largest batch-ack bit set accepted (65 536 offsets)."""
_RETRY_PREFIX = "%RETRY%"


def pop_retry_topic(group: str, topic: str) -> str:
    """The pop retry topic of ``group`` on ``topic``: ``%RETRY%<group>_<topic>`` (RocketMQ's
    ``KeyBuilder.buildPopRetryTopicV1``)."""
    return f"{_RETRY_PREFIX}{group}_{topic}"


@dataclass(slots=True, kw_only=True)
class PopMessageRequestHeader(CommandHeader):
    """POP_MESSAGE (200050); ``queue_id`` -1 pops from every readable queue."""

    consumer_group: str
    topic: str
    queue_id: int
    max_msg_nums: int
    invisible_time: int
    poll_time: int
    born_time: int
    init_mode: int
    exp_type: str | None = None
    exp: str | None = None
    order: bool | None = None
    attempt_id: str | None = None
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class PopMessageResponseHeader(CommandHeader):
    """POP_MESSAGE response; ``rest_num`` = messages still waiting in the popped queues."""

    pop_time: int
    invisible_time: int
    revive_qid: int
    rest_num: int
    start_offset_info: str | None = None
    msg_offset_info: str | None = None
    order_count_info: str | None = None


@dataclass(slots=True, kw_only=True)
class AckMessageRequestHeader(CommandHeader):
    """ACK_MESSAGE (200051): ``offset`` is the message's queue offset."""

    consumer_group: str
    topic: str
    queue_id: int
    extra_info: str
    offset: int
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class ChangeInvisibleTimeRequestHeader(CommandHeader):
    """CHANGE_MESSAGE_INVISIBLETIME (200053): hide the message ``invisible_time`` ms from now."""

    consumer_group: str
    topic: str
    queue_id: int
    extra_info: str
    offset: int
    invisible_time: int
    bname: str | None = None


@dataclass(slots=True, kw_only=True)
class ChangeInvisibleTimeResponseHeader(CommandHeader):
    """CHANGE_MESSAGE_INVISIBLETIME response: the new ``pop_time`` of the message's handle."""

    pop_time: int
    invisible_time: int
    revive_qid: int


@dataclass(frozen=True, slots=True)
class ExtraInfo:
    """A parsed receipt handle (see the module docstring)."""

    ck_queue_offset: int
    pop_time: int
    invisible_time: int
    revive_qid: int
    retry: bool
    broker_name: str
    queue_id: int
    queue_offset: int | None = None

    @classmethod
    def parse(cls, text: str) -> ExtraInfo:
        """Parse ``text``; raises RemoteProtocolError naming the problem."""
        parts = text.split(_SEPARATOR) if text else []
        if len(parts) < 7:
            raise RemoteProtocolError(
                f"malformed receipt handle {text!r}: expected at least 7 space-separated "
                f"fields, got {len(parts)}"
            )
        try:
            return cls(
                ck_queue_offset=int(parts[0]),
                pop_time=int(parts[1]),
                invisible_time=int(parts[2]),
                revive_qid=int(parts[3]),
                retry=parts[4] == RETRY_TOPIC_MARK,
                broker_name=parts[5],
                queue_id=int(parts[6]),
                queue_offset=int(parts[7]) if len(parts) > 7 else None,
            )
        except ValueError as exc:
            raise RemoteProtocolError(f"malformed receipt handle {text!r}: {exc}") from exc

    def build(self) -> str:
        """The wire form."""
        fields = [
            str(self.ck_queue_offset),
            str(self.pop_time),
            str(self.invisible_time),
            str(self.revive_qid),
            RETRY_TOPIC_MARK if self.retry else NORMAL_TOPIC_MARK,
            self.broker_name,
            str(self.queue_id),
        ]
        if self.queue_offset is not None:
            fields.append(str(self.queue_offset))
        return _SEPARATOR.join(fields)

    def real_topic(self, topic: str, group: str) -> str:
        """The topic the message really lives in, given the topic the consumer popped."""
        if topic.startswith(_RETRY_PREFIX) or not self.retry:
            return topic
        return pop_retry_topic(group, topic)


@dataclass(frozen=True, slots=True)
class QueueOffsets:
    """One entry of ``startOffsetInfo`` (one offset) or ``msgOffsetInfo`` (several)."""

    retry: bool
    queue_id: int
    offsets: tuple[int, ...]


def format_queue_offsets(entries: Iterable[QueueOffsets]) -> str:
    """``mark queueId o1,o2;mark queueId o3`` (empty string for no entries)."""
    return ";".join(
        f"{RETRY_TOPIC_MARK if e.retry else NORMAL_TOPIC_MARK}{_SEPARATOR}{e.queue_id}"
        f"{_SEPARATOR}{','.join(str(o) for o in e.offsets)}"
        for e in entries
    )


def parse_queue_offsets(text: str | None) -> list[QueueOffsets]:
    """Parse ``startOffsetInfo``/``msgOffsetInfo``; raises RemoteProtocolError."""
    if not text:
        return []
    out = []
    for item in text.split(";"):
        parts = item.split(_SEPARATOR)
        if len(parts) != 3:
            raise RemoteProtocolError(f"malformed queue offset info {item!r}")
        try:
            offsets = tuple(int(o) for o in parts[2].split(",") if o)
            out.append(QueueOffsets(parts[0] == RETRY_TOPIC_MARK, int(parts[1]), offsets))
        except ValueError as exc:
            raise RemoteProtocolError(f"malformed queue offset info {item!r}: {exc}") from exc
    return out


# --- batch ack ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchAck:
    """One element of a BATCH_ACK_MESSAGE body: the acknowledged ``offsets`` of one pop of one
    queue (all of them at or after ``start_offset``)."""

    consumer_group: str
    topic: str
    retry: bool
    start_offset: int
    queue_id: int
    revive_qid: int
    pop_time: int
    invisible_time: int
    offsets: tuple[int, ...]


def bitset_from_offsets(start: int, offsets: Iterable[int]) -> bytes:
    """Java ``BitSet.toByteArray()`` of the bits ``offset - start`` (little-endian bytes)."""
    value = 0
    for offset in offsets:
        if offset < start:
            raise ValueError(f"offset {offset} is below the start offset {start}")
        value |= 1 << (offset - start)
    return value.to_bytes((value.bit_length() + 7) // 8, "little")


def offsets_from_bitset(start: int, bits: bytes) -> list[int]:
    """The offsets named by a ``BitSet.toByteArray()`` relative to ``start``."""
    value = int.from_bytes(bits, "little")
    out = []
    index = 0
    while value:
        if value & 1:
            out.append(start + index)
        value >>= 1
        index += 1
    return out


def _words_to_bytes(words: Sequence[Any]) -> bytes:
    out = bytearray()
    for word in words:
        if isinstance(word, bool) or not isinstance(word, int):
            raise RemoteProtocolError(f"batch ack bit set word {word!r} is not an integer")
        out += (word & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little")
    return bytes(out)


def _field(item: Mapping[str, Any], short: str, long: str) -> Any:
    return item[short] if short in item else item.get(long)


def _int_field(item: Mapping[str, Any], short: str, long: str) -> int:
    value = _field(item, short, long)
    if isinstance(value, bool):
        raise RemoteProtocolError(f"batch ack field {short!r} is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise RemoteProtocolError(
            f"batch ack field {short!r} is not an integer: {value!r}"
        ) from exc


def _decode_bits(value: Any) -> bytes:
    if isinstance(value, str):
        try:
            bits = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RemoteProtocolError(f"batch ack bit set is not base64: {exc}") from exc
    elif isinstance(value, list):
        bits = _words_to_bytes(value[: MAX_BITSET_BYTES // 8 + 1])
    else:
        raise RemoteProtocolError("batch ack element has no bit set ('b')")
    if len(bits) > MAX_BITSET_BYTES:
        raise RemoteProtocolError(f"batch ack bit set longer than {MAX_BITSET_BYTES} bytes")
    return bits


def decode_batch_ack_body(data: Any) -> tuple[str, list[BatchAck]]:
    """Decode a parsed BATCH_ACK_MESSAGE body into ``(broker_name, acks)``."""
    if not isinstance(data, Mapping):
        raise RemoteProtocolError("batch ack body is not a JSON object")
    raw_acks = data.get("acks")
    if not isinstance(raw_acks, list):
        raise RemoteProtocolError("batch ack body has no 'acks' list")
    acks = []
    for item in raw_acks:
        if not isinstance(item, Mapping):
            raise RemoteProtocolError("batch ack element is not a JSON object")
        group = _field(item, "c", "consumerGroup")
        topic = _field(item, "t", "topic")
        if not isinstance(group, str) or not isinstance(topic, str) or not group or not topic:
            raise RemoteProtocolError("batch ack element lacks consumer group or topic")
        start = _int_field(item, "so", "startOffset")
        bits = _decode_bits(_field(item, "b", "bitSet"))
        acks.append(
            BatchAck(
                consumer_group=group,
                topic=topic,
                retry=str(_field(item, "r", "retry")) == RETRY_TOPIC_MARK,
                start_offset=start,
                queue_id=_int_field(item, "q", "queueId"),
                revive_qid=_int_field(item, "rq", "reviveQueueId"),
                pop_time=_int_field(item, "pt", "popTime"),
                invisible_time=_int_field(item, "it", "invisibleTime"),
                offsets=tuple(offsets_from_bitset(start, bits)),
            )
        )
    broker_name = data.get("brokerName")
    return (broker_name if isinstance(broker_name, str) else ""), acks


def encode_batch_ack_body(broker_name: str, acks: Iterable[BatchAck]) -> bytes:
    """The BATCH_ACK_MESSAGE body for ``acks``."""
    items = [
        {
            "c": ack.consumer_group,
            "t": ack.topic,
            "r": RETRY_TOPIC_MARK if ack.retry else NORMAL_TOPIC_MARK,
            "so": ack.start_offset,
            "q": ack.queue_id,
            "rq": ack.revive_qid,
            "pt": ack.pop_time,
            "it": ack.invisible_time,
            "b": base64.b64encode(bitset_from_offsets(ack.start_offset, ack.offsets)).decode(),
        }
        for ack in acks
    ]
    body = {"brokerName": broker_name, "acks": items}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
