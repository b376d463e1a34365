"""Topic administration: UPDATE_AND_CREATE_TOPIC (17), DELETE_TOPIC_IN_BROKER (215),
GET_ALL_TOPIC_CONFIG (21), GET_TOPIC_CONFIG (351) and GET_TOPIC_STATS_INFO (202).

Creating/updating checks the name (INVALID_PARAMETER), refuses system topics
(INVALID_PARAMETER "conflict with system topic"), queue counts outside 1..:data:`MAX_QUEUE_NUMS`,
permission bits other than R/W/inherit and filter types other than SINGLE_TAG/MULTI_TAG.
``attributes`` is RocketMQ's ``+key=value,-key`` text applied to the topic's existing ones.
Each change is persisted and announced to the NameServers (topic manager listener). Deleting
removes the topic's config, consumer offsets and consume queues; deleting an unknown topic
succeeds (idempotent), deleting a system topic is refused.
"""

from __future__ import annotations

from typing import Any

from rmq_core.broker import topic_validator as tv
from rmq_core.broker.managers.topics import FILTER_TYPES, TopicConfig
from rmq_core.broker.processors.common import BrokerProcessor, drain_records, json_body
from rmq_core.common.message_codec import MessageFormatError, decode_record
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.fastjson import FrozenKey
from rmq_core.remoting.headers import (
    CreateTopicRequestHeader,
    DeleteTopicRequestHeader,
    GetTopicConfigRequestHeader,
    GetTopicStatsInfoRequestHeader,
)
from rmq_core.remoting.transport import Connection

__all__ = ["MAX_QUEUE_NUMS", "TopicAdminProcessor", "apply_attribute_changes"]

MAX_QUEUE_NUMS = 1024
_PERM_BITS = 0b0111


def apply_attribute_changes(current: dict[str, str], text: str | None) -> dict[str, str]:
    """Apply ``+key=value`` / ``-key`` items (comma-separated) to a copy of ``current``.

    Raises ValueError on an item that is neither form.
    """
    result = dict(current)
    if not text:
        return result
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.startswith("+") and "=" in item:
            key, value = item[1:].split("=", 1)
            if not key:
                raise ValueError(f"attribute {item!r} has no key")
            result[key] = value
        elif item.startswith("-") and len(item) > 1:
            result.pop(item[1:], None)
        else:
            raise ValueError(f"attribute {item!r} must look like +key=value or -key")
    return result


class TopicAdminProcessor(BrokerProcessor):
    """Topic creation, deletion and inspection."""

    codes = (
        RequestCode.UPDATE_AND_CREATE_TOPIC,
        RequestCode.DELETE_TOPIC_IN_BROKER,
        RequestCode.GET_ALL_TOPIC_CONFIG,
        RequestCode.GET_TOPIC_CONFIG,
        RequestCode.GET_TOPIC_STATS_INFO,
    )

    async def process(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        if request.code == RequestCode.UPDATE_AND_CREATE_TOPIC:
            return self._create(request)
        if request.code == RequestCode.DELETE_TOPIC_IN_BROKER:
            return self._delete(request)
        if request.code == RequestCode.GET_ALL_TOPIC_CONFIG:
            return self.ok(request, json_body(self.ctx.topics.serialize_wrapper()))
        if request.code == RequestCode.GET_TOPIC_CONFIG:
            return self._get_one(request)
        return self._stats(request)

    def _create(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(CreateTopicRequestHeader)
        problem = self._creation_problem(header)
        if problem is not None:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, problem)
        existing = self.ctx.topics.select(header.topic)
        try:
            attributes = apply_attribute_changes(
                existing.attributes if existing is not None else {}, header.attributes
            )
        except ValueError as exc:
            return self.fail(request, ResponseCode.INVALID_PARAMETER, str(exc))
        self.ctx.topics.update_topic_config(
            TopicConfig(
                topic_name=header.topic,
                read_queue_nums=header.read_queue_nums,
                write_queue_nums=header.write_queue_nums,
                perm=header.perm,
                topic_filter_type=header.topic_filter_type,
                topic_sys_flag=header.topic_sys_flag or 0,
                order=header.order,
                attributes=attributes,
            )
        )
        return self.ok(request)

    def _creation_problem(self, header: CreateTopicRequestHeader) -> str | None:
        problem = tv.check_topic(header.topic)
        if problem is not None:
            return problem
        if self.ctx.topics.is_system_topic(header.topic):
            return f"The topic[{header.topic}] is conflict with system topic."
        for name, value in (
            ("readQueueNums", header.read_queue_nums),
            ("writeQueueNums", header.write_queue_nums),
        ):
            if not 1 <= value <= MAX_QUEUE_NUMS:
                return f"{name}={value} must be between 1 and {MAX_QUEUE_NUMS}"
        if header.perm & ~_PERM_BITS or header.perm < 0:
            return f"perm={header.perm} must combine 4 (read), 2 (write) and 1 (inherit)"
        if header.topic_filter_type not in FILTER_TYPES:
            return f"topicFilterType={header.topic_filter_type} must be SINGLE_TAG or MULTI_TAG"
        return None

    def _delete(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(DeleteTopicRequestHeader)
        if not header.topic.strip() or self.ctx.topics.is_system_topic(header.topic):
            return self.fail(
                request,
                ResponseCode.INVALID_PARAMETER,
                f"The specified topic[{header.topic}] is blank or a system topic",
            )
        self.ctx.topics.delete_topic(header.topic)
        self.ctx.offsets.remove_topic(header.topic)
        self.ctx.store.delete_topics({header.topic})
        return self.ok(request)

    def _get_one(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(GetTopicConfigRequestHeader)
        found = self.ctx.topics.select(header.topic)
        if found is None:
            return self.fail(
                request,
                ResponseCode.TOPIC_NOT_EXIST,
                f"No topic in this broker. topic: {header.topic}",
            )
        return self.ok(request, json_body(found.to_json()))

    def _stats(self, request: RemotingCommand) -> RemotingCommand:
        header = request.decode_header(GetTopicStatsInfoRequestHeader)
        found = self.ctx.topics.select(header.topic)
        if found is None:
            return self.fail(
                request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{header.topic}] not exist"
            )
        store = self.ctx.store
        table: dict[Any, Any] = {}
        for queue_id in range(found.write_queue_nums):
            max_offset = store.get_max_offset_in_queue(header.topic, queue_id)
            last = _last_store_time(self.ctx, header.topic, queue_id, max_offset)
            key = FrozenKey(
                {
                    "brokerName": self.ctx.config.broker_name,
                    "queueId": queue_id,
                    "topic": header.topic,
                }
            )
            table[key] = {
                "lastUpdateTimestamp": last,
                "maxOffset": max_offset,
                "minOffset": store.get_min_offset_in_queue(header.topic, queue_id),
            }
        return self.ok(request, json_body({"offsetTable": table, "topicPutTps": 0.0}))


def _last_store_time(ctx: Any, topic: str, queue_id: int, max_offset: int) -> int:
    """Store time (ms) of the newest message of a queue, 0 when there is none."""
    if max_offset <= 0:
        return 0
    result = ctx.store.get_message("", topic, queue_id, max_offset - 1, 1, None)
    if not result.messages:
        return 0
    record = drain_records(result.messages)
    try:
        message, _ = decode_record(record, 0, decompress=False)
    except (MessageFormatError, ValueError):
        return 0
    return message.store_timestamp
