"""Pop consumption codes (RocketMQ 5, JSON headers): POP_MESSAGE (200050), ACK_MESSAGE
(200051), CHANGE_MESSAGE_INVISIBLETIME (200053) and BATCH_ACK_MESSAGE (200151).

POP_MESSAGE checks, each answered with RocketMQ's code and a remark: broker readable
(NO_PERMISSION); ``1 <= maxMsgNums <= 32``, ``0 < invisibleTime <= 12 h``, ``pollTime >= 0``
(INVALID_PARAMETER); topic exists (TOPIC_NOT_EXIST) and is readable (NO_PERMISSION);
``queueId`` is -1 or a readable queue (INVALID_PARAMETER); the group exists or may be
auto-created (SUBSCRIPTION_GROUP_NOT_EXIST) and may consume (NO_PERMISSION); the expression
parses (SUBSCRIPTION_PARSE_FAILED; SQL92 without ``enablePropertyFilter``: SYSTEM_ERROR).
Found messages -> SUCCESS, body = the stored records, header with ``popTime``,
``invisibleTime``, ``reviveQid`` 0, ``restNum`` and the per-queue ``startOffsetInfo`` /
``msgOffsetInfo``. Nothing visible and ``pollTime > 0`` -> held until a message arrives or
``pollTime`` (at most :data:`MAX_POLL_TIME_MS`) passes, then PULL_NOT_FOUND; POLLING_FULL when
too many pops are held already.

ACK_MESSAGE / CHANGE_MESSAGE_INVISIBLETIME take the receipt handle (``extraInfo``) of one
message: a malformed handle -> INVALID_PARAMETER; unknown topic -> TOPIC_NOT_EXIST; bad queue
id -> MESSAGE_ILLEGAL; a handle that is no longer current (acknowledged, re-hidden or revived
already: it expired) -> NO_MESSAGE (208, the Java client's ``AckStatus.NO_EXIST``) with a remark
saying so. A successful change answers the new ``popTime``; the client builds the new handle
from it. BATCH_ACK_MESSAGE acknowledges what it can and answers SUCCESS (NO_MESSAGE for an
empty body), as RocketMQ does.
"""

from __future__ import annotations

import asyncio
import logging

from rmq_core.broker import perm as permission
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.pop.long_polling import HeldPop, PopHoldService
from rmq_core.broker.pop.service import (
    MAX_INVISIBLE_TIME_MS,
    MAX_POP_BATCH,
    PopBatch,
    PopService,
    now_ms,
)
from rmq_core.broker.processors.common import BrokerProcessor, decode_json_body
from rmq_core.errors import FilterError, RemoteProtocolError
from rmq_core.filter.message_filter import (
    SQL92,
    ExpressionMessageFilter,
    PropertyFilterDisabledError,
    is_tag_type,
)
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.pop_headers import (
    AckMessageRequestHeader,
    ChangeInvisibleTimeRequestHeader,
    ChangeInvisibleTimeResponseHeader,
    ExtraInfo,
    PopMessageRequestHeader,
    PopMessageResponseHeader,
    decode_batch_ack_body,
    format_queue_offsets,
    pop_retry_topic,
)
from rmq_core.remoting.transport import Connection

__all__ = ["MAX_POLL_TIME_MS", "REVIVE_QID", "PopProcessor"]

logger = logging.getLogger(__name__)

MAX_POLL_TIME_MS = 60_000
"""Longest time (ms) a pop is held waiting for a message."""
REVIVE_QID = 0
"""``reviveQid`` of every handle (rmq has no revive queues; 999 would mean orderly)."""


class _Reject(Exception):
    def __init__(self, code: int, remark: str) -> None:
        super().__init__(remark)
        self.code = code
        self.remark = remark


class PopProcessor(BrokerProcessor):
    """Serves the pop codes over a :class:`PopService`; owns the pop hold service."""

    codes = (
        RequestCode.POP_MESSAGE,
        RequestCode.ACK_MESSAGE,
        RequestCode.CHANGE_MESSAGE_INVISIBLETIME,
        RequestCode.BATCH_ACK_MESSAGE,
    )

    def __init__(self, ctx: BrokerContext, service: PopService) -> None:
        super().__init__(ctx)
        self.service = service
        self.hold_service = PopHoldService(
            self._reexecute,
            max_held=ctx.config.max_suspended_pulls,
            queue_max_offset=ctx.store.get_max_offset_in_queue,
        )
        service.hold_service = self.hold_service

    async def process(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand | None:
        code = request.code
        if code == RequestCode.POP_MESSAGE:
            return self.process_pop(request, connection, deadline=None, final=False)
        if code == RequestCode.ACK_MESSAGE:
            return self._ack(request)
        if code == RequestCode.CHANGE_MESSAGE_INVISIBLETIME:
            return self._change(request)
        return self._batch_ack(request)

    # --- pop -------------------------------------------------------------------------------

    def process_pop(
        self,
        request: RemotingCommand,
        connection: Connection,
        *,
        deadline: float | None,
        final: bool,
    ) -> RemotingCommand | None:
        """Answer a pop now, or park it (None). ``deadline`` is the loop time a re-executed
        pop was first parked until; ``final`` answers without parking."""
        header = request.decode_header(PopMessageRequestHeader)
        try:
            message_filter = self._check_pop(header)
        except _Reject as rejected:
            return request.response(rejected.code, rejected.remark)
        batch = self.service.pop(
            header.consumer_group,
            header.topic,
            header.queue_id,
            header.max_msg_nums,
            header.invisible_time,
            message_filter,
            header.init_mode,
        )
        if batch.count:
            return self._found(request, batch)
        if not final and header.poll_time > 0:
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + min(header.poll_time, MAX_POLL_TIME_MS) / 1000.0
            if deadline > loop.time():
                held = HeldPop(
                    request=request,
                    connection=connection,
                    group=header.consumer_group,
                    topics=(header.topic, pop_retry_topic(header.consumer_group, header.topic)),
                    queue_id=header.queue_id,
                    message_filter=message_filter,
                    deadline=deadline,
                    watermarks=batch.watermarks,
                )
                # A message that became readable after the read above and whose arrival found
                # nothing parked yet shows in the watermarks: the hold service re-reads them
                # once the pop is registered and wakes it.
                if self.hold_service.suspend(held):
                    return None
                return self._empty(request, batch, ResponseCode.POLLING_FULL, "polling full")
        return self._empty(request, batch, ResponseCode.PULL_NOT_FOUND, "no new message")

    def _check_pop(self, header: PopMessageRequestHeader) -> ExpressionMessageFilter:
        cfg = self.ctx.config
        if not cfg.is_readable:
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the broker[{cfg.broker_ip1}] popping message is forbidden",
            )
        if not 1 <= header.max_msg_nums <= MAX_POP_BATCH:
            raise _Reject(
                ResponseCode.INVALID_PARAMETER,
                f"maxMsgNums {header.max_msg_nums} is out of range [1, {MAX_POP_BATCH}]",
            )
        if not 0 < header.invisible_time <= MAX_INVISIBLE_TIME_MS:
            raise _Reject(
                ResponseCode.INVALID_PARAMETER,
                f"invisibleTime {header.invisible_time} ms is out of range "
                f"(0, {MAX_INVISIBLE_TIME_MS}]",
            )
        if header.poll_time < 0:
            raise _Reject(ResponseCode.INVALID_PARAMETER, f"pollTime {header.poll_time} < 0")
        topic_config = self.ctx.topics.select(header.topic)
        if topic_config is None:
            raise _Reject(
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{header.topic}] not exist, apply first please!",
            )
        if not permission.is_readable(topic_config.perm):
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the topic[{header.topic}] peeking message is forbidden",
            )
        if not -1 <= header.queue_id < topic_config.read_queue_nums:
            raise _Reject(
                ResponseCode.INVALID_PARAMETER,
                f"queueId[{header.queue_id}] is illegal, topic:[{header.topic}] "
                f"topicConfig.readQueueNums:[{topic_config.read_queue_nums}]",
            )
        group_config = self.ctx.groups.find_subscription_group_config(header.consumer_group)
        if group_config is None:
            raise _Reject(
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group [{header.consumer_group}] does not exist",
            )
        if not group_config.consume_enable:
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"subscription group no permission, {header.consumer_group}",
            )
        return self._filter(header)

    def _filter(self, header: PopMessageRequestHeader) -> ExpressionMessageFilter:
        enable_sql = self.ctx.config.enable_property_filter
        expression_type = header.exp_type or "TAG"
        expression = header.exp or "*"
        if not is_tag_type(expression_type) and expression_type == SQL92 and not enable_sql:
            raise _Reject(
                ResponseCode.SYSTEM_ERROR,
                "The broker does not support consumer to filter message by SQL92",
            )
        try:
            return ExpressionMessageFilter(expression_type, expression, enable_sql)
        except PropertyFilterDisabledError as exc:
            raise _Reject(ResponseCode.SYSTEM_ERROR, str(exc)) from None
        except FilterError as exc:
            raise _Reject(
                ResponseCode.SUBSCRIPTION_PARSE_FAILED,
                f"parse the consumer's subscription[{expression}] failed: {exc}",
            ) from None

    @staticmethod
    def _found(request: RemotingCommand, batch: PopBatch) -> RemotingCommand:
        header = PopMessageResponseHeader(
            pop_time=batch.pop_time,
            invisible_time=batch.invisible_time,
            revive_qid=REVIVE_QID,
            rest_num=batch.rest_num,
            start_offset_info=format_queue_offsets(batch.start_offsets),
            msg_offset_info=format_queue_offsets(batch.msg_offsets),
        )
        return request.response(ResponseCode.SUCCESS, "FOUND", header=header,
                                body=b"".join(batch.records))  # fmt: skip

    @staticmethod
    def _empty(
        request: RemotingCommand, batch: PopBatch, code: int, remark: str
    ) -> RemotingCommand:
        header = PopMessageResponseHeader(
            pop_time=batch.pop_time,
            invisible_time=batch.invisible_time,
            revive_qid=REVIVE_QID,
            rest_num=batch.rest_num,
        )
        return request.response(code, remark, header=header)

    def _reexecute(self, held: HeldPop, final: bool) -> None:
        try:
            response = self.process_pop(
                held.request, held.connection, deadline=held.deadline, final=final
            )
        except Exception as exc:
            logger.exception("woken pop from %s failed", held.connection.remote_address)
            response = held.request.response(ResponseCode.SYSTEM_ERROR, str(exc))
        if response is not None and not held.request.is_oneway:
            held.connection.send_response(response)

    # --- ack / change ----------------------------------------------------------------------

    def _locate(self, group: str, topic: str, queue_id: int, extra_info: str) -> tuple[str, int]:
        """(real topic, popTime) of a handle; raises _Reject for bad input."""
        try:
            info = ExtraInfo.parse(extra_info)
        except RemoteProtocolError as exc:
            raise _Reject(ResponseCode.INVALID_PARAMETER, str(exc)) from None
        real_topic = info.real_topic(topic, group)
        config = self.ctx.topics.select(real_topic)
        if config is None:
            raise _Reject(
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{real_topic}] not exist, apply first please!",
            )
        if not 0 <= queue_id < config.read_queue_nums:
            raise _Reject(
                ResponseCode.MESSAGE_ILLEGAL,
                f"queueId[{queue_id}] is illegal, topic:[{real_topic}] "
                f"topicConfig.readQueueNums:[{config.read_queue_nums}]",
            )
        return real_topic, info.pop_time

    @staticmethod
    def _not_current(group: str, topic: str, queue_id: int, offset: int) -> str:
        return (
            f"receipt handle of {topic}-{queue_id}@{offset} for group {group} is not current: "
            "the message was acknowledged, re-hidden or became visible again (expired)"
        )

    def _ack(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(AckMessageRequestHeader)
        group, offset = header.consumer_group, header.offset
        try:
            topic, pop_time = self._locate(group, header.topic, header.queue_id, header.extra_info)
        except _Reject as rejected:
            return request.response(rejected.code, rejected.remark)
        if not self.service.ack(group, topic, header.queue_id, offset, pop_time):
            remark = self._not_current(group, topic, header.queue_id, offset)
            return request.response(ResponseCode.NO_MESSAGE, remark)
        return self.ok(request)

    def _change(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(ChangeInvisibleTimeRequestHeader)
        group, offset = header.consumer_group, header.offset
        if not 0 <= header.invisible_time <= MAX_INVISIBLE_TIME_MS:
            return request.response(
                ResponseCode.INVALID_PARAMETER,
                f"invisibleTime {header.invisible_time} ms is out of range "
                f"[0, {MAX_INVISIBLE_TIME_MS}]",
            )
        try:
            topic, pop_time = self._locate(group, header.topic, header.queue_id, header.extra_info)
        except _Reject as rejected:
            return request.response(rejected.code, rejected.remark)
        entry = self.service.change_invisible(
            group, topic, header.queue_id, offset, pop_time, header.invisible_time, now=now_ms()
        )
        if entry is None:
            remark = self._not_current(group, topic, header.queue_id, offset)
            return request.response(ResponseCode.NO_MESSAGE, remark)
        response_header = ChangeInvisibleTimeResponseHeader(
            pop_time=entry.pop_time, invisible_time=entry.invisible_time, revive_qid=REVIVE_QID
        )
        return request.response(ResponseCode.SUCCESS, None, header=response_header)

    def _batch_ack(self, request: RemotingCommand) -> RemotingCommand:
        if not request.body:
            return request.response(ResponseCode.NO_MESSAGE, "empty batch ack body")
        try:
            _, acks = decode_batch_ack_body(decode_json_body(request.body))
        except RemoteProtocolError as exc:
            return request.response(ResponseCode.INVALID_PARAMETER, f"bad batch ack body: {exc}")
        if not acks:
            return request.response(ResponseCode.NO_MESSAGE, "batch ack without acks")
        acked = missed = 0
        for ack in acks:
            topic = (
                pop_retry_topic(ack.consumer_group, ack.topic)
                if ack.retry and not ack.topic.startswith("%RETRY%")
                else ack.topic
            )
            for offset in ack.offsets:
                if self.service.ack(ack.consumer_group, topic, ack.queue_id, offset, ack.pop_time):
                    acked += 1
                else:
                    missed += 1
        if missed:
            logger.info("batch ack: %d acknowledged, %d handles not current", acked, missed)
        return self.ok(request)
