"""CONSUMER_SEND_MSG_BACK (36): a consumer hands back a message it failed to consume.

Steps (RocketMQ's ``consumerSendMsgBack``, reference §5.8), each refusal answered with
RocketMQ's code and remark, nothing stored:

1. broker not writeable -> NO_PERMISSION;
2. the group's config (auto-created when allowed) -> else SUBSCRIPTION_GROUP_NOT_EXIST;
   ``retryQueueNums <= 0`` -> SUCCESS and the message is dropped;
3. ``%RETRY%<group>`` exists (created with ``retryQueueNums`` queues, perm 6) and is writeable
   -> else NO_PERMISSION;
4. the record at header ``offset`` is read from the commit log (body left compressed) -> else
   SYSTEM_ERROR ``look message by offset failed, <offset>``;
5. :func:`~rmq_core.broker.retry.decide_send_back` picks ``%RETRY%`` with a delay level or
   ``%DLQ%<group>`` (created on demand); the copy built by
   :func:`~rmq_core.broker.retry.build_send_back_message` is parked in the schedule topic
   when delayed and stored; SUCCESS, or SYSTEM_ERROR with the store status as remark.
"""

from __future__ import annotations

import logging

from rmq_core.broker import perm as permission
from rmq_core.broker import retry
from rmq_core.broker.managers.topics import TopicConfig
from rmq_core.broker.processors.common import BrokerProcessor
from rmq_core.broker.schedule import rewrite_delayed_message
from rmq_core.broker.topic_validator import retry_topic
from rmq_core.common.message_codec import (
    MAX_PROPERTIES_LENGTH,
    MessageFormatError,
    decode_record,
    encode_properties,
)
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import ConsumerSendMsgBackRequestHeader
from rmq_core.remoting.transport import Connection

__all__ = ["ConsumerSendMsgBackProcessor"]

logger = logging.getLogger(__name__)

#: TopicSysFlag bit of a unit-mode subscriber's retry topic (FLAG_UNIT_SUB)
_TOPIC_SYS_FLAG_UNIT_SUB = 0x2


class ConsumerSendMsgBackProcessor(BrokerProcessor):
    """Moves failed messages to the group's retry topic, or its DLQ when exhausted."""

    codes = (RequestCode.CONSUMER_SEND_MSG_BACK,)

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = request.decode_header(ConsumerSendMsgBackRequestHeader)
        cfg = self.ctx.config
        if not cfg.is_writeable:
            return self.fail(
                request,
                ResponseCode.NO_PERMISSION,
                f"the broker[{cfg.broker_ip1}] sending message is forbidden",
            )
        group_config = self.ctx.groups.find_subscription_group_config(header.group)
        if group_config is None:
            return self.fail(
                request,
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group not exist, {header.group}",
            )
        if group_config.retry_queue_nums <= 0:
            return self.ok(request)
        retry_config = self.ctx.topics.create_topic_in_send_message_back_method(
            retry_topic(header.group),
            group_config.retry_queue_nums,
            retry.RETRY_TOPIC_PERM,
            _TOPIC_SYS_FLAG_UNIT_SUB if header.unit_mode else 0,
        )
        if not permission.is_writeable(retry_config.perm):
            return _forbidden(request, retry_config)
        raw = self.ctx.store.select_one_message_by_offset(header.offset)
        if raw is None:
            remark = f"look message by offset failed, {header.offset}"
            return self.fail(request, ResponseCode.SYSTEM_ERROR, remark)
        try:
            original, _ = decode_record(raw, 0, decompress=False)
        except MessageFormatError as exc:
            return self.fail(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"look message by offset failed, {header.offset}: {exc}",
            )
        max_times = retry.effective_max_reconsume_times(
            group_config.retry_max_times, header.max_reconsume_times, request.version
        )
        decision = retry.decide_send_back(
            header.group, original.reconsume_times, header.delay_level, max_times
        )
        if decision.dead_letter:
            target = self.ctx.topics.create_topic_in_send_message_back_method(
                decision.topic, retry.DLQ_NUMS_PER_GROUP, retry.DLQ_TOPIC_PERM
            )
            if not permission.is_writeable(target.perm):
                return _forbidden(request, target)
            queue_id = 0
        else:
            queue_id = retry.choose_queue(group_config.retry_queue_nums)
        msg = retry.build_send_back_message(original, decision, queue_id, self.ctx.broker_addr)
        rewrite_delayed_message(msg, self.ctx.delay_levels)
        msg.properties_string = encode_properties(msg.properties)
        if len(msg.properties_string.encode("utf-8")) > MAX_PROPERTIES_LENGTH:
            return self.fail(
                request,
                ResponseCode.MESSAGE_ILLEGAL,
                f"the message properties are longer than {MAX_PROPERTIES_LENGTH} bytes",
            )
        outcome = await self.ctx.put_message(msg)
        if not outcome.stored:
            logger.warning(
                "send-back of %s for group %s not stored: %s",
                original.msg_id,
                header.group,
                outcome.status,
            )
            return self.fail(request, ResponseCode.SYSTEM_ERROR, outcome.status)
        logger.debug(
            "message %s of group %s sent back to %s (level %d, times %d)",
            original.msg_id,
            header.group,
            decision.topic,
            decision.delay_level,
            msg.reconsume_times,
        )
        return self.ok(request)


def _forbidden(request: RemotingCommand, topic: TopicConfig) -> RemotingCommand:
    return request.response(
        ResponseCode.NO_PERMISSION, f"the topic[{topic.topic_name}] sending message is forbidden"
    )
