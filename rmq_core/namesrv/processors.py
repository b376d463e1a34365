"""Request processors of the NameServer: one coroutine per request code (reference §2.2, §2.3).

Each processor decodes its typed header and body, acts on the :class:`NamesrvContext` (route
tables, KV table, config) and builds the response the Java NameServer would send
(``DefaultRequestProcessor`` / ``ClientRequestProcessor``). A request with a missing or
malformed header field or an undecodable body is answered SYSTEM_ERROR with a remark naming
the problem (Java answers the same code for a ``RemotingCommandException``); the server keeps
serving.

Codes served: PUT/GET/DELETE_KV_CONFIG (100-102), REGISTER_BROKER (103), UNREGISTER_BROKER
(104), GET_ROUTEINFO_BY_TOPIC (105), GET_BROKER_CLUSTER_INFO (106), WIPE/ADD_WRITE_PERM
(205/327), GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206), DELETE/REGISTER_TOPIC_IN_NAMESRV
(216/217), GET_KVLIST_BY_NAMESPACE (219), GET_TOPICS_BY_CLUSTER (224),
GET_SYSTEM_TOPIC_LIST_FROM_NS (304), QUERY_DATA_VERSION (322), GET_BROKER_MEMBER_GROUP (901),
BROKER_HEARTBEAT (904).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rmq_core.common.crc import crc32
from rmq_core.errors import RemoteProtocolError
from rmq_core.namesrv import bodies
from rmq_core.namesrv.config import NamesrvConfig
from rmq_core.namesrv.headers import (
    BrokerHeartbeatRequestHeader,
    GetBrokerMemberGroupRequestHeader,
)
from rmq_core.namesrv.kv_config import NAMESPACE_ORDER_TOPIC_CONFIG, KVConfigTable
from rmq_core.namesrv.route_info import BrokerRegistration, RouteInfoManager
from rmq_core.remoting import fastjson
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    AddWritePermOfBrokerRequestHeader,
    AddWritePermOfBrokerResponseHeader,
    DeleteKVConfigRequestHeader,
    DeleteTopicFromNamesrvRequestHeader,
    GetKVConfigRequestHeader,
    GetKVConfigResponseHeader,
    GetKVListByNamespaceRequestHeader,
    GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader,
    PutKVConfigRequestHeader,
    QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader,
    RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader,
    RegisterTopicRequestHeader,
    UnRegisterBrokerRequestHeader,
    WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
)
from rmq_core.remoting.server import Processor
from rmq_core.remoting.transport import Connection

__all__ = [
    "ZONE_NAME_FIELD",
    "NamesrvContext",
    "NamesrvProcessors",
]

logger = logging.getLogger(__name__)

ZONE_NAME_FIELD = "__ZONE_NAME"
"""extField in which 5.x brokers announce their zone (``MixAll.ZONE_NAME``)."""

_Handler = Callable[[RemotingCommand, Connection], Awaitable[RemotingCommand]]


@dataclass(slots=True)
class NamesrvContext:
    """What the processors may touch. ``persist_kv`` saves the KV table (may raise OSError)."""

    config: NamesrvConfig
    routes: RouteInfoManager
    kv: KVConfigTable
    persist_kv: Callable[[], Awaitable[None]]


def _crc32(data: bytes) -> int:
    """RocketMQ's ``UtilAll.crc32``: CRC-32 with the sign bit cleared."""
    return crc32(data) & 0x7FFFFFFF


class NamesrvProcessors:
    """The NameServer's processor table over one :class:`NamesrvContext`."""

    def __init__(self, ctx: NamesrvContext) -> None:
        self._ctx = ctx

    def table(self) -> dict[int, Processor]:
        """Request code -> processor, every one guarded against bad input."""
        handlers: dict[int, _Handler] = {
            RequestCode.PUT_KV_CONFIG: self.put_kv_config,
            RequestCode.GET_KV_CONFIG: self.get_kv_config,
            RequestCode.DELETE_KV_CONFIG: self.delete_kv_config,
            RequestCode.REGISTER_BROKER: self.register_broker,
            RequestCode.UNREGISTER_BROKER: self.unregister_broker,
            RequestCode.GET_ROUTEINFO_BY_TOPIC: self.get_route_info,
            RequestCode.GET_BROKER_CLUSTER_INFO: self.get_broker_cluster_info,
            RequestCode.WIPE_WRITE_PERM_OF_BROKER: self.wipe_write_perm,
            RequestCode.ADD_WRITE_PERM_OF_BROKER: self.add_write_perm,
            RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER: self.get_all_topic_list,
            RequestCode.DELETE_TOPIC_IN_NAMESRV: self.delete_topic,
            RequestCode.REGISTER_TOPIC_IN_NAMESRV: self.register_topic,
            RequestCode.GET_KVLIST_BY_NAMESPACE: self.get_kv_list_by_namespace,
            RequestCode.GET_TOPICS_BY_CLUSTER: self.get_topics_by_cluster,
            RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS: self.get_system_topic_list,
            RequestCode.QUERY_DATA_VERSION: self.query_data_version,
            RequestCode.GET_BROKER_MEMBER_GROUP: self.get_broker_member_group,
            RequestCode.BROKER_HEARTBEAT: self.broker_heartbeat,
        }
        return {int(code): self._guarded(code, handler) for code, handler in handlers.items()}

    @staticmethod
    def _guarded(code: int, handler: _Handler) -> Processor:
        name = RequestCode(code).name if code in RequestCode._value2member_map_ else str(code)

        async def run(request: RemotingCommand, conn: Connection) -> RemotingCommand | None:
            try:
                return await handler(request, conn)
            except RemoteProtocolError as exc:
                logger.warning("%s from %s rejected: %s", name, conn.remote_address, exc)
                return request.response(ResponseCode.SYSTEM_ERROR, remark=f"{name}: {exc}")

        return run

    # ------------------------------------------------------------------ brokers

    async def register_broker(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """REGISTER_BROKER: record the broker and its topics; tell a slave its master."""
        header = request.decode_header(RegisterBrokerRequestHeader)
        if header.body_crc32 != 0 and _crc32(request.body) != header.body_crc32:
            logger.warning("REGISTER_BROKER from %s: body CRC mismatch", conn.remote_address)
            return request.response(ResponseCode.SYSTEM_ERROR, remark="crc32 not match")
        body = None
        if request.body:
            body = bodies.decode_register_broker_body(
                request.body, compressed=header.compressed, version=request.version
            )
        timeout = header.heartbeat_timeout_millis
        result = self._ctx.routes.register_broker(
            BrokerRegistration(
                cluster_name=header.cluster_name,
                broker_addr=header.broker_addr,
                broker_name=header.broker_name,
                broker_id=header.broker_id,
                ha_server_addr=header.ha_server_addr,
                body=body,
                channel=conn,
                timeout=None if timeout is None or timeout <= 0 else timeout / 1000.0,
                enable_acting_master=header.enable_acting_master,
                zone_name=request.ext_fields.get(ZONE_NAME_FIELD) or None,
            )
        )
        order_conf = b""
        if self._ctx.config.return_order_topic_config_to_broker:
            table = self._ctx.kv.namespace(NAMESPACE_ORDER_TOPIC_CONFIG)
            order_conf = bodies.encode_kv_table(table) if table else b""
        return request.response(
            ResponseCode.SUCCESS,
            header=RegisterBrokerResponseHeader(
                ha_server_addr=result.ha_server_addr, master_addr=result.master_addr
            ),
            body=order_conf,
        )

    async def unregister_broker(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """UNREGISTER_BROKER: forget one broker address."""
        header = request.decode_header(UnRegisterBrokerRequestHeader)
        self._ctx.routes.unregister_broker(
            header.cluster_name, header.broker_addr, header.broker_name, header.broker_id
        )
        return request.response(ResponseCode.SUCCESS)

    async def broker_heartbeat(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """BROKER_HEARTBEAT: refresh a registered broker's liveness."""
        header = request.decode_header(BrokerHeartbeatRequestHeader)
        self._ctx.routes.update_broker_timestamp(header.cluster_name, header.broker_addr)
        return request.response(ResponseCode.SUCCESS)

    async def query_data_version(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """QUERY_DATA_VERSION: does the broker's DataVersion differ from ours? Also a heartbeat."""
        header = request.decode_header(QueryDataVersionRequestHeader)
        version = bodies.decode_data_version(request.body)
        routes = self._ctx.routes
        changed = routes.is_broker_topic_config_changed(
            header.cluster_name, header.broker_addr, version
        )
        routes.update_broker_timestamp(header.cluster_name, header.broker_addr)
        ours = routes.query_broker_data_version(header.cluster_name, header.broker_addr)
        return request.response(
            ResponseCode.SUCCESS,
            header=QueryDataVersionResponseHeader(changed=changed),
            body=b"" if ours is None else bodies.encode_data_version(ours),
        )

    async def get_broker_member_group(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """GET_BROKER_MEMBER_GROUP: the addresses of one broker group."""
        header = request.decode_header(GetBrokerMemberGroupRequestHeader)
        data = self._ctx.routes.broker_data(header.broker_name)
        addrs = {} if data is None else dict(sorted(data.broker_addrs.items()))
        group: dict[str, object] = {
            "brokerAddrs": addrs,
            "brokerName": header.broker_name,
            "cluster": header.cluster_name,
        }
        return request.response(
            ResponseCode.SUCCESS, body=fastjson.dumps({"brokerMemberGroup": group})
        )

    async def get_broker_cluster_info(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """GET_BROKER_CLUSTER_INFO: every broker group and cluster."""
        body = bodies.encode_cluster_info(self._ctx.routes.cluster_info())
        return request.response(ResponseCode.SUCCESS, body=body)

    async def wipe_write_perm(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """WIPE_WRITE_PERM_OF_BROKER: make a broker group's queues read-only."""
        header = request.decode_header(WipeWritePermOfBrokerRequestHeader)
        count = self._ctx.routes.wipe_write_perm(header.broker_name)
        logger.info("wiped write perm of broker %s on %d topics", header.broker_name, count)
        return request.response(
            ResponseCode.SUCCESS, header=WipeWritePermOfBrokerResponseHeader(wipe_topic_count=count)
        )

    async def add_write_perm(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """ADD_WRITE_PERM_OF_BROKER: make a broker group's queues read-write again."""
        header = request.decode_header(AddWritePermOfBrokerRequestHeader)
        count = self._ctx.routes.add_write_perm(header.broker_name)
        logger.info("added write perm of broker %s on %d topics", header.broker_name, count)
        return request.response(
            ResponseCode.SUCCESS, header=AddWritePermOfBrokerResponseHeader(add_topic_count=count)
        )

    # ------------------------------------------------------------------ topics

    async def get_route_info(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """GET_ROUTEINFO_BY_TOPIC: the route, standard JSON for version >= 401."""
        header = request.decode_header(GetRouteInfoRequestHeader)
        route = self._ctx.routes.pickup_topic_route(header.topic)
        if route is None:
            return request.response(
                ResponseCode.TOPIC_NOT_EXIST,
                remark=f"No topic route info in name server for the topic: {header.topic}",
            )
        if self._ctx.config.order_message_enable:
            route.order_topic_conf = self._ctx.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, header.topic)
        standard = (
            request.version >= bodies.VERSION_V4_9_4 or header.accept_standard_json_only is True
        )
        return request.response(
            ResponseCode.SUCCESS, body=bodies.encode_topic_route(route, standard=standard)
        )

    async def get_all_topic_list(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """GET_ALL_TOPIC_LIST_FROM_NAMESERVER: every routed topic."""
        if not self._ctx.config.enable_all_topic_list:
            return request.response(ResponseCode.SYSTEM_ERROR, remark="disable")
        body = bodies.encode_topic_list(self._ctx.routes.all_topics())
        return request.response(ResponseCode.SUCCESS, body=body)

    async def get_topics_by_cluster(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """GET_TOPICS_BY_CLUSTER: topics with queues in one cluster."""
        header = request.decode_header(GetTopicsByClusterRequestHeader)
        body = bodies.encode_topic_list(self._ctx.routes.topics_by_cluster(header.cluster))
        return request.response(ResponseCode.SUCCESS, body=body)

    async def get_system_topic_list(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """GET_SYSTEM_TOPIC_LIST_FROM_NS: cluster and broker names, with one broker address."""
        topics, broker_addr = self._ctx.routes.system_topics()
        return request.response(
            ResponseCode.SUCCESS, body=bodies.encode_topic_list(topics, broker_addr)
        )

    async def delete_topic(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """DELETE_TOPIC_IN_NAMESRV: drop a topic (on one cluster when ``clusterName`` given)."""
        header = request.decode_header(DeleteTopicFromNamesrvRequestHeader)
        self._ctx.routes.delete_topic(header.topic, header.cluster_name)
        return request.response(ResponseCode.SUCCESS)

    async def register_topic(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """REGISTER_TOPIC_IN_NAMESRV: set a topic's queues from a TopicRouteData body."""
        header = request.decode_header(RegisterTopicRequestHeader)
        if request.body:
            route = bodies.decode_topic_route(request.body)
            if route.queue_datas:
                self._ctx.routes.register_topic(header.topic, route.queue_datas)
        return request.response(ResponseCode.SUCCESS)

    # ------------------------------------------------------------------ KV config

    async def put_kv_config(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """PUT_KV_CONFIG: set one entry and persist the table."""
        header = request.decode_header(PutKVConfigRequestHeader)
        self._ctx.kv.put(header.namespace, header.key, header.value)
        logger.info("put kv config %s/%s", header.namespace, header.key)
        return await self._persisted(request)

    async def delete_kv_config(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """DELETE_KV_CONFIG: remove one entry and persist the table."""
        header = request.decode_header(DeleteKVConfigRequestHeader)
        if not self._ctx.kv.delete(header.namespace, header.key):
            return request.response(ResponseCode.SUCCESS)
        logger.info("deleted kv config %s/%s", header.namespace, header.key)
        return await self._persisted(request)

    async def _persisted(self, request: RemotingCommand) -> RemotingCommand:
        try:
            await self._ctx.persist_kv()
        except OSError as exc:
            logger.error("cannot persist the kv config: %s", exc)
            return request.response(
                ResponseCode.SYSTEM_ERROR, remark=f"kv config changed but not persisted: {exc}"
            )
        return request.response(ResponseCode.SUCCESS)

    async def get_kv_config(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        """GET_KV_CONFIG: one value in the ``value`` header, QUERY_NOT_FOUND if absent."""
        header = request.decode_header(GetKVConfigRequestHeader)
        value = self._ctx.kv.get(header.namespace, header.key)
        if value is None:
            return request.response(
                ResponseCode.QUERY_NOT_FOUND,
                remark=f"No config item, Namespace: {header.namespace} Key: {header.key}",
            )
        return request.response(ResponseCode.SUCCESS, header=GetKVConfigResponseHeader(value=value))

    async def get_kv_list_by_namespace(
        self, request: RemotingCommand, conn: Connection
    ) -> RemotingCommand:
        """GET_KVLIST_BY_NAMESPACE: a KVTable body, QUERY_NOT_FOUND if the namespace is empty."""
        header = request.decode_header(GetKVListByNamespaceRequestHeader)
        table = self._ctx.kv.namespace(header.namespace)
        if not table:
            return request.response(
                ResponseCode.QUERY_NOT_FOUND,
                remark=f"No config item, Namespace: {header.namespace}",
            )
        return request.response(ResponseCode.SUCCESS, body=bodies.encode_kv_table(table))
