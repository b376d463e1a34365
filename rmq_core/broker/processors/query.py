"""QUERY_MESSAGE (12, by key through the index) and VIEW_MESSAGE_BY_ID (33, by commit-log
offset). Bodies are stored records concatenated exactly as in the commit log.

A key query with extField ``_UNIQUE_KEY_QUERY=true`` looks up a UNIQ_KEY and returns at most
:data:`DEFAULT_QUERY_MAX_NUM` records; other queries at most ``min(maxNum, 64)``. Nothing found
-> QUERY_NOT_FOUND; an offset holding no record -> SYSTEM_ERROR (RocketMQ's answers).
"""

from __future__ import annotations

from rmq_core.broker.processors.common import BrokerProcessor, drain_records
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    QueryMessageRequestHeader,
    QueryMessageResponseHeader,
    ViewMessageRequestHeader,
)
from rmq_core.remoting.transport import Connection

__all__ = ["DEFAULT_QUERY_MAX_NUM", "MAX_MSGS_NUM_BATCH", "QueryMessageProcessor"]

UNIQUE_MSG_QUERY_FLAG = "_UNIQUE_KEY_QUERY"
DEFAULT_QUERY_MAX_NUM = 32
MAX_MSGS_NUM_BATCH = 64


class QueryMessageProcessor(BrokerProcessor):
    """Message lookups by key and by offset id."""

    codes = (RequestCode.QUERY_MESSAGE, RequestCode.VIEW_MESSAGE_BY_ID)

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        if request.code == RequestCode.QUERY_MESSAGE:
            return self._query(request)
        return self._view(request)

    def _query(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(QueryMessageRequestHeader)
        if request.ext_fields.get(UNIQUE_MSG_QUERY_FLAG) == "true":
            max_num = DEFAULT_QUERY_MAX_NUM
        else:
            max_num = max(1, min(header.max_num, MAX_MSGS_NUM_BATCH))
        result = self.ctx.store.query_message(
            header.topic, header.key, max_num, header.begin_timestamp, header.end_timestamp
        )
        response_header = QueryMessageResponseHeader(
            index_last_update_timestamp=result.index_last_update_timestamp,
            index_last_update_phyoffset=result.index_last_update_phyoffset,
        )
        body = drain_records(result.messages)
        if not body:
            return request.response(
                ResponseCode.QUERY_NOT_FOUND,
                "can not find message, maybe time range not correct",
                header=response_header,
            )
        return request.response(ResponseCode.SUCCESS, None, header=response_header, body=body)

    def _view(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(ViewMessageRequestHeader)
        record = (
            self.ctx.store.select_one_message_by_offset(header.offset)
            if header.offset >= 0
            else None
        )
        if record is None:
            return self.fail(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"can not find message by the offset, {header.offset}",
            )
        return self.ok(request, bytes(record))
