"""A raw remoting client for broker tests: builds requests by hand, no rmq client logic.

Usage::

    async with RawBrokerClient(cluster.broker_addr) as raw:
        response = await raw.send("TopicTest", b"hello", tags="TagA")
        response = await raw.pull("G", "TopicTest", 0, 0)
        messages = raw.decode(response)

Server-initiated requests (e.g. NOTIFY_CONSUMER_IDS_CHANGED) are collected in
``raw.notifications`` (code 40) and answered by no one (they are oneway).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rmq_core.common.message import Message, MessageExt
from rmq_core.common.message_codec import (
    create_uniq_id,
    decode_records,
    encode_batch,
    encode_properties,
)
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    CommandHeader,
    PullMessageRequestHeader,
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
)
from rmq_core.remoting.transport import Connection

__all__ = ["RawBrokerClient", "message_properties"]

TIMEOUT = 5.0


def message_properties(
    tags: str | None = None,
    keys: str | None = None,
    extra: Mapping[str, str] | None = None,
    *,
    uniq_key: bool = True,
) -> dict[str, str]:
    """Properties as a producer sets them (UNIQ_KEY, TAGS, KEYS, WAIT=true, user ones)."""
    props: dict[str, str] = {"WAIT": "true"}
    if uniq_key:
        props["UNIQ_KEY"] = create_uniq_id()
    if tags is not None:
        props["TAGS"] = tags
    if keys is not None:
        props["KEYS"] = keys
    props.update(extra or {})
    return props


class RawBrokerClient:
    """One remoting client talking to one broker address."""

    def __init__(self, address: str, client_id: str = "127.0.0.1@raw-test") -> None:
        self.address = address
        self.client_id = client_id
        self.client = RemotingClient(name=f"raw-{client_id}")
        self.notifications: list[RemotingCommand] = []
        self.notified = asyncio.Event()
        self.client.register_processor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, self._on_notify)

    async def _on_notify(self, request: RemotingCommand, connection: Connection) -> None:
        self.notifications.append(request)
        self.notified.set()

    async def __aenter__(self) -> RawBrokerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.client.close()

    async def call(
        self,
        code: int,
        header: CommandHeader | None = None,
        body: bytes = b"",
        *,
        ext_fields: dict[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> RemotingCommand:
        """Send one request and return the response."""
        request = RemotingCommand.request(code, header, body, ext_fields=ext_fields)
        return await self.client.invoke(self.address, request, timeout)

    async def send(
        self,
        topic: str,
        body: bytes,
        *,
        tags: str | None = None,
        keys: str | None = None,
        properties: Mapping[str, str] | None = None,
        queue_id: int = 0,
        code: int = RequestCode.SEND_MESSAGE_V2,
        producer_group: str = "PG_RAW",
        default_topic: str = "TBW102",
        default_topic_queue_nums: int = 4,
        sys_flag: int = 0,
        reconsume_times: int | None = None,
        max_reconsume_times: int | None = None,
    ) -> RemotingCommand:
        """SEND_MESSAGE (10) or SEND_MESSAGE_V2 (310) of one message."""
        props = dict(properties) if properties is not None else message_properties(tags, keys)
        header = SendMessageRequestHeader(
            producer_group=producer_group,
            topic=topic,
            default_topic=default_topic,
            default_topic_queue_nums=default_topic_queue_nums,
            queue_id=queue_id,
            sys_flag=sys_flag,
            born_timestamp=int(time.time() * 1000),
            flag=0,
            properties=encode_properties(props),
            reconsume_times=reconsume_times,
            max_reconsume_times=max_reconsume_times,
        )
        wire: CommandHeader = (
            header
            if code == RequestCode.SEND_MESSAGE
            else SendMessageRequestHeaderV2.from_v1(header)
        )
        return await self.call(code, wire, body)

    async def send_batch(
        self, topic: str, messages: Sequence[Message], *, queue_id: int = 0
    ) -> RemotingCommand:
        """SEND_BATCH_MESSAGE (320) of ``messages``."""
        header = SendMessageRequestHeaderV2(
            producer_group="PG_RAW",
            topic=topic,
            default_topic="TBW102",
            default_topic_queue_nums=4,
            queue_id=queue_id,
            sys_flag=0,
            born_timestamp=int(time.time() * 1000),
            flag=0,
            properties=encode_properties({"WAIT": "true"}),
            batch=True,
        )
        return await self.call(RequestCode.SEND_BATCH_MESSAGE, header, encode_batch(messages))

    async def pull(
        self,
        group: str,
        topic: str,
        queue_id: int,
        offset: int,
        *,
        max_nums: int = 32,
        sys_flag: int = 0x4,
        suspend_ms: int = 0,
        subscription: str | None = "*",
        expression_type: str | None = "TAG",
        commit_offset: int = 0,
        sub_version: int = 0,
        timeout: float = TIMEOUT,
    ) -> RemotingCommand:
        """PULL_MESSAGE (11); by default with the subscription in the request (bit 2)."""
        header = PullMessageRequestHeader(
            consumer_group=group,
            topic=topic,
            queue_id=queue_id,
            queue_offset=offset,
            max_msg_nums=max_nums,
            sys_flag=sys_flag,
            commit_offset=commit_offset,
            suspend_timeout_millis=suspend_ms,
            subscription=subscription,
            sub_version=sub_version,
            expression_type=expression_type,
        )
        return await self.call(RequestCode.PULL_MESSAGE, header, timeout=timeout)

    async def heartbeat(
        self,
        *,
        consumer_group: str | None = None,
        topic: str = "TopicTest",
        expression: str = "*",
        producer_group: str | None = None,
        message_model: Any = "CLUSTERING",
        sub_version: int = 1,
    ) -> RemotingCommand:
        """HEART_BEAT (34) for at most one consumer group (subscribing ``topic``) and one
        producer group."""
        tags = [] if expression == "*" else [t.strip() for t in expression.split("||")]
        consumers: list[dict[str, Any]] = []
        if consumer_group is not None:
            consumers.append(
                {
                    "groupName": consumer_group,
                    "consumeType": "CONSUME_PASSIVELY",
                    "messageModel": message_model,
                    "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
                    "subscriptionDataSet": [
                        {
                            "topic": topic,
                            "subString": expression,
                            "tagsSet": tags,
                            "codeSet": [],
                            "subVersion": sub_version,
                            "expressionType": "TAG",
                            "classFilterMode": False,
                        }
                    ],
                    "unitMode": False,
                }
            )
        body = {
            "clientID": self.client_id,
            "consumerDataSet": consumers,
            "producerDataSet": [{"groupName": producer_group}] if producer_group else [],
        }
        return await self.call(RequestCode.HEART_BEAT, body=json.dumps(body).encode())

    @staticmethod
    def decode(response: RemotingCommand) -> list[MessageExt]:
        """The messages in a pull/query/view response body."""
        return decode_records(response.body)
