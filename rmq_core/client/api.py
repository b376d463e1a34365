"""``ClientAPI``: typed RocketMQ calls over a :class:`RemotingClient` (``MQClientAPIImpl``).

Every method builds one request, sends it to the NameServer(s) or to one broker address, and
turns the response into Python values or a specific error:
- a non-success response becomes ``BrokerError.for_code(code, remark)`` with the topic/group
  and broker address in the message (``TopicNotExistError`` for 17, and so on);
- transport failures keep their ``RemotingError`` class (retriable) and gain the address.

NameServer calls go to one NameServer at a time and fail over to the next on a transport
error; the last one that answered is tried first next time. Timeouts are seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.results import PullResult, PullStatus, SendStatus
from rmq_core.client.route import TopicRouteData
from rmq_core.common.message import MessageExt, MessageSysFlag
from rmq_core.common.message_codec import decode_records, decompress_body
from rmq_core.errors import BrokerError, RemoteProtocolError, RemotingError, RocketMQError
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.cluster import ClusterInfo, decode_cluster_info
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    CommandHeader,
    ConsumerSendMsgBackRequestHeader,
    CreateTopicRequestHeader,
    DeleteKVConfigRequestHeader,
    DeleteSubscriptionGroupRequestHeader,
    DeleteTopicFromNamesrvRequestHeader,
    DeleteTopicRequestHeader,
    EndTransactionRequestHeader,
    GetConsumerListByGroupRequestHeader,
    GetConsumeStatsRequestHeader,
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetKVConfigRequestHeader,
    GetKVConfigResponseHeader,
    GetKVListByNamespaceRequestHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    GetRouteInfoRequestHeader,
    GetTopicStatsInfoRequestHeader,
    PullMessageRequestHeader,
    PullMessageResponseHeader,
    PutKVConfigRequestHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
    SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
    UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)

__all__ = ["ClientAPI", "RawSendResponse"]

log = logging.getLogger(__name__)

H = TypeVar("H", bound=CommandHeader)

_SEND_OK_CODES: dict[int, SendStatus] = {
    ResponseCode.SUCCESS: SendStatus.SEND_OK,
    ResponseCode.FLUSH_DISK_TIMEOUT: SendStatus.FLUSH_DISK_TIMEOUT,
    ResponseCode.FLUSH_SLAVE_TIMEOUT: SendStatus.FLUSH_SLAVE_TIMEOUT,
    ResponseCode.SLAVE_NOT_AVAILABLE: SendStatus.SLAVE_NOT_AVAILABLE,
}
_PULL_CODES: dict[int, PullStatus] = {
    ResponseCode.SUCCESS: PullStatus.FOUND,
    ResponseCode.PULL_NOT_FOUND: PullStatus.NO_NEW_MSG,
    ResponseCode.PULL_RETRY_IMMEDIATELY: PullStatus.NO_MATCHED_MSG,
    ResponseCode.PULL_OFFSET_MOVED: PullStatus.OFFSET_ILLEGAL,
}


class RawSendResponse:
    """Send response fields before the producer turns them into a :class:`SendResult`."""

    __slots__ = ("header", "region_id", "status", "trace_on")

    def __init__(
        self, status: SendStatus, header: SendMessageResponseHeader, region_id: str, trace_on: bool
    ) -> None:
        self.status = status
        self.header = header
        self.region_id = region_id
        self.trace_on = trace_on


INFLATE_IN_THREAD_OVER = 256 * 1024
"""Pull bodies holding this many compressed bytes or more are inflated in a worker thread."""


async def decode_pulled(body: bytes) -> list[MessageExt]:
    """The records of a pull response body, compressed bodies inflated.

    Records are parsed on the loop; when the compressed bodies among them add up to
    :data:`INFLATE_IN_THREAD_OVER` bytes or more, zlib runs in a worker thread (it releases
    the GIL) so a pull of big messages does not stall the loop. Raises ``MessageFormatError``
    on a malformed record or a body that does not inflate.
    """
    messages = decode_records(body, decompress=False, lazy_properties=False)
    compressed = [m for m in messages if m.sys_flag & MessageSysFlag.COMPRESSED_FLAG]
    if not compressed:
        return messages
    if sum(len(m.body) for m in compressed) >= INFLATE_IN_THREAD_OVER:
        await asyncio.to_thread(_inflate, compressed)
    else:
        _inflate(compressed)
    return messages


def _inflate(messages: list[MessageExt]) -> None:
    for msg in messages:
        msg.body = decompress_body(msg.body, msg.sys_flag)


def _with_context(exc: RemotingError, context: str) -> RemotingError:
    """A copy of a transport error whose message also names ``context``."""
    clone = type(exc)(f"{exc} ({context})")
    clone.retriable = exc.retriable
    return clone


def _decode(response: RemotingCommand, header_class: type[H], context: str) -> H:
    try:
        return response.decode_header(header_class)
    except RocketMQError as exc:
        raise RemoteProtocolError(f"bad response header ({context}): {exc}") from exc


def _json_body(response: RemotingCommand, context: str) -> Any:
    try:
        return fastjson.loads(response.body)
    except (ValueError, RocketMQError) as exc:
        raise RemoteProtocolError(f"malformed response body ({context}): {exc}") from exc


class ClientAPI:
    """RocketMQ client calls. ``namesrv_addrs`` are tried in turn for NameServer requests."""

    def __init__(
        self,
        remoting: RemotingClient,
        namesrv_addrs: Sequence[str],
        *,
        timeout: float = 3.0,
    ) -> None:
        self.remoting = remoting
        self.namesrv_addrs = list(namesrv_addrs)
        self.timeout = timeout
        self._namesrv_index = 0

    # --- plumbing --------------------------------------------------------------------------

    async def invoke(
        self, addr: str, request: RemotingCommand, timeout: float, context: str
    ) -> RemotingCommand:
        """Send ``request`` to ``addr``; transport errors name ``context`` and the address."""
        try:
            return await self.remoting.invoke(addr, request, timeout)
        except RemotingError as exc:
            raise _with_context(exc, f"{context}, address {addr}") from exc

    async def invoke_oneway(self, addr: str, request: RemotingCommand, context: str) -> None:
        try:
            await self.remoting.invoke_oneway(addr, request)
        except RemotingError as exc:
            raise _with_context(exc, f"{context}, address {addr}") from exc

    async def invoke_namesrv(
        self, request_factory: Any, context: str, timeout: float | None = None
    ) -> RemotingCommand:
        """Call the NameServers in turn, starting with the last one that answered.

        ``request_factory()`` builds a fresh request per attempt (each needs its own opaque).
        Raises the last transport error, naming every address tried, when none answers.
        """
        if not self.namesrv_addrs:
            raise RemotingError(f"no NameServer address configured ({context})")
        errors: list[str] = []
        last: RemotingError | None = None
        count = len(self.namesrv_addrs)
        for step in range(count):
            index = (self._namesrv_index + step) % count
            addr = self.namesrv_addrs[index]
            try:
                response = await self.remoting.invoke(
                    addr, request_factory(), timeout or self.timeout
                )
            except RemotingError as exc:
                errors.append(f"{addr}: {exc}")
                last = exc
                log.info("NameServer %s failed (%s), trying the next one", addr, exc)
                continue
            self._namesrv_index = index
            return response
        assert last is not None
        message = f"no NameServer answered ({context}): " + "; ".join(errors)
        clone = type(last)(message)
        clone.retriable = True
        raise clone from last

    @staticmethod
    def check(response: RemotingCommand, context: str, *ok: int) -> None:
        """Raise the error of a response whose code is not ``SUCCESS`` (or one of ``ok``)."""
        if response.code == ResponseCode.SUCCESS or response.code in ok:
            return
        raise BrokerError.for_code(response.code, response.remark or "", context=context)

    # --- NameServer ------------------------------------------------------------------------

    async def get_topic_route(self, topic: str, timeout: float | None = None) -> TopicRouteData:
        """The route of ``topic``; ``TopicNotExistError`` when the NameServer knows none."""
        header = GetRouteInfoRequestHeader(topic=topic)
        response = await self.invoke_namesrv(
            lambda: RemotingCommand.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, header),
            f"route of topic {topic}",
            timeout,
        )
        self.check(response, f"topic {topic}")
        if not response.body:
            raise BrokerError.for_code(
                ResponseCode.TOPIC_NOT_EXIST, "empty route", context=f"topic {topic}"
            )
        return TopicRouteData.decode(response.body)

    async def get_broker_cluster_info(self) -> Any:
        """The ClusterInfo body (``brokerAddrTable``, ``clusterAddrTable``) as parsed JSON."""
        response = await self._cluster_info_response()
        return _json_body(response, "cluster info")

    async def get_cluster_info(self) -> ClusterInfo:
        """The NameServer's ClusterInfo, decoded; RemoteProtocolError when malformed."""
        response = await self._cluster_info_response()
        return decode_cluster_info(response.body)

    async def _cluster_info_response(self) -> RemotingCommand:
        response = await self.invoke_namesrv(
            lambda: RemotingCommand.request(RequestCode.GET_BROKER_CLUSTER_INFO), "cluster info"
        )
        self.check(response, "cluster info")
        return response

    async def get_all_topic_list(self) -> list[str]:
        """Every topic the NameServer knows."""
        response = await self.invoke_namesrv(
            lambda: RemotingCommand.request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
            "topic list",
        )
        self.check(response, "topic list")
        return [str(t) for t in _json_body(response, "topic list").get("topicList", [])]

    async def delete_topic_in_namesrv(self, addr: str, topic: str, cluster: str | None) -> None:
        header = DeleteTopicFromNamesrvRequestHeader(topic=topic, cluster_name=cluster)
        request = RemotingCommand.request(RequestCode.DELETE_TOPIC_IN_NAMESRV, header)
        response = await self.invoke(addr, request, self.timeout, f"delete topic {topic}")
        self.check(response, f"delete topic {topic} on NameServer {addr}")

    async def put_kv_config(self, addr: str, namespace: str, key: str, value: str) -> None:
        """PUT_KV_CONFIG on the NameServer at ``addr``."""
        header = PutKVConfigRequestHeader(namespace=namespace, key=key, value=value)
        context = f"put KV config {namespace}/{key}"
        request = RemotingCommand.request(RequestCode.PUT_KV_CONFIG, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on NameServer {addr}")

    async def delete_kv_config(self, addr: str, namespace: str, key: str) -> None:
        """DELETE_KV_CONFIG on the NameServer at ``addr`` (a missing key is no error)."""
        header = DeleteKVConfigRequestHeader(namespace=namespace, key=key)
        context = f"delete KV config {namespace}/{key}"
        request = RemotingCommand.request(RequestCode.DELETE_KV_CONFIG, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on NameServer {addr}")

    async def get_kv_config(self, namespace: str, key: str) -> str | None:
        """GET_KV_CONFIG from the NameServers (fail-over); None when the key is unknown."""
        header = GetKVConfigRequestHeader(namespace=namespace, key=key)
        context = f"KV config {namespace}/{key}"
        response = await self.invoke_namesrv(
            lambda: RemotingCommand.request(RequestCode.GET_KV_CONFIG, header), context
        )
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return None
        self.check(response, context)
        return _decode(response, GetKVConfigResponseHeader, context).value

    async def get_kv_list(self, namespace: str) -> dict[str, str]:
        """GET_KVLIST_BY_NAMESPACE from the NameServers (fail-over); empty when none."""
        header = GetKVListByNamespaceRequestHeader(namespace=namespace)
        context = f"KV list of {namespace}"
        response = await self.invoke_namesrv(
            lambda: RemotingCommand.request(RequestCode.GET_KVLIST_BY_NAMESPACE, header), context
        )
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return {}
        self.check(response, context)
        body = _json_body(response, context) if response.body else {}
        table = body.get("table") if isinstance(body, dict) else None
        if not isinstance(table, dict):
            raise RemoteProtocolError(f"malformed response body ({context}): no table")
        return {str(k): str(v) for k, v in table.items()}

    # --- producer --------------------------------------------------------------------------

    async def send_message(
        self,
        addr: str,
        broker_name: str,
        header: SendMessageRequestHeaderV2,
        body: bytes,
        timeout: float,
        *,
        batch: bool = False,
        oneway: bool = False,
    ) -> RawSendResponse | None:
        """SEND_MESSAGE_V2 (or SEND_BATCH_MESSAGE); None for a oneway send."""
        code = RequestCode.SEND_BATCH_MESSAGE if batch else RequestCode.SEND_MESSAGE_V2
        request = RemotingCommand.request(code, header, body, oneway=oneway)
        context = f"send to topic {header.topic}, broker {broker_name}"
        if oneway:
            await self.invoke_oneway(addr, request, context)
            return None
        response = await self.invoke(addr, request, timeout, context)
        status = _SEND_OK_CODES.get(response.code)
        if status is None:
            raise BrokerError.for_code(
                response.code, response.remark or "", context=f"{context} ({addr})"
            )
        resp_header = _decode(response, SendMessageResponseHeader, context)
        region = response.ext_fields.get("MSG_REGION", "DefaultRegion")
        trace_on = response.ext_fields.get("TRACE_ON", "true") != "false"
        return RawSendResponse(status, resp_header, region, trace_on)

    async def end_transaction(
        self, addr: str, header: EndTransactionRequestHeader, timeout: float, remark: str | None
    ) -> None:
        """END_TRANSACTION, waiting for the broker's answer (raises its error)."""
        request = RemotingCommand.request(RequestCode.END_TRANSACTION, header)
        request.remark = remark
        context = f"end transaction {header.msg_id} of group {header.producer_group}"
        response = await self.invoke(addr, request, timeout, context)
        self.check(response, f"{context} on broker {addr}")

    # --- consumer --------------------------------------------------------------------------

    async def pull_message(
        self, addr: str, header: PullMessageRequestHeader, timeout: float, *, lite: bool = False
    ) -> PullResult:
        """One pull; messages are decoded but not yet tag-filtered."""
        code = RequestCode.LITE_PULL_MESSAGE if lite else RequestCode.PULL_MESSAGE
        request = RemotingCommand.request(code, header)
        context = f"pull {header.topic}:{header.queue_id} for group {header.consumer_group}"
        response = await self.invoke(addr, request, timeout, context)
        pull_status = _PULL_CODES.get(response.code)
        if pull_status is None:
            raise BrokerError.for_code(
                response.code, response.remark or "", context=f"{context} ({addr})"
            )
        resp = _decode(response, PullMessageResponseHeader, context)
        messages = await decode_pulled(response.body) if pull_status is PullStatus.FOUND else []
        return PullResult(
            pull_status,
            resp.next_begin_offset,
            resp.min_offset,
            resp.max_offset,
            messages,
            resp.suggest_which_broker_id,
        )

    async def query_consumer_offset(
        self, addr: str, group: str, mq: MessageQueue, *, set_zero_if_not_found: bool = True
    ) -> int | None:
        """The group's committed offset on ``mq``; None when the broker has none.

        With ``set_zero_if_not_found`` the broker answers 0 for a queue that still holds its
        first message (RocketMQ's rule for new groups, reference §6.6).
        """
        header = QueryConsumerOffsetRequestHeader(
            consumer_group=group,
            topic=mq.topic,
            queue_id=mq.queue_id,
            set_zero_if_not_found=set_zero_if_not_found,
        )
        request = RemotingCommand.request(RequestCode.QUERY_CONSUMER_OFFSET, header)
        context = f"query offset of {mq} for group {group}"
        response = await self.invoke(addr, request, self.timeout, context)
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return None
        self.check(response, context)
        return _decode(response, QueryConsumerOffsetResponseHeader, context).offset

    async def update_consumer_offset(
        self, addr: str, group: str, mq: MessageQueue, offset: int, *, oneway: bool
    ) -> None:
        header = UpdateConsumerOffsetRequestHeader(
            consumer_group=group, topic=mq.topic, queue_id=mq.queue_id, commit_offset=offset
        )
        request = RemotingCommand.request(RequestCode.UPDATE_CONSUMER_OFFSET, header, oneway=oneway)
        context = f"update offset of {mq} for group {group}"
        if oneway:
            await self.invoke_oneway(addr, request, context)
            return
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, context)

    async def get_max_offset(self, addr: str, mq: MessageQueue) -> int:
        header = GetMaxOffsetRequestHeader(topic=mq.topic, queue_id=mq.queue_id)
        context = f"max offset of {mq}"
        response = await self.invoke(
            addr, RemotingCommand.request(RequestCode.GET_MAX_OFFSET, header), self.timeout, context
        )
        self.check(response, context)
        return _decode(response, GetMaxOffsetResponseHeader, context).offset

    async def get_min_offset(self, addr: str, mq: MessageQueue) -> int:
        header = GetMinOffsetRequestHeader(topic=mq.topic, queue_id=mq.queue_id)
        context = f"min offset of {mq}"
        response = await self.invoke(
            addr, RemotingCommand.request(RequestCode.GET_MIN_OFFSET, header), self.timeout, context
        )
        self.check(response, context)
        return _decode(response, GetMinOffsetResponseHeader, context).offset

    async def search_offset(self, addr: str, mq: MessageQueue, timestamp_ms: int) -> int:
        header = SearchOffsetRequestHeader(
            topic=mq.topic, queue_id=mq.queue_id, timestamp=timestamp_ms
        )
        context = f"search offset of {mq} at {timestamp_ms} ms"
        request = RemotingCommand.request(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, context)
        return _decode(response, SearchOffsetResponseHeader, context).offset

    async def get_earliest_msg_store_time(self, addr: str, mq: MessageQueue) -> int:
        header = GetEarliestMsgStoretimeRequestHeader(topic=mq.topic, queue_id=mq.queue_id)
        context = f"earliest store time of {mq}"
        request = RemotingCommand.request(RequestCode.GET_EARLIEST_MSG_STORETIME, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, context)
        return _decode(response, GetEarliestMsgStoretimeResponseHeader, context).timestamp

    async def get_consumer_id_list(self, addr: str, group: str) -> list[str]:
        """Client ids of the group's consumers known to the broker at ``addr``."""
        header = GetConsumerListByGroupRequestHeader(consumer_group=group)
        context = f"consumer list of group {group}"
        request = RemotingCommand.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, context)
        return [str(c) for c in _json_body(response, context).get("consumerIdList", [])]

    async def consumer_send_msg_back(
        self, addr: str, header: ConsumerSendMsgBackRequestHeader, timeout: float
    ) -> None:
        context = f"send back message at {header.offset} for group {header.group}"
        request = RemotingCommand.request(RequestCode.CONSUMER_SEND_MSG_BACK, header)
        response = await self.invoke(addr, request, timeout, context)
        self.check(response, context)

    async def lock_batch_mq(
        self, addr: str, group: str, client_id: str, mqs: Sequence[MessageQueue]
    ) -> set[MessageQueue]:
        """LOCK_BATCH_MQ; returns the queues this client holds after the call."""
        body = json.dumps(
            {
                "clientId": client_id,
                "consumerGroup": group,
                "mqSet": [mq.to_json() for mq in mqs],
                "onlyThisBroker": False,
            },
            separators=(",", ":"),
        ).encode()
        context = f"lock queues for group {group}"
        request = RemotingCommand.request(RequestCode.LOCK_BATCH_MQ, body=body)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, context)
        data = _json_body(response, context)
        return {MessageQueue.from_json(m) for m in data.get("lockOKMQSet", [])}

    async def unlock_batch_mq(
        self, addr: str, group: str, client_id: str, mqs: Sequence[MessageQueue]
    ) -> None:
        body = json.dumps(
            {
                "clientId": client_id,
                "consumerGroup": group,
                "mqSet": [mq.to_json() for mq in mqs],
                "onlyThisBroker": False,
            },
            separators=(",", ":"),
        ).encode()
        request = RemotingCommand.request(RequestCode.UNLOCK_BATCH_MQ, body=body)
        context = f"unlock queues for group {group}"
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, context)

    # --- client management -----------------------------------------------------------------

    async def send_heartbeat(self, addr: str, body: bytes) -> int:
        """HEART_BEAT; returns the broker's version ordinal."""
        request = RemotingCommand.request(RequestCode.HEART_BEAT, body=body)
        response = await self.invoke(addr, request, self.timeout, "heartbeat")
        self.check(response, f"heartbeat to {addr}")
        return response.version

    async def unregister_client(
        self,
        addr: str,
        client_id: str,
        producer_group: str | None = None,
        consumer_group: str | None = None,
    ) -> None:
        header = UnregisterClientRequestHeader(
            client_id=client_id, producer_group=producer_group, consumer_group=consumer_group
        )
        request = RemotingCommand.request(RequestCode.UNREGISTER_CLIENT, header)
        response = await self.invoke(addr, request, self.timeout, "unregister client")
        self.check(response, f"unregister {client_id} from {addr}")

    # --- admin -----------------------------------------------------------------------------

    async def create_topic(self, addr: str, header: CreateTopicRequestHeader) -> None:
        request = RemotingCommand.request(RequestCode.UPDATE_AND_CREATE_TOPIC, header)
        context = f"create topic {header.topic}"
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on broker {addr}")

    async def delete_topic_in_broker(self, addr: str, topic: str) -> None:
        header = DeleteTopicRequestHeader(topic=topic)
        request = RemotingCommand.request(RequestCode.DELETE_TOPIC_IN_BROKER, header)
        context = f"delete topic {topic}"
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on broker {addr}")

    async def get_consume_stats(self, addr: str, group: str, topic: str | None) -> Any:
        """The ConsumeStats body (parsed; ``offsetTable`` keys are ``FrozenKey`` objects)."""
        header = GetConsumeStatsRequestHeader(consumer_group=group, topic=topic)
        context = f"consume stats of group {group}"
        request = RemotingCommand.request(RequestCode.GET_CONSUME_STATS, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on broker {addr}")
        return _json_body(response, context)

    async def get_topic_stats_info(self, addr: str, topic: str) -> Any:
        header = GetTopicStatsInfoRequestHeader(topic=topic)
        context = f"topic stats of {topic}"
        request = RemotingCommand.request(RequestCode.GET_TOPIC_STATS_INFO, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on broker {addr}")
        return _json_body(response, context)

    async def get_all_subscription_group_config(self, addr: str) -> dict[str, Any]:
        """GET_ALL_SUBSCRIPTIONGROUP_CONFIG: the broker's ``subscriptionGroupTable``
        (group name -> its config object as parsed JSON)."""
        context = "subscription groups"
        request = RemotingCommand.request(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on broker {addr}")
        body = _json_body(response, context) if response.body else {}
        table = body.get("subscriptionGroupTable") if isinstance(body, dict) else None
        if not isinstance(table, dict):
            return {}
        return {str(name): config for name, config in table.items()}

    async def get_all_consumer_offset(self, addr: str) -> dict[tuple[str, str], dict[int, int]]:
        """GET_ALL_CONSUMER_OFFSET: ``{(topic, group): {queue id: offset}}`` of the broker."""
        context = "consumer offsets"
        request = RemotingCommand.request(RequestCode.GET_ALL_CONSUMER_OFFSET)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on broker {addr}")
        body = _json_body(response, context) if response.body else {}
        table = body.get("offsetTable") if isinstance(body, dict) else None
        out: dict[tuple[str, str], dict[int, int]] = {}
        for key, queues in (table or {}).items():
            topic, sep, group = str(key).partition("@")
            if not sep or not isinstance(queues, dict):
                raise RemoteProtocolError(f"malformed response body ({context}): entry {key!r}")
            try:
                out[(topic, group)] = {int(str(q)): int(o) for q, o in queues.items()}
            except (TypeError, ValueError) as exc:
                raise RemoteProtocolError(f"malformed response body ({context}): {exc}") from exc
        return out

    async def delete_subscription_group(self, addr: str, group: str, clean_offset: bool) -> None:
        """DELETE_SUBSCRIPTIONGROUP (and the group's offsets with ``clean_offset``)."""
        header = DeleteSubscriptionGroupRequestHeader(group_name=group, clean_offset=clean_offset)
        context = f"delete subscription group {group}"
        request = RemotingCommand.request(RequestCode.DELETE_SUBSCRIPTIONGROUP, header)
        response = await self.invoke(addr, request, self.timeout, context)
        self.check(response, f"{context} on broker {addr}")
