"""SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).

Checks, in RocketMQ's order (``AbstractSendMessageProcessor.msgCheck``), each answered with
RocketMQ's code and a remark, nothing stored:

1. broker permission lacks WRITE -> NO_PERMISSION;
2. topic name invalid -> INVALID_PARAMETER; schedule/transaction topics -> NO_PERMISSION;
3. unknown topic -> auto-created from ``defaultTopic`` (TBW102) when allowed, ``%RETRY%``
   topics always; else TOPIC_NOT_EXIST;
4. topic not writeable -> NO_PERMISSION; ``queueId >= max(read, write)`` -> INVALID_PARAMETER
   (a negative queue id picks a random writeable queue);
5. body over ``maxMessageSize`` or properties over 32767 bytes -> MESSAGE_ILLEGAL.

Then the message is built (``CLUSTER`` property added, ``UNIQ_KEY`` filled if absent), a send
to ``%RETRY%<group>`` is routed to the DLQ once retried often enough, or at once while the group
holds orderly queue locks (:mod:`..retry`), a ``DELAY`` level parks it in
``SCHEDULE_TOPIC_XXXX`` (:mod:`..schedule`), a transactional (prepared) message becomes a half
message in ``RMQ_SYS_TRANS_HALF_TOPIC`` (:mod:`..transaction`; ``rejectTransactionMessage``
refuses it with NO_PERMISSION), and it is stored. Under
SYNC_FLUSH the answer waits for the fsync (FLUSH_DISK_TIMEOUT if it fails).

Every response carries extFields ``MSG_REGION`` and ``TRACE_ON``; stored messages also
``msgId`` (offset id(s), comma-joined for a batch), ``queueId``, ``queueOffset`` and
``transactionId`` (the UNIQ_KEY).
"""

from __future__ import annotations

import logging
import random
import struct
from itertools import repeat
from operator import itemgetter
from typing import cast

from rmq_core.broker import perm as permission
from rmq_core.broker import retry
from rmq_core.broker import topic_validator as tv
from rmq_core.broker.context import BrokerContext, StoredOutcome
from rmq_core.broker.managers.topics import TopicConfig
from rmq_core.broker.processors.common import BrokerProcessor
from rmq_core.broker.schedule import rewrite_delayed_message
from rmq_core.broker.transaction.service import TransactionalMessageService, is_prepared_send
from rmq_core.common.message import MessageConst, MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import (
    MAX_PROPERTIES_LENGTH,
    MessageFormatError,
    create_uniq_id,
    decode_properties,
    encode_properties,
)
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import FLAG_RESPONSE, RemotingCommand
from rmq_core.remoting.headers import (
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
)
from rmq_core.remoting.transport import Connection
from rmq_core.store.batch import BatchEntry, EncodedBatch
from rmq_core.store.commitlog import prop_value

__all__ = ["SendMessageProcessor"]

_SendHeader = SendMessageRequestHeader | SendMessageRequestHeaderV2
"""Both have the same fields: a V2 header is used as decoded (no long-key copy per send)."""
_LEGAL_TOPICS_MAX = 4096
"""Topic names remembered as passing the name checks (the set is emptied when full)."""

logger = logging.getLogger(__name__)

_UNIQ_KEY = MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
_MSG_REGION = MessageConst.PROPERTY_MSG_REGION
_TRACE_ON = MessageConst.PROPERTY_TRACE_SWITCH
_UNIQ_FIELD = f"{_UNIQ_KEY}\x01".encode()
_BATCH_ENTRY_HEAD = struct.Struct(">iiiii")  # total, magic, body CRC, flag, body length
_PROPS_LEN = struct.Struct(">h")


_UNIQ_AFTER_SEP = b"\x02" + _UNIQ_FIELD
_ENTRY_OVERHEAD = _BATCH_ENTRY_HEAD.size + _PROPS_LEN.size
"""Bytes of an entry besides its body and properties (22)."""
_LAYOUTS_MAX = 64
"""Uniform entry layouts remembered, keyed by (body length, properties length)."""
_LAYOUTS: dict[tuple[int, int], struct.Struct] = {}
_ENTRY_BODY = itemgetter(1)
_ENTRY_PROPS = itemgetter(2)
_LAST_BYTE = itemgetter(-1)


def _split_batch(data: bytes) -> list[BatchEntry]:
    """``(flag, body, properties bytes)`` of each entry of a SEND_BATCH_MESSAGE body (the
    MessageBatch layout of :func:`~rmq_core.common.message_codec.decode_batch`, with the same
    checks, without building a Message and a properties dict per entry).

    A batch whose entries all have the first entry's body and properties lengths (the usual
    case, see :func:`_uniform_layout`) is unpacked by one precompiled struct per layout; any
    other batch entry by entry. Raises MessageFormatError when an entry's lengths do not fit
    the data.
    """
    layout = _uniform_layout(data)
    return _split_entries(data) if layout is None else _unpack_uniform(data, layout)


def _layout(body_len: int, props_len: int) -> struct.Struct:
    """The struct of one whole entry with these lengths, unpacking ``(flag, body,
    properties)`` (total, magic, body CRC, body length and properties length skipped; the
    caller checks the lengths), from a bounded cache."""
    layout = _LAYOUTS.get((body_len, props_len))
    if layout is None:
        if len(_LAYOUTS) >= _LAYOUTS_MAX:
            _LAYOUTS.clear()
        layout = struct.Struct(f">12xi4x{body_len}s2x{props_len}s")
        _LAYOUTS[(body_len, props_len)] = layout
    return layout


_Uniform = tuple[int, int, int]
"""A uniform batch's entry size, body length and properties length, in bytes."""


def _uniform_layout(data: bytes) -> _Uniform | None:
    """``(total, body length, properties length)`` when every entry has the first entry's
    (the first entry's fields checked against each other, every other entry's length bytes
    compared with the first's), so that :func:`_unpack_uniform` returns exactly the entries
    :func:`_split_entries` would; else None."""
    size = len(data)
    if size < _ENTRY_OVERHEAD:
        return None
    total, _magic, _crc, _flag, body_len = _BATCH_ENTRY_HEAD.unpack_from(data)
    props_len = total - _ENTRY_OVERHEAD - body_len
    if body_len < 0 or props_len < 0 or size % total:
        return None
    props_at = _BATCH_ENTRY_HEAD.size + body_len
    if _PROPS_LEN.unpack_from(data, props_at)[0] != props_len:
        return None
    count = size // total
    if count > 1:
        # Byte i of every entry is data[i::total]: each length byte must repeat the first's.
        for at in (0, 1, 2, 3, 16, 17, 18, 19, props_at, props_at + 1):
            if data[at::total] != data[at : at + 1] * count:
                return None
    return total, body_len, props_len


def _unpack_uniform(data: bytes, layout: _Uniform) -> list[BatchEntry]:
    """The entries of a batch whose ``layout`` :func:`_uniform_layout` found."""
    _total, body_len, props_len = layout
    return cast(list[BatchEntry], list(_layout(body_len, props_len).iter_unpack(data)))


def _uniform_keyed(data: bytes, layout: _Uniform) -> bool:
    """True when every entry of a uniform batch has properties that start with a non-empty
    UNIQ_KEY and end with the ``\x02`` separator: then :func:`_all_keyed` and
    :func:`_all_terminated` hold. Byte i of every entry's properties is compared across the
    entries at once (``data[i::total]``), ~1 us for 64 entries instead of ~15 us entry by
    entry. False means "check entry by entry" (e.g. the key is not the first property)."""
    total, body_len, props_len = layout
    start = _BATCH_ENTRY_HEAD.size + body_len + _PROPS_LEN.size
    value_at = start + len(_UNIQ_FIELD)
    if props_len < len(_UNIQ_FIELD) + 2:  # room for the key, one value byte and \x02
        return False
    count = len(data) // total
    for i, byte in enumerate(_UNIQ_FIELD):
        if data[start + i :: total] != bytes((byte,)) * count:
            return False
    if b"\x02" in data[value_at::total]:  # an empty value
        return False
    return data[start + props_len - 1 :: total] == b"\x02" * count


def _split_entries(data: bytes) -> list[BatchEntry]:
    """The entries of any batch body, one at a time (see :func:`_split_batch`)."""
    out: list[BatchEntry] = []
    append = out.append
    head = _BATCH_ENTRY_HEAD
    head_size = head.size
    unpack_head = head.unpack_from
    unpack_len = _PROPS_LEN.unpack_from
    offset = 0
    size = len(data)
    while offset < size:
        if size - offset < head_size + 2:
            raise MessageFormatError(f"batch entry at {offset} truncated")
        total, _magic, _crc, flag, body_len = unpack_head(data, offset)
        pos = offset + head_size
        if body_len < 0 or pos + body_len + 2 > size:
            raise MessageFormatError(f"batch entry at {offset} has bad body length {body_len}")
        body = data[pos : pos + body_len]
        pos += body_len
        (props_len,) = unpack_len(data, pos)
        pos += 2
        if props_len < 0 or pos + props_len > size:
            raise MessageFormatError(f"batch entry at {offset} has bad properties length")
        props = data[pos : pos + props_len]
        pos += props_len
        if total != pos - offset:
            raise MessageFormatError(f"batch entry at {offset} has bad total size {total}")
        append((flag, body, props))
        offset = pos
    return out


def _all_keyed(props: list[bytes]) -> bool:
    """True when :func:`prop_value` would find a non-empty UNIQ_KEY in each of the entries'
    properties ``props`` and each sits where it does in the first entry's (checked with C-level
    ``map``); False means "check entry by entry", not "some entry lacks one"."""
    first = props[0]
    if first.startswith(_UNIQ_FIELD):
        if not all(map(bytes.startswith, props, repeat(_UNIQ_FIELD))):
            return False
        start = len(_UNIQ_FIELD)
    else:
        at = first.find(_UNIQ_AFTER_SEP)
        if at < 0 or any(map(bytes.startswith, props, repeat(_UNIQ_FIELD))):
            return False
        if set(map(bytes.find, props, repeat(_UNIQ_AFTER_SEP))) != {at}:
            return False
        start = at + len(_UNIQ_AFTER_SEP)
    return min(map(bytes.find, props, repeat(b"\x02"), repeat(start))) > start


def _all_terminated(props: list[bytes]) -> bool:
    """True when each of the non-empty properties strings ``props`` (every one holds a
    UNIQ_KEY: call after :func:`_all_keyed`) ends with the ``\\x02`` separator (one C-level
    ``map`` of their last bytes, ~35 ns per entry)."""
    return set(map(_LAST_BYTE, props)) == {2}


def _all_utf8(entries: list[BatchEntry]) -> bool:
    """True when every entry's properties are valid UTF-8 (only asked after the store refused
    a batch: its one refusal the per-message path turns into a store, bad bytes replaced)."""
    for _flag, _body, raw_props in entries:
        try:
            raw_props.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _messages_of(batch: EncodedBatch) -> list[MessageExtBrokerInner]:
    """One message object per entry of ``batch``, properties decoded (invalid UTF-8 replaced)."""
    out: list[MessageExtBrokerInner] = []
    for flag, body, raw_props in batch.entries:
        properties_string = str(raw_props, "utf-8", "replace")
        out.append(
            MessageExtBrokerInner(
                topic=batch.topic,
                body=body,
                flag=flag,
                properties=decode_properties(properties_string),
                queue_id=batch.queue_id,
                sys_flag=batch.sys_flag,
                born_timestamp=batch.born_timestamp,
                born_host=batch.born_host,
                store_host=batch.store_host,
                properties_string=properties_string,
            )
        )
    return out


_STORE_ERRORS: dict[str, tuple[int, str]] = {
    "CREATE_MAPPED_FILE_FAILED": (
        ResponseCode.SYSTEM_ERROR,
        "create mapped file failed, server is busy or broken.",
    ),
    "MESSAGE_ILLEGAL": (
        ResponseCode.MESSAGE_ILLEGAL,
        "the message is illegal, maybe msg body or properties length not matched.",
    ),
    "PROPERTIES_SIZE_EXCEEDED": (
        ResponseCode.MESSAGE_ILLEGAL,
        f"the message properties are longer than {MAX_PROPERTIES_LENGTH} bytes.",
    ),
    "SERVICE_NOT_AVAILABLE": (
        ResponseCode.SERVICE_NOT_AVAILABLE,
        "service not available now: the store is shutting down, its disk is full, or a "
        "commit-log flush failed.",
    ),
    "OS_PAGE_CACHE_BUSY": (
        ResponseCode.SYSTEM_ERROR,
        "[PC_SYNCHRONIZED]broker busy, start flow control for a while",
    ),
}
_STORED_CODES: dict[str, int] = {
    "PUT_OK": ResponseCode.SUCCESS,
    "FLUSH_DISK_TIMEOUT": ResponseCode.FLUSH_DISK_TIMEOUT,
    "FLUSH_SLAVE_TIMEOUT": ResponseCode.FLUSH_SLAVE_TIMEOUT,
    "SLAVE_NOT_AVAILABLE": ResponseCode.SLAVE_NOT_AVAILABLE,
}


class _Reject(Exception):
    """A request refused by a check: ``code`` and ``remark`` of the answer."""

    def __init__(self, code: int, remark: str) -> None:
        super().__init__(remark)
        self.code = code
        self.remark = remark


class SendMessageProcessor(BrokerProcessor):
    """Stores messages sent by producers (single and batch)."""

    codes = (RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE)

    def __init__(self, ctx: BrokerContext) -> None:
        super().__init__(ctx)
        self._legal_topics: set[str] = set()
        """Topic names that passed :meth:`_check_topic_name` (at most ``_LEGAL_TOPICS_MAX``)."""

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header: _SendHeader
        if request.code == RequestCode.SEND_MESSAGE:
            header = request.decode_header(SendMessageRequestHeader)
        else:
            header = request.decode_header(SendMessageRequestHeaderV2)
        batch = request.code == RequestCode.SEND_BATCH_MESSAGE or bool(header.batch)
        try:
            topic_config = self._check(header, connection)
            queue_id = self._pick_queue(header, topic_config)
            if batch:
                return await self._send_batch(request, header, topic_config, queue_id, connection)
            return await self._send_one(request, header, topic_config, queue_id, connection)
        except _Reject as rejected:
            logger.debug(
                "send to %s from %s refused: %s", header.topic, connection.remote_address, rejected
            )
            return self._respond(request, rejected.code, rejected.remark)

    # --- checks --------------------------------------------------------------------------

    def _check(self, header: _SendHeader, connection: Connection) -> TopicConfig:
        cfg = self.ctx.config
        if not cfg.is_writeable:
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the broker[{cfg.broker_ip1}] sending message is forbidden",
            )
        if header.topic not in self._legal_topics:
            self._check_topic_name(header.topic)
        topic_config = self._topic_config(header, connection)
        if not permission.is_writeable(topic_config.perm):
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the topic[{header.topic}] sending message is forbidden",
            )
        if header.queue_id >= topic_config.queue_count:
            raise _Reject(
                ResponseCode.INVALID_PARAMETER,
                f"request queueId[{header.queue_id}] is illegal, topic {header.topic} has "
                f"{topic_config.queue_count} queues, Producer: {connection.remote_address}",
            )
        return topic_config

    def _check_topic_name(self, topic: str) -> None:
        """Refuse an illegal topic name or one clients may not send to; remember a legal one
        (both checks depend on the name alone)."""
        problem = tv.check_topic(topic)
        if problem is not None:
            raise _Reject(ResponseCode.INVALID_PARAMETER, problem)
        if tv.is_not_allowed_send_topic(topic):
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"Sending message to topic[{topic}] is forbidden.",
            )
        if len(self._legal_topics) >= _LEGAL_TOPICS_MAX:
            self._legal_topics.clear()
        self._legal_topics.add(topic)

    def _topic_config(self, header: _SendHeader, connection: Connection) -> TopicConfig:
        topics = self.ctx.topics
        found = topics.select(header.topic)
        if found is not None:
            return found
        created = topics.create_topic_in_send_message_method(
            header.topic,
            header.default_topic,
            connection.remote_address,
            header.default_topic_queue_nums,
        )
        if created is None and tv.is_retry_topic(header.topic):
            created = topics.create_topic_in_send_message_back_method(
                header.topic, 1, retry.RETRY_TOPIC_PERM
            )
        if created is None:
            raise _Reject(
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{header.topic}] not exist, apply first please!",
            )
        return created

    @staticmethod
    def _pick_queue(header: _SendHeader, topic_config: TopicConfig) -> int:
        if header.queue_id >= 0:
            return header.queue_id
        if topic_config.write_queue_nums <= 0:
            raise _Reject(
                ResponseCode.NO_PERMISSION, f"topic[{header.topic}] has no writeable queue"
            )
        return random.randrange(topic_config.write_queue_nums)

    def _check_sizes(self, body_length: int, properties_string: str) -> None:
        limit = self.ctx.store_config.max_message_size
        if body_length > limit:
            raise _Reject(
                ResponseCode.MESSAGE_ILLEGAL,
                f"the message body size {body_length} exceeds the limit {limit} bytes",
            )
        if len(properties_string.encode("utf-8")) > MAX_PROPERTIES_LENGTH:
            raise _Reject(
                ResponseCode.MESSAGE_ILLEGAL,
                f"the message properties are longer than {MAX_PROPERTIES_LENGTH} bytes",
            )

    # --- single message ------------------------------------------------------------------

    async def _send_one(
        self,
        request: RemotingCommand,
        header: _SendHeader,
        topic_config: TopicConfig,
        queue_id: int,
        connection: Connection,
    ) -> RemotingCommand:
        properties = decode_properties(header.properties)
        prepared = is_prepared_send(header.sys_flag, properties)
        if prepared and self.ctx.config.reject_transaction_message:
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the broker[{self.ctx.config.broker_ip1}] sending transaction message is "
                "forbidden",
            )
        properties[MessageConst.PROPERTY_CLUSTER] = self.ctx.config.broker_cluster_name
        if not properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX):
            properties[MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = create_uniq_id()
        msg = MessageExtBrokerInner(
            topic=header.topic,
            body=request.body,
            flag=header.flag,
            properties=properties,
            queue_id=queue_id,
            sys_flag=self._sys_flag(header.sys_flag, topic_config),
            born_timestamp=header.born_timestamp,
            born_host=connection.remote_address,
            store_host=self.ctx.broker_addr,
            reconsume_times=header.reconsume_times or 0,
        )
        self._route_retry(request, header, msg)
        if prepared:  # parked in RMQ_SYS_TRANS_HALF_TOPIC until END_TRANSACTION
            TransactionalMessageService.prepare(msg)
        else:
            rewrite_delayed_message(msg, self.ctx.delay_levels)
        msg.properties_string = encode_properties(msg.properties)
        self._check_sizes(len(msg.body), msg.properties_string)
        outcome = await self.ctx.put_message(msg)
        uniq_key = msg.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        return self._answer(request, outcome, queue_id, uniq_key)

    @staticmethod
    def _sys_flag(sys_flag: int, topic_config: TopicConfig) -> int:
        if topic_config.topic_filter_type == "MULTI_TAG":
            return sys_flag | MessageSysFlag.MULTI_TAGS_FLAG
        return sys_flag

    def _route_retry(
        self,
        request: RemotingCommand,
        header: _SendHeader,
        msg: MessageExtBrokerInner,
    ) -> None:
        """handleRetryAndDLQ: a client's own send to ``%RETRY%<group>`` may become a dead
        letter (the routing rule is :func:`rmq_core.broker.retry.route_retry_send`)."""
        group = retry.group_of_retry_topic(header.topic)
        if group is None:
            return
        group_config = self.ctx.groups.find_subscription_group_config(group)
        if group_config is None:
            raise _Reject(
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group not exist, {group}",
            )
        max_times = retry.effective_max_reconsume_times(
            group_config.retry_max_times, header.max_reconsume_times, request.version
        )
        route = retry.route_retry_send(
            group,
            header.reconsume_times,
            max_times,
            msg.queue_id,
            force_dead_letter=self.ctx.locks.has_live_locks(group),
        )
        if not route.dead_letter:
            return
        dlq = self.ctx.topics.create_topic_in_send_message_back_method(
            route.topic, retry.DLQ_NUMS_PER_GROUP, retry.DLQ_TOPIC_PERM
        )
        if not permission.is_writeable(dlq.perm):
            raise _Reject(
                ResponseCode.NO_PERMISSION, f"the topic[{dlq.topic_name}] is not writeable"
            )
        logger.info("retry send of group %s moved to %s", group, route.topic)
        msg.topic = route.topic
        msg.queue_id = route.queue_id
        msg.properties.pop(MessageConst.PROPERTY_DELAY_TIME_LEVEL, None)

    # --- batch ---------------------------------------------------------------------------

    async def _send_batch(
        self,
        request: RemotingCommand,
        header: _SendHeader,
        topic_config: TopicConfig,
        queue_id: int,
        connection: Connection,
    ) -> RemotingCommand:
        if len(header.topic) > tv.TOPIC_MAX_LENGTH:
            raise _Reject(ResponseCode.MESSAGE_ILLEGAL, "message topic length too long")
        if tv.is_retry_topic(header.topic):
            raise _Reject(
                ResponseCode.MESSAGE_ILLEGAL, "batch request does not support retry group"
            )
        header_properties = decode_properties(header.properties)
        if MessageConst.PROPERTY_DELAY_TIME_LEVEL in header_properties:
            raise _Reject(ResponseCode.MESSAGE_ILLEGAL, "batch messages cannot be delayed")
        limit = self.ctx.store_config.max_message_size
        if len(request.body) > limit:
            raise _Reject(
                ResponseCode.MESSAGE_ILLEGAL,
                f"the batch body size {len(request.body)} exceeds the limit {limit} bytes",
            )
        data = request.body
        layout = _uniform_layout(data)
        try:
            entries = _split_entries(data) if layout is None else _unpack_uniform(data, layout)
        except (MessageFormatError, ValueError) as exc:
            raise _Reject(ResponseCode.MESSAGE_ILLEGAL, f"malformed batch body: {exc}") from None
        if not entries:
            raise _Reject(ResponseCode.MESSAGE_ILLEGAL, "empty batch")
        sys_flag = self._sys_flag(header.sys_flag, topic_config)
        if layout is not None and self._uniform_checked(data, layout):
            checked = entries
        else:
            checked = self._checked_entries(entries)
        batch = EncodedBatch(
            header.topic,
            queue_id,
            sys_flag,
            header.born_timestamp,
            connection.remote_address,
            self.ctx.broker_addr,
            checked,
        )
        wait = header_properties.get(MessageConst.PROPERTY_WAIT_STORE_MSG_OK, "true") != "false"
        outcome = await self.ctx.put_encoded_batch(batch, wait)
        if outcome.status == "MESSAGE_ILLEGAL" and not _all_utf8(checked):
            # The store refuses properties that are not UTF-8; as before, such a batch is stored
            # with the bad bytes replaced (the message path decodes them), other refusals stay.
            outcome = await self.ctx.put_messages(_messages_of(batch), wait, len(checked))
        return self._answer(request, outcome, queue_id, None)

    def _uniform_checked(self, data: bytes, layout: _Uniform) -> bool:
        """True when :meth:`_checked_entries` would return a uniform batch's entries as they
        are: body and properties within their limits, each entry keyed first and terminated
        (:func:`_uniform_keyed`)."""
        _total, body_len, props_len = layout
        return (
            body_len <= self.ctx.store_config.max_message_size
            and props_len <= MAX_PROPERTIES_LENGTH
            and _uniform_keyed(data, layout)
        )

    def _checked_entries(self, entries: list[BatchEntry]) -> list[BatchEntry]:
        """The entries with a UNIQ_KEY each (added, as RocketMQ does, to an entry without one;
        found with ``bytes.find``, no properties decoded) and properties ending with the
        ``\\x02`` separator (appended when missing: Java's decoder accepts such a string, and
        the store's recovery drops a record whose properties do not end with it), refused when
        a body or properties string is too long. Properties are otherwise stored as sent."""
        body_limit = self.ctx.store_config.max_message_size
        props = list(map(_ENTRY_PROPS, entries))
        if (
            max(map(len, props)) <= MAX_PROPERTIES_LENGTH
            and max(map(len, map(_ENTRY_BODY, entries))) <= body_limit
            and _all_keyed(props)
            and _all_terminated(props)
        ):
            return entries
        for i, (flag, body, raw_props) in enumerate(entries):
            if prop_value(raw_props, _UNIQ_FIELD) is None:
                properties = decode_properties(str(raw_props, "utf-8", "replace"))
                properties[_UNIQ_KEY] = create_uniq_id()
                raw_props = encode_properties(properties).encode("utf-8")
                entries[i] = (flag, body, raw_props)
            elif not raw_props.endswith(b"\x02"):
                raw_props += b"\x02"
                entries[i] = (flag, body, raw_props)
            if len(body) > body_limit or len(raw_props) > MAX_PROPERTIES_LENGTH:
                self._check_sizes(len(body), str(raw_props, "utf-8", "replace"))
        return entries

    # --- answers -------------------------------------------------------------------------

    def _region_fields(self) -> dict[str, str]:
        cfg = self.ctx.config
        return {
            MessageConst.PROPERTY_MSG_REGION: cfg.region_id,
            MessageConst.PROPERTY_TRACE_SWITCH: "true" if cfg.trace_on else "false",
        }

    def _respond(self, request: RemotingCommand, code: int, remark: str | None) -> RemotingCommand:
        return request.response(code, remark, ext_fields=self._region_fields())

    def _answer(
        self,
        request: RemotingCommand,
        outcome: StoredOutcome,
        queue_id: int,
        uniq_key: str | None,
    ) -> RemotingCommand:
        code = _STORED_CODES.get(outcome.status)
        if code is None:
            error_code, remark = _STORE_ERRORS.get(
                outcome.status, (ResponseCode.SYSTEM_ERROR, f"store error {outcome.status}")
            )
            return self._respond(request, error_code, remark)
        append = outcome.append_result
        cfg = self.ctx.config
        # The fields of _region_fields() then SendMessageResponseHeader.to_ext_fields(), in
        # that order, built in one dict (the same header bytes, without a header object).
        fields = {
            _MSG_REGION: cfg.region_id,
            _TRACE_ON: "true" if cfg.trace_on else "false",
            "msgId": append.msg_id,
            "queueId": str(queue_id),
            "queueOffset": str(append.queue_offset),
        }
        if uniq_key is not None:
            fields["transactionId"] = uniq_key
        answer_remark: str | None = None if code == ResponseCode.SUCCESS else outcome.status
        return RemotingCommand(
            code, request.opaque, FLAG_RESPONSE, remark=answer_remark, ext_fields=fields
        )
