"""QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15), GET_CONSUMER_LIST_BY_GROUP (38).

Offsets (reference §6.4 to §6.6): a known offset is answered as is. An unknown one is answered
QUERY_NOT_FOUND when the request says ``setZeroIfNotFound=false``; otherwise ``0`` when the
queue was never truncated (min offset 0) and its first message is still "in memory" (within
``accessMessageInMemoryMaxRatio`` = 40 % of RAM behind the commit-log head, RocketMQ's rule),
so a brand-new group on a young topic starts at the beginning; else QUERY_NOT_FOUND.

Commits: a negative ``commitOffset`` (ali-ons commits ``-1`` for "nothing consumed") is
accepted and ignored. Unknown groups (when auto-creation is off), unknown topics and queue ids
outside the topic answer SUBSCRIPTION_GROUP_NOT_EXIST, TOPIC_NOT_EXIST, INVALID_PARAMETER.
"""

from __future__ import annotations

import os
import struct

from rmq_core.broker.processors.common import BrokerProcessor, drain_records, standard_json_body
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    GetConsumerListByGroupRequestHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
)
from rmq_core.remoting.transport import Connection

__all__ = ["ConsumerManageProcessor", "memory_limit_bytes"]

ACCESS_MESSAGE_IN_MEMORY_MAX_RATIO = 0.40
_PHYSICAL_OFFSET = struct.Struct(">q")
_PHYSICAL_OFFSET_POSITION = 28


def memory_limit_bytes() -> int:
    """Commit-log bytes behind the head RocketMQ considers "in memory" (40 % of RAM)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 1024**3
    return int(total * ACCESS_MESSAGE_IN_MEMORY_MAX_RATIO)


class ConsumerManageProcessor(BrokerProcessor):
    """Consumer offsets and group membership lists."""

    codes = (
        RequestCode.QUERY_CONSUMER_OFFSET,
        RequestCode.UPDATE_CONSUMER_OFFSET,
        RequestCode.GET_CONSUMER_LIST_BY_GROUP,
    )

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        if request.code == RequestCode.QUERY_CONSUMER_OFFSET:
            return self._query_offset(request)
        if request.code == RequestCode.UPDATE_CONSUMER_OFFSET:
            return self._update_offset(request, connection)
        return self._consumer_list(request)

    def _check_queue(
        self, request: RemotingCommand, group: str, topic: str, queue_id: int
    ) -> RemotingCommand | None:
        if self.ctx.groups.find_subscription_group_config(group) is None:
            return self.fail(
                request,
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group [{group}] does not exist",
            )
        topic_config = self.ctx.topics.select(topic)
        if topic_config is None:
            return self.fail(
                request,
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{topic}] not exist, apply first please!",
            )
        if not 0 <= queue_id < topic_config.queue_count:
            return self.fail(
                request,
                ResponseCode.INVALID_PARAMETER,
                f"queueId[{queue_id}] is illegal, topic {topic} has {topic_config.queue_count} "
                "queues",
            )
        return None

    def _query_offset(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(QueryConsumerOffsetRequestHeader)
        error = self._check_queue(request, header.consumer_group, header.topic, header.queue_id)
        if error is not None:
            return error
        offset = self.ctx.offsets.query_offset(header.consumer_group, header.topic, header.queue_id)
        if (
            offset < 0
            and header.set_zero_if_not_found is not False
            and self._start_from_zero(header.topic, header.queue_id)
        ):
            offset = 0
        if offset < 0:
            return self.fail(
                request,
                ResponseCode.QUERY_NOT_FOUND,
                "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
            )
        return request.response(
            ResponseCode.SUCCESS, None, header=QueryConsumerOffsetResponseHeader(offset=offset)
        )

    def _start_from_zero(self, topic: str, queue_id: int) -> bool:
        store = self.ctx.store
        if store.get_min_offset_in_queue(topic, queue_id) > 0:
            return False
        if store.get_max_offset_in_queue(topic, queue_id) <= 0:
            return True
        result = store.get_message("", topic, queue_id, 0, 1, None)
        if not result.messages:
            return True
        record = drain_records(result.messages)[: _PHYSICAL_OFFSET_POSITION + 8]
        (first_phy_offset,) = _PHYSICAL_OFFSET.unpack_from(record, _PHYSICAL_OFFSET_POSITION)
        return store.max_phy_offset - int(first_phy_offset) <= memory_limit_bytes()

    def _update_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = request.decode_header(UpdateConsumerOffsetRequestHeader)
        error = self._check_queue(request, header.consumer_group, header.topic, header.queue_id)
        if error is not None:
            return error
        self.ctx.offsets.commit_offset(
            connection.remote_address,
            header.consumer_group,
            header.topic,
            header.queue_id,
            header.commit_offset,
        )
        return self.ok(request)

    def _consumer_list(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(GetConsumerListByGroupRequestHeader)
        group_info = self.ctx.consumers.get_consumer_group_info(header.consumer_group)
        client_ids = group_info.all_client_ids() if group_info is not None else []
        if not client_ids:
            return self.fail(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"no consumer for this group, {header.consumer_group}",
            )
        return self.ok(request, standard_json_body({"consumerIdList": client_ids}))
