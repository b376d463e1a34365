"""Queue offset lookups: GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), SEARCH_OFFSET_BY_TIMESTAMP
(29) and GET_EARLIEST_MSG_STORETIME (32).

Offsets are logical consume-queue offsets; ``maxOffset`` is the next offset to be written.
The topic must exist (TOPIC_NOT_EXIST) and the queue id lie within it (INVALID_PARAMETER).
SEARCH_OFFSET_BY_TIMESTAMP takes ``timestamp`` in ms and ``boundaryType`` LOWER (default) or
UPPER, case-insensitive. GET_EARLIEST_MSG_STORETIME answers -1 for an empty queue.
"""

from __future__ import annotations

from rmq_core.broker.processors.common import BrokerProcessor
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
)
from rmq_core.remoting.transport import Connection

__all__ = ["QueueOffsetProcessor"]

BOUNDARIES = ("LOWER", "UPPER")


class QueueOffsetProcessor(BrokerProcessor):
    """Min/max/by-time offsets and earliest store time of a queue."""

    codes = (
        RequestCode.GET_MAX_OFFSET,
        RequestCode.GET_MIN_OFFSET,
        RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
        RequestCode.GET_EARLIEST_MSG_STORETIME,
    )

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        store = self.ctx.store
        if request.code == RequestCode.GET_MAX_OFFSET:
            max_header = request.decode_header(GetMaxOffsetRequestHeader)
            error = self._check(request, max_header.topic, max_header.queue_id)
            if error is not None:
                return error
            offset = store.get_max_offset_in_queue(max_header.topic, max_header.queue_id)
            return request.response(
                ResponseCode.SUCCESS, None, header=GetMaxOffsetResponseHeader(offset=offset)
            )
        if request.code == RequestCode.GET_MIN_OFFSET:
            min_header = request.decode_header(GetMinOffsetRequestHeader)
            error = self._check(request, min_header.topic, min_header.queue_id)
            if error is not None:
                return error
            offset = store.get_min_offset_in_queue(min_header.topic, min_header.queue_id)
            return request.response(
                ResponseCode.SUCCESS, None, header=GetMinOffsetResponseHeader(offset=offset)
            )
        if request.code == RequestCode.SEARCH_OFFSET_BY_TIMESTAMP:
            return self._search(request)
        time_header = request.decode_header(GetEarliestMsgStoretimeRequestHeader)
        error = self._check(request, time_header.topic, time_header.queue_id)
        if error is not None:
            return error
        timestamp = store.get_earliest_message_time(time_header.topic, time_header.queue_id)
        return request.response(
            ResponseCode.SUCCESS,
            None,
            header=GetEarliestMsgStoretimeResponseHeader(timestamp=timestamp),
        )

    def _search(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(SearchOffsetRequestHeader)
        error = self._check(request, header.topic, header.queue_id)
        if error is not None:
            return error
        boundary = (header.boundary_type or "LOWER").upper()
        if boundary not in BOUNDARIES:
            return self.fail(
                request,
                ResponseCode.INVALID_PARAMETER,
                f"boundaryType[{header.boundary_type}] must be LOWER or UPPER",
            )
        offset = self.ctx.store.get_offset_in_queue_by_time(
            header.topic, header.queue_id, header.timestamp, boundary
        )
        return request.response(
            ResponseCode.SUCCESS, None, header=SearchOffsetResponseHeader(offset=offset)
        )

    def _check(self, request: RemotingCommand, topic: str, queue_id: int) -> RemotingCommand | None:
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
                f"queueId[{queue_id}] is illegal, topic {topic} has "
                f"{topic_config.queue_count} queues",
            )
        return None
