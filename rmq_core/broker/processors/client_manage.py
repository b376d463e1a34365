"""HEART_BEAT (34), UNREGISTER_CLIENT (35) and CHECK_CLIENT_CONFIG (46).

A heartbeat (body HeartbeatData, reference §3.3) registers the client's connection under each
producer group and consumer group it names. For every consumer group the subscription group is
found or auto-created and its retry topic ``%RETRY%<group>`` created (``retryQueueNums``
queues, perm 6; the topic manager's change listener re-registers the broker with the
NameServers). Membership or subscription changes trigger NOTIFY_CONSUMER_IDS_CHANGED through
the consumer manager's listener (see :mod:`rmq_core.broker.notify`).

The answer is SUCCESS with the command version 401 (>= 232 lets Java clients use SQL92) and
``IS_SUPPORT_HEART_BEAT_V2=false`` (subscriptions are always expected in full).

UNREGISTER_CLIENT treats an empty ``producerGroup``/``consumerGroup`` as absent (the C++ client
sends ``""``).
"""

from __future__ import annotations

import logging
from typing import Any

from rmq_core.broker import perm as permission
from rmq_core.broker import topic_validator as tv
from rmq_core.broker.heartbeat import HeartbeatData, HeartbeatError, SubscriptionData
from rmq_core.broker.managers.clients import ClientChannelInfo
from rmq_core.broker.processors.common import BrokerProcessor, decode_json_body
from rmq_core.errors import FilterError, RemoteProtocolError
from rmq_core.filter.message_filter import ExpressionMessageFilter, PropertyFilterDisabledError
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import UnregisterClientRequestHeader
from rmq_core.remoting.transport import Connection

__all__ = ["CLIENT_ID_ATTRIBUTE", "ClientManageProcessor"]

logger = logging.getLogger(__name__)

CLIENT_ID_ATTRIBUTE = "client_id"
"""Key in ``Connection.attributes`` holding the client id a connection announced."""


class ClientManageProcessor(BrokerProcessor):
    """Client registration (heartbeats) and unregistration."""

    codes = (
        RequestCode.HEART_BEAT,
        RequestCode.UNREGISTER_CLIENT,
        RequestCode.CHECK_CLIENT_CONFIG,
    )

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        if request.code == RequestCode.HEART_BEAT:
            return self._heartbeat(request, connection)
        if request.code == RequestCode.UNREGISTER_CLIENT:
            return self._unregister(request, connection)
        return self._check_client_config(request)

    def _channel_info(
        self, request: RemotingCommand, connection: Connection, client_id: str
    ) -> ClientChannelInfo:
        return ClientChannelInfo(
            connection=connection,
            client_id=client_id,
            language=request.language.name,
            version=request.version,
        )

    def _heartbeat(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        try:
            data = HeartbeatData.from_json(decode_json_body(request.body))
        except (HeartbeatError, RemoteProtocolError) as exc:
            return self.fail(request, ResponseCode.SYSTEM_ERROR, f"bad heartbeat body: {exc}")
        for group in [c.group_name for c in data.consumers] + data.producer_groups:
            problem = tv.check_group(group)
            if problem is not None:
                return self.fail(request, ResponseCode.INVALID_PARAMETER, problem)
        connection.attributes[CLIENT_ID_ATTRIBUTE] = data.client_id
        for consumer in data.consumers:
            group_config = self.ctx.groups.find_subscription_group_config(consumer.group_name)
            notify = True
            if group_config is not None:
                notify = group_config.notify_consumer_ids_changed_enable
                self.ctx.topics.create_topic_in_send_message_back_method(
                    tv.retry_topic(consumer.group_name),
                    group_config.retry_queue_nums,
                    permission.PERM_READ | permission.PERM_WRITE,
                )
            changed = self.ctx.consumers.register_consumer(
                consumer.group_name,
                self._channel_info(request, connection, data.client_id),
                consumer.consume_type,
                consumer.message_model,
                consumer.consume_from_where,
                consumer.subscriptions,
                notify=notify,
            )
            if changed:
                logger.info(
                    "consumer group %s changed by %s (%s)",
                    consumer.group_name,
                    data.client_id,
                    connection.remote_address,
                )
        for group in data.producer_groups:
            self.ctx.producers.register_producer(
                group, self._channel_info(request, connection, data.client_id)
            )
        return request.response(
            ResponseCode.SUCCESS, None, ext_fields={"IS_SUPPORT_HEART_BEAT_V2": "false"}
        )

    def _unregister(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = request.decode_header(UnregisterClientRequestHeader)
        if header.producer_group:
            self.ctx.producers.unregister_producer(header.producer_group, connection)
        if header.consumer_group:
            group_config = self.ctx.groups.select(header.consumer_group)
            notify = group_config is None or group_config.notify_consumer_ids_changed_enable
            self.ctx.consumers.unregister_consumer(header.consumer_group, connection, notify=notify)
        return self.ok(request)

    def _check_client_config(self, request: RemotingCommand) -> RemotingCommand:
        try:
            body: Any = decode_json_body(request.body)
            raw = body.get("subscriptionData") if isinstance(body, dict) else None
            subscription = SubscriptionData.from_json(raw)
        except (HeartbeatError, RemoteProtocolError) as exc:
            return self.fail(request, ResponseCode.SYSTEM_ERROR, f"bad client config body: {exc}")
        try:
            ExpressionMessageFilter(
                subscription.expression_type,
                subscription.sub_string,
                self.ctx.config.enable_property_filter,
            )
        except PropertyFilterDisabledError:
            return self.fail(
                request,
                ResponseCode.SYSTEM_ERROR,
                "The broker does not support consumer to filter message by SQL92",
            )
        except FilterError as exc:
            return self.fail(
                request,
                ResponseCode.SUBSCRIPTION_PARSE_FAILED,
                f"Parameter check error, subscription[{subscription.sub_string}]: {exc}",
            )
        return self.ok(request)
