"""Group administration and consumer inspection.

UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200, body SubscriptionGroupConfig JSON),
DELETE_SUBSCRIPTIONGROUP (207, optionally with its offsets), GET_ALL_SUBSCRIPTIONGROUP_CONFIG
(201), GET_SUBSCRIPTIONGROUP_CONFIG (352), GET_ALL_CONSUMER_OFFSET (43),
GET_CONSUMER_CONNECTION_LIST (203), GET_PRODUCER_CONNECTION_LIST (204), GET_CONSUME_STATS (208)
and QUERY_TOPIC_CONSUME_BY_WHO (300). Bodies follow reference §3.6; MessageQueue-keyed maps use
fastjson's bare-object keys.
"""

from __future__ import annotations

from typing import Any

from rmq_core.broker import topic_validator as tv
from rmq_core.broker.managers.subscription_groups import SubscriptionGroupConfig
from rmq_core.broker.processors.common import BrokerProcessor, decode_json_body, json_body
from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.fastjson import FrozenKey
from rmq_core.remoting.headers import (
    DeleteSubscriptionGroupRequestHeader,
    GetConsumerConnectionListRequestHeader,
    GetConsumeStatsRequestHeader,
    GetProducerConnectionListRequestHeader,
    GetSubscriptionGroupConfigRequestHeader,
    QueryTopicConsumeByWhoRequestHeader,
)
from rmq_core.remoting.transport import Connection

__all__ = ["GroupAdminProcessor"]


class GroupAdminProcessor(BrokerProcessor):
    """Subscription groups, offsets tables and connection lists."""

    codes = (
        RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
        RequestCode.DELETE_SUBSCRIPTIONGROUP,
        RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
        RequestCode.GET_SUBSCRIPTIONGROUP_CONFIG,
        RequestCode.GET_ALL_CONSUMER_OFFSET,
        RequestCode.GET_CONSUMER_CONNECTION_LIST,
        RequestCode.GET_PRODUCER_CONNECTION_LIST,
        RequestCode.GET_CONSUME_STATS,
        RequestCode.QUERY_TOPIC_CONSUME_BY_WHO,
    )

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        handlers = {
            RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: self._update,
            RequestCode.DELETE_SUBSCRIPTIONGROUP: self._delete,
            RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG: self._all,
            RequestCode.GET_SUBSCRIPTIONGROUP_CONFIG: self._one,
            RequestCode.GET_ALL_CONSUMER_OFFSET: self._all_offsets,
            RequestCode.GET_CONSUMER_CONNECTION_LIST: self._consumer_connections,
            RequestCode.GET_PRODUCER_CONNECTION_LIST: self._producer_connections,
            RequestCode.GET_CONSUME_STATS: self._consume_stats,
            RequestCode.QUERY_TOPIC_CONSUME_BY_WHO: self._consumed_by,
        }
        return handlers[RequestCode(request.code)](request)

    def _update(self, request: RemotingCommand) -> RemotingCommand:
        try:
            raw = decode_json_body(request.body)
            if not isinstance(raw, dict):
                raise ValueError("body must be a JSON object")
            config = SubscriptionGroupConfig.from_json(raw)
        except (RemoteProtocolError, ValueError, TypeError) as exc:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, f"bad group config: {exc}")
        problem = tv.check_group(config.group_name)
        if problem is not None:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, problem)
        if config.retry_queue_nums < 0 or config.retry_max_times < -1:
            return self.fail(
                request,
                ResponseCode.INVALID_PARAMETER,
                "retryQueueNums must be >= 0 and retryMaxTimes >= -1",
            )
        self.ctx.groups.update_subscription_group_config(config)
        return self.ok(request)

    def _delete(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(DeleteSubscriptionGroupRequestHeader)
        self.ctx.groups.delete_subscription_group_config(header.group_name)
        if header.clean_offset:
            self.ctx.offsets.remove_group(header.group_name)
        return self.ok(request)

    def _all(self, request: RemotingCommand) -> RemotingCommand:
        return self.ok(request, json_body(self.ctx.groups.to_json()))

    def _one(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(GetSubscriptionGroupConfigRequestHeader)
        found = self.ctx.groups.select(header.group)
        if found is None:
            return self.fail(
                request,
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group [{header.group}] does not exist",
            )
        return self.ok(request, json_body(found.to_json()))

    def _all_offsets(self, request: RemotingCommand) -> RemotingCommand:
        return self.ok(request, json_body(self.ctx.offsets.to_json()))

    def _consumer_connections(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(GetConsumerConnectionListRequestHeader)
        info = self.ctx.consumers.get_consumer_group_info(header.consumer_group)
        if info is None or not info.channels:
            return self.fail(
                request,
                ResponseCode.CONSUMER_NOT_ONLINE,
                f"the consumer group[{header.consumer_group}] not online",
            )
        body = {
            "connectionSet": [c.to_connection_json() for c in info.all_channels()],
            "consumeFromWhere": info.consume_from_where,
            "consumeType": info.consume_type,
            "messageModel": info.message_model,
            "subscriptionTable": {t: s.to_json() for t, s in sorted(info.subscriptions.items())},
        }
        return self.ok(request, json_body(body))

    def _producer_connections(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(GetProducerConnectionListRequestHeader)
        channels = self.ctx.producers.channels(header.producer_group)
        if not channels:
            return self.fail(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"the producer group[{header.producer_group}] not exist",
            )
        return self.ok(
            request, json_body({"connectionSet": [c.to_connection_json() for c in channels]})
        )

    def _consume_stats(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(GetConsumeStatsRequestHeader)
        group = header.consumer_group
        if header.topic:
            topics = [header.topic]
        elif header.topic_list:
            topics = [t for t in header.topic_list.split(";") if t]
        else:
            topics = sorted(self.ctx.offsets.topics_of_group(group))
        store = self.ctx.store
        table: dict[Any, Any] = {}
        for topic in topics:
            topic_config = self.ctx.topics.select(topic)
            if topic_config is None:
                continue
            offsets = self.ctx.offsets.query_offsets(group, topic)
            for queue_id in range(topic_config.write_queue_nums):
                key = FrozenKey(
                    {"brokerName": self.ctx.config.broker_name, "queueId": queue_id, "topic": topic}
                )
                consumer_offset = offsets.get(queue_id, -1)
                table[key] = {
                    "brokerOffset": store.get_max_offset_in_queue(topic, queue_id),
                    "consumerOffset": consumer_offset,
                    "lastTimestamp": 0,
                    "pullOffset": max(consumer_offset, 0),
                }
        return self.ok(request, json_body({"consumeTps": 0.0, "offsetTable": table}))

    def _consumed_by(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(QueryTopicConsumeByWhoRequestHeader)
        groups = self.ctx.consumers.groups_subscribing(header.topic)
        groups |= self.ctx.offsets.groups_of_topic(header.topic)
        return self.ok(request, json_body({"groupList": sorted(groups)}))
