"""PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), with long polling (reference §6.3).

Checks, in RocketMQ's order: broker readable (NO_PERMISSION); subscription group exists
(SUBSCRIPTION_GROUP_NOT_EXIST) and may consume (NO_PERMISSION); topic exists (TOPIC_NOT_EXIST)
and is readable (NO_PERMISSION); ``0 <= queueId < readQueueNums`` (INVALID_PARAMETER); then the
subscription: from the request when sysFlag bit 2 is set (SUBSCRIPTION_PARSE_FAILED if it does
not parse), else the one registered by HEART_BEAT (SUBSCRIPTION_NOT_EXIST /
SUBSCRIPTION_NOT_LATEST); SQL92 needs ``enablePropertyFilter`` (SYSTEM_ERROR).

Store status -> response code: FOUND -> SUCCESS (body = the stored records);
NO_MATCHED_MESSAGE -> PULL_RETRY_IMMEDIATELY; OFFSET_OVERFLOW_ONE / OFFSET_FOUND_NULL ->
PULL_NOT_FOUND; OFFSET_TOO_SMALL / OFFSET_OVERFLOW_BADLY -> PULL_OFFSET_MOVED; an empty or
missing queue -> PULL_NOT_FOUND at offset 0, else PULL_OFFSET_MOVED. ``remark`` is the status.

At most ``maxTransferCountOnMessageInMemory`` (32) records answer one pull, whatever
``maxMsgNums`` asks for, and the store scans a bounded number of consume-queue units per pull
(see :meth:`~rmq_core.store.store.MessageStore.get_message`): a filter matching nothing
answers PULL_RETRY_IMMEDIATELY with ``nextBeginOffset`` past the scanned units.

Every response, errors included, carries ``suggestWhichBrokerId``, ``nextBeginOffset``,
``minOffset`` and ``maxOffset`` (strings): ali-ons and the Java client read them unconditionally.

PULL_NOT_FOUND with the SUSPEND flag (bit 1) is parked in the
:class:`~rmq_core.broker.long_polling.PullRequestHoldService` and answered when a message arrives
or the hold expires. With the COMMIT_OFFSET flag (bit 0) the request's ``commitOffset`` is stored
as the group's offset (first execution only).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rmq_core.broker import perm as permission
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.heartbeat import SubscriptionData
from rmq_core.broker.long_polling import HeldPull, PullRequestHoldService
from rmq_core.broker.processors.common import BrokerProcessor, drain_records
from rmq_core.errors import FilterError
from rmq_core.filter.message_filter import (
    SQL92,
    ExpressionMessageFilter,
    PropertyFilterDisabledError,
    is_tag_type,
)
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import PullMessageRequestHeader, PullMessageResponseHeader
from rmq_core.remoting.transport import Connection

__all__ = ["PullMessageProcessor", "PullSysFlag"]

logger = logging.getLogger(__name__)


class PullSysFlag:
    """Bits of the pull request's ``sysFlag``."""

    COMMIT_OFFSET = 0x1
    SUSPEND = 0x2
    SUBSCRIPTION = 0x4
    CLASS_FILTER = 0x8
    LITE_PULL = 0x10


_NOT_FOUND_STATUSES = frozenset({"OFFSET_OVERFLOW_ONE", "OFFSET_FOUND_NULL"})
_MOVED_STATUSES = frozenset({"OFFSET_TOO_SMALL", "OFFSET_OVERFLOW_BADLY"})
_EMPTY_STATUSES = frozenset({"NO_MATCHED_LOGIC_QUEUE", "NO_MESSAGE_IN_QUEUE"})
_RETRY_STATUSES = frozenset({"NO_MATCHED_MESSAGE", "MESSAGE_WAS_REMOVING"})


class _Reject(Exception):
    def __init__(self, code: int, remark: str) -> None:
        super().__init__(remark)
        self.code = code
        self.remark = remark


class PullMessageProcessor(BrokerProcessor):
    """Serves pulls and owns the long-polling hold service."""

    codes = (RequestCode.PULL_MESSAGE, RequestCode.LITE_PULL_MESSAGE)

    def __init__(self, ctx: BrokerContext) -> None:
        super().__init__(ctx)
        self.hold_service = PullRequestHoldService(
            self._reexecute,
            max_held=ctx.config.max_suspended_pulls,
            queue_max_offset=ctx.store.get_max_offset_in_queue,
        )

    async def process(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand | None:
        return self.process_request(request, connection, allow_suspend=True)

    def process_request(
        self, request: RemotingCommand, connection: Connection, *, allow_suspend: bool
    ) -> RemotingCommand | None:
        """Answer a pull now, or park it (None) when allowed and nothing is there yet."""
        header = request.decode_header(PullMessageRequestHeader)
        try:
            group_config, message_filter = self._check(header)
        except _Reject as rejected:
            return self._respond(request, header, rejected.code, rejected.remark)
        result = self.ctx.store.get_message(
            header.consumer_group,
            header.topic,
            header.queue_id,
            header.queue_offset,
            min(header.max_msg_nums, self.ctx.store_config.max_transfer_count_on_message_in_memory),
            message_filter,
        )
        status = result.status.name
        code = _response_code(status, header.queue_offset)
        response_header = PullMessageResponseHeader(
            suggest_which_broker_id=(
                group_config.which_broker_when_consume_slowly
                if result.suggest_pulling_from_slave
                else group_config.broker_id
            ),
            next_begin_offset=result.next_begin_offset,
            min_offset=result.min_offset,
            max_offset=result.max_offset,
        )
        if code == ResponseCode.SUCCESS:
            self.ctx.stats.record_get(result.message_count)
            response = request.response(
                code, status, header=response_header, body=drain_records(result.messages)
            )
        elif (
            code == ResponseCode.PULL_NOT_FOUND
            and allow_suspend
            and header.sys_flag & PullSysFlag.SUSPEND
            and self._suspend(request, connection, header, message_filter)
        ):
            response = None
        else:
            response = request.response(code, status, header=response_header)
        if allow_suspend and header.sys_flag & PullSysFlag.COMMIT_OFFSET:
            self.ctx.offsets.commit_offset(
                connection.remote_address,
                header.consumer_group,
                header.topic,
                header.queue_id,
                header.commit_offset,
            )
        return response

    # --- checks --------------------------------------------------------------------------

    def _check(self, header: PullMessageRequestHeader) -> tuple[Any, ExpressionMessageFilter]:
        cfg = self.ctx.config
        if not cfg.is_readable:
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the broker[{cfg.broker_ip1}] pulling message is forbidden",
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
        topic_config = self.ctx.topics.select(header.topic)
        if topic_config is None:
            raise _Reject(
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{header.topic}] not exist, apply first please!",
            )
        if not permission.is_readable(topic_config.perm):
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the topic[{header.topic}] pulling message is forbidden",
            )
        if not 0 <= header.queue_id < topic_config.read_queue_nums:
            raise _Reject(
                ResponseCode.INVALID_PARAMETER,
                f"queueId[{header.queue_id}] is illegal, topic:[{header.topic}] "
                f"topicConfig.readQueueNums:[{topic_config.read_queue_nums}] "
                f"consumer:[{header.consumer_group}]",
            )
        return group_config, self._filter(header, group_config)

    def _filter(
        self, header: PullMessageRequestHeader, group_config: Any
    ) -> ExpressionMessageFilter:
        enable_sql = self.ctx.config.enable_property_filter
        if header.sys_flag & PullSysFlag.SUBSCRIPTION:
            expression_type = header.expression_type or "TAG"
            expression = header.subscription
        else:
            subscription = self._registered_subscription(header, group_config)
            expression_type = subscription.expression_type
            expression = subscription.sub_string
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

    def _registered_subscription(
        self, header: PullMessageRequestHeader, group_config: Any
    ) -> SubscriptionData:
        group_info = self.ctx.consumers.get_consumer_group_info(header.consumer_group)
        if group_info is None:
            raise _Reject(
                ResponseCode.SUBSCRIPTION_NOT_EXIST,
                f"the consumer's group info not exist, group: {header.consumer_group}",
            )
        if group_info.message_model == "BROADCASTING" and not group_config.consume_broadcast_enable:
            raise _Reject(
                ResponseCode.NO_PERMISSION,
                f"the consumer group[{header.consumer_group}] can not consume by broadcast way",
            )
        subscription = group_info.subscriptions.get(header.topic)
        if subscription is None:
            raise _Reject(
                ResponseCode.SUBSCRIPTION_NOT_EXIST,
                f"the consumer's subscription not exist, group: {header.consumer_group} "
                f"topic: {header.topic}",
            )
        if subscription.sub_version < header.sub_version:
            raise _Reject(
                ResponseCode.SUBSCRIPTION_NOT_LATEST,
                f"the consumer's subscription not latest, group: {header.consumer_group}",
            )
        return subscription

    # --- answers -------------------------------------------------------------------------

    def _respond(
        self, request: RemotingCommand, header: PullMessageRequestHeader, code: int, remark: str
    ) -> RemotingCommand:
        """An error answer that still carries the four offsets the clients always read."""
        topic_known = header.topic in self.ctx.topics
        queue_valid = topic_known and header.queue_id >= 0
        min_offset = (
            self.ctx.store.get_min_offset_in_queue(header.topic, header.queue_id)
            if queue_valid
            else 0
        )
        max_offset = (
            self.ctx.store.get_max_offset_in_queue(header.topic, header.queue_id)
            if queue_valid
            else 0
        )
        response_header = PullMessageResponseHeader(
            suggest_which_broker_id=0,
            next_begin_offset=header.queue_offset,
            min_offset=min_offset,
            max_offset=max_offset,
        )
        return request.response(code, remark, header=response_header)

    # --- long polling --------------------------------------------------------------------

    def _suspend(
        self,
        request: RemotingCommand,
        connection: Connection,
        header: PullMessageRequestHeader,
        message_filter: ExpressionMessageFilter,
    ) -> bool:
        cfg = self.ctx.config
        hold = (
            max(0, header.suspend_timeout_millis) / 1000.0
            if cfg.long_polling_enable
            else cfg.short_polling_time
        )
        loop = asyncio.get_running_loop()
        held = HeldPull(
            request=request,
            connection=connection,
            topic=header.topic,
            queue_id=header.queue_id,
            offset=header.queue_offset,
            message_filter=message_filter,
            deadline=loop.time() + hold,
        )
        # No message can slip in between the read above and the park: arrivals on this loop
        # come after it, and the hold service re-reads the queue's max offset once the pull
        # is registered, for an arrival from another thread that found nothing parked yet.
        return self.hold_service.suspend(held)

    def _reexecute(self, held: HeldPull) -> None:
        try:
            response = self.process_request(held.request, held.connection, allow_suspend=False)
        except Exception as exc:
            logger.exception("woken pull from %s failed", held.connection.remote_address)
            response = held.request.response(ResponseCode.SYSTEM_ERROR, str(exc))
        if response is not None and not held.request.is_oneway:
            held.connection.send_response(response)


def _response_code(status: str, requested_offset: int) -> int:
    if status == "FOUND":
        return ResponseCode.SUCCESS
    if status in _RETRY_STATUSES:
        return ResponseCode.PULL_RETRY_IMMEDIATELY
    if status in _NOT_FOUND_STATUSES:
        return ResponseCode.PULL_NOT_FOUND
    if status in _MOVED_STATUSES:
        return ResponseCode.PULL_OFFSET_MOVED
    if status in _EMPTY_STATUSES:
        return (
            ResponseCode.PULL_OFFSET_MOVED if requested_offset != 0 else ResponseCode.PULL_NOT_FOUND
        )
    return ResponseCode.PULL_NOT_FOUND
