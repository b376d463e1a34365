"""Looking stored messages up: by key, by client message id (UNIQ_KEY), by offset message id.

``MQAdminImpl.queryMessage`` / ``viewMessage`` semantics (reference §2.3, §4.5, §5.4):

- :meth:`MessageQuery.query_message` asks every broker of the topic (QUERY_MESSAGE, through the
  brokers' IndexFiles) for messages whose ``KEYS`` include ``key`` and that were stored between
  ``begin`` and ``end`` (seconds since the epoch); each broker returns at most
  ``min(max_num, 64)``. Index hash collisions are removed client side: a message is kept only
  if one of its keys equals ``key`` exactly. Results are sorted by store time.
- :meth:`MessageQuery.query_message_by_uniq_key` does the same with the client message id
  (``_UNIQUE_KEY_QUERY``), starting one second before the time encoded in the id.
- :meth:`MessageQuery.view_message` decodes an offset message id into the broker address and
  commit-log offset and reads that record (VIEW_MESSAGE_BY_ID).

Nothing found is an empty result (or None), not an error; an unknown topic raises
``TopicNotExistError``; when no broker of the topic answers, the last transport error is
raised. Messages come back decoded with every property (``KEYS``, ``TAGS``, ``UNIQ_KEY``, user
properties) and decompressed bodies. Times given to this API are seconds since the epoch
(``time.time()``); they become milliseconds only on the wire, and the timestamps of the
returned messages are the stored milliseconds.

Use it with any :class:`ClientAPI` (``MessageQuery(producer.instance.api)``,
``MessageQuery(admin.api)``), or standalone: ``async with MessageQuery.connect(namesrv) as q``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from rmq_core.client.api import ClientAPI
from rmq_core.client.config import parse_namesrv_addr
from rmq_core.common.message import MessageExt
from rmq_core.common.message_codec import MessageFormatError, decode_offset_msg_id, decode_records
from rmq_core.errors import ClientError, RemoteProtocolError, RemotingError
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    QueryMessageRequestHeader,
    QueryMessageResponseHeader,
    ViewMessageRequestHeader,
)

__all__ = ["MAX_TIMESTAMP", "MessageQuery", "QueryResult", "uniq_id_timestamp"]

log = logging.getLogger(__name__)

MAX_TIMESTAMP = 2**63 - 1
"""The wire's end timestamp (ms) meaning "no upper bound" (Java ``Long.MAX_VALUE``)."""
UNIQUE_KEY_QUERY = "_UNIQUE_KEY_QUERY"
UNIQ_KEY_QUERY_MAX_NUM = 32
DEFAULT_QUERY_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Messages found and the newest index update time (ms) over the brokers asked."""

    index_last_update_timestamp: int = 0
    messages: list[MessageExt] = field(default_factory=list)


def uniq_id_timestamp(uniq_id: str, now_ms: int | None = None) -> int | None:
    """The approximate creation time (ms) encoded in a 4.x client message id, or None.

    The id holds milliseconds since the start (local time) of the month it was made in; the
    month is taken as the current one, or the previous one when that would lie in the future.
    """
    if len(uniq_id) not in (32, 56):
        return None
    ip_chars = 8 if len(uniq_id) == 32 else 32
    start = ip_chars + 4 + 8
    try:
        elapsed = int(uniq_id[start : start + 8], 16)
    except ValueError:
        return None
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    month_start = _month_start_ms(now_ms)
    moment = month_start + elapsed
    if moment > now_ms:
        moment = _month_start_ms(month_start - 1) + elapsed
    return moment


def _month_start_ms(moment_ms: int) -> int:
    local = time.localtime(moment_ms / 1000)
    return int(time.mktime((local.tm_year, local.tm_mon, 1, 0, 0, 0, 0, 0, -1)) * 1000)


class MessageQuery:
    """Message lookups over a :class:`ClientAPI` (module docstring)."""

    def __init__(self, api: ClientAPI, *, timeout: float = DEFAULT_QUERY_TIMEOUT) -> None:
        self.api = api
        self.timeout = timeout
        self._owned: RemotingClient | None = None

    @classmethod
    def connect(
        cls,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        timeout: float = DEFAULT_QUERY_TIMEOUT,
    ) -> MessageQuery:
        """A query client with its own connections (close it, or use ``async with``)."""
        addrs = parse_namesrv_addr(
            namesrv_addr
            if namesrv_addr is None or isinstance(namesrv_addr, str)
            else tuple(namesrv_addr)
        )
        if not addrs:
            raise ClientError("no NameServer address: pass one or set NAMESRV_ADDR")
        remoting = RemotingClient()
        query = cls(ClientAPI(remoting, addrs, timeout=timeout), timeout=timeout)
        query._owned = remoting
        return query

    async def close(self) -> None:
        """Close the connections this object opened (none when given an API)."""
        if self._owned is not None:
            await self._owned.close()
            self._owned = None

    async def __aenter__(self) -> MessageQuery:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- by key ----------------------------------------------------------------------------

    async def query_message(
        self,
        topic: str,
        key: str,
        max_num: int = 32,
        begin: float = 0.0,
        end: float | None = None,
    ) -> QueryResult:
        """Messages of ``topic`` with business key ``key`` stored in ``[begin, end]``.

        ``begin`` and ``end`` are seconds since the epoch (floats, like ``time.time()``);
        ``end=None`` means no upper bound. Raises ClientError for an empty key, a
        non-positive ``max_num`` or a range that is negative, not finite or reversed.
        """
        if not key:
            raise ClientError("query_message needs a non-empty key")
        if max_num <= 0:
            raise ClientError("max_num must be positive")
        begin_ms, end_ms = _wire_range(begin, end)
        return await self._query(topic, key, max_num, begin_ms, end_ms, unique=False)

    async def query_message_by_uniq_key(self, topic: str, uniq_key: str) -> MessageExt | None:
        """The message of ``topic`` whose client message id is ``uniq_key``, or None."""
        if not uniq_key:
            raise ClientError("query_message_by_uniq_key needs a message id")
        created = uniq_id_timestamp(uniq_key)
        begin = max(created - 1000, 0) if created is not None else 0
        result = await self._query(
            topic, uniq_key, UNIQ_KEY_QUERY_MAX_NUM, begin, MAX_TIMESTAMP, unique=True
        )
        return result.messages[0] if result.messages else None

    async def _query(
        self, topic: str, key: str, max_num: int, begin_ms: int, end_ms: int, *, unique: bool
    ) -> QueryResult:
        route = await self.api.get_topic_route(topic)
        found: list[MessageExt] = []
        newest = 0
        answered = False
        last_error: RemotingError | None = None
        for broker in sorted(route.broker_datas, key=lambda b: b.broker_name):
            addr = broker.select_addr()
            if addr is None:
                continue
            try:
                timestamp, messages = await self._query_broker(
                    addr, topic, key, max_num, begin_ms, end_ms, unique
                )
            except RemotingError as exc:
                log.info("query of %s on %s failed: %s", topic, addr, exc)
                last_error = exc
                continue
            answered = True
            newest = max(newest, timestamp)
            found.extend(m for m in messages if _matches(m, key, unique))
        if not answered and last_error is not None:
            raise last_error
        found.sort(key=lambda m: (m.store_timestamp, m.commitlog_offset))
        return QueryResult(newest, found)

    async def _query_broker(
        self,
        addr: str,
        topic: str,
        key: str,
        max_num: int,
        begin_ms: int,
        end_ms: int,
        unique: bool,
    ) -> tuple[int, list[MessageExt]]:
        header = QueryMessageRequestHeader(
            topic=topic, key=key, max_num=max_num, begin_timestamp=begin_ms, end_timestamp=end_ms
        )
        request = RemotingCommand.request(
            RequestCode.QUERY_MESSAGE,
            header,
            ext_fields={UNIQUE_KEY_QUERY: "true" if unique else "false"},
        )
        context = f"query {topic} by key {key!r}"
        response = await self.api.invoke(addr, request, self.timeout, context)
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return 0, []
        ClientAPI.check(response, f"{context} on broker {addr}")
        try:
            stamp = response.decode_header(QueryMessageResponseHeader)
            return stamp.index_last_update_timestamp, decode_records(response.body)
        except MessageFormatError as exc:
            raise RemoteProtocolError(f"malformed query answer from {addr}: {exc}") from exc

    # --- by offset id ----------------------------------------------------------------------

    async def view_message(self, offset_msg_id: str) -> MessageExt:
        """The message with offset message id ``offset_msg_id`` (from a SendResult).

        Raises ClientError for an id that is not an offset message id, and the broker's
        error (SYSTEM_ERROR) when nothing is stored at that offset.
        """
        try:
            addr, offset = decode_offset_msg_id(offset_msg_id)
        except MessageFormatError as exc:
            raise ClientError(str(exc)) from exc
        request = RemotingCommand.request(
            RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader(offset=offset)
        )
        context = f"view message {offset_msg_id}"
        response = await self.api.invoke(addr, request, self.timeout, context)
        ClientAPI.check(response, f"{context} on broker {addr}")
        try:
            messages = decode_records(response.body)
        except MessageFormatError as exc:
            raise RemoteProtocolError(f"malformed message from {addr}: {exc}") from exc
        if len(messages) != 1:
            raise RemoteProtocolError(f"{context}: broker {addr} sent {len(messages)} records")
        return messages[0]


def _wire_range(begin: float, end: float | None) -> tuple[int, int]:
    """``[begin, end]`` seconds as the wire's inclusive milliseconds (rounded outwards)."""
    if not math.isfinite(begin) or begin < 0:
        raise ClientError(f"begin must be a non-negative number of seconds, got {begin!r}")
    if end is None:
        return math.floor(begin * 1000), MAX_TIMESTAMP
    if not math.isfinite(end) or end < begin:
        raise ClientError(f"end must be a number of seconds >= begin ({begin}), got {end!r}")
    return math.floor(begin * 1000), math.ceil(end * 1000)


def _matches(msg: MessageExt, key: str, unique: bool) -> bool:
    if unique:
        return msg.unique_key == key
    return key in msg.keys
