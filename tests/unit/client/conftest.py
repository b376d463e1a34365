"""Scripted NameServer and broker fakes for client unit tests (real sockets, port 0).

They answer just what the producer needs, so tests can make a broker fail in precise ways
(a given response code, a dropped connection, disappearing) that a real broker will not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

import pytest

from rmq_core.common.message_codec import create_offset_msg_id
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import SendMessageRequestHeaderV2, SendMessageResponseHeader
from rmq_core.remoting.server import RemotingServer


@dataclass
class FakeBroker:
    """A broker that stores nothing: it counts sends and answers ``reply_code``."""

    name: str
    queues: int = 4
    reply_code: int = ResponseCode.SUCCESS
    sends: list[tuple[int, SendMessageRequestHeaderV2, bytes]] = field(default_factory=list)
    heartbeats: list[dict[str, object]] = field(default_factory=list)
    unregisters: int = 0
    on_send: Callable[[], None] | None = None
    hold: asyncio.Event | None = None
    """When set to an Event, send replies wait until it is set (a stalled broker)."""
    server: RemotingServer | None = None
    port: int = 0
    _offset: int = 0

    async def start(self) -> None:
        self.server = RemotingServer("127.0.0.1", self.port, name=self.name)
        self.server.register_processor(RequestCode.SEND_MESSAGE_V2, self._send)
        self.server.register_processor(RequestCode.SEND_BATCH_MESSAGE, self._send)
        self.server.register_processor(RequestCode.HEART_BEAT, self._heartbeat)
        self.server.register_processor(RequestCode.UNREGISTER_CLIENT, self._unregister)
        await self.server.start()
        self.port = self.server.port

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _send(self, request: RemotingCommand, conn: object) -> RemotingCommand | None:
        header = request.decode_header(SendMessageRequestHeaderV2)
        self.sends.append((request.code, header, request.body))
        if self.on_send is not None:
            self.on_send()
        if request.is_oneway:
            return None
        if self.hold is not None:
            await self.hold.wait()
        if self.reply_code != ResponseCode.SUCCESS:
            return request.response(self.reply_code, f"scripted failure of {self.name}")
        offset = self._offset
        self._offset += 1
        reply = SendMessageResponseHeader(
            msg_id=create_offset_msg_id(self.address, offset * 100),
            queue_id=header.queue_id,
            queue_offset=offset,
        )
        return request.response(
            ResponseCode.SUCCESS,
            header=reply,
            ext_fields={"MSG_REGION": "DefaultRegion", "TRACE_ON": "true"},
        )

    async def _heartbeat(self, request: RemotingCommand, conn: object) -> RemotingCommand:
        self.heartbeats.append(json.loads(request.body))
        return request.response(ResponseCode.SUCCESS)

    async def _unregister(self, request: RemotingCommand, conn: object) -> RemotingCommand:
        self.unregisters += 1
        return request.response(ResponseCode.SUCCESS)


@dataclass
class FakeNameServer:
    """Answers GET_ROUTEINFO_BY_TOPIC for ``topics`` with the given brokers."""

    brokers: list[FakeBroker]
    topics: set[str] = field(default_factory=set)
    lookups: int = 0
    server: RemotingServer | None = None

    async def start(self) -> None:
        self.server = RemotingServer("127.0.0.1", 0, name="fake-namesrv")
        self.server.register_processor(RequestCode.GET_ROUTEINFO_BY_TOPIC, self._route)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()

    @property
    def address(self) -> str:
        assert self.server is not None
        return self.server.address

    async def _route(self, request: RemotingCommand, conn: object) -> RemotingCommand:
        self.lookups += 1
        topic = request.ext_fields["topic"]
        if topic not in self.topics:
            return request.response(
                ResponseCode.TOPIC_NOT_EXIST, f"No topic route info in name server for {topic}"
            )
        body = {
            "brokerDatas": [
                {"brokerAddrs": {"0": b.address}, "brokerName": b.name, "cluster": "C"}
                for b in self.brokers
            ],
            "filterServerTable": {},
            "queueDatas": [
                {
                    "brokerName": b.name,
                    "perm": 6,
                    "readQueueNums": b.queues,
                    "topicSysFlag": 0,
                    "writeQueueNums": b.queues,
                }
                for b in self.brokers
            ],
        }
        return request.response(ResponseCode.SUCCESS, body=json.dumps(body).encode())


TOPIC = "TopicTest"

FakeCluster = Callable[..., AbstractAsyncContextManager[tuple[FakeNameServer, list[FakeBroker]]]]


@asynccontextmanager
async def _cluster(*names: str) -> AsyncIterator[tuple[FakeNameServer, list[FakeBroker]]]:
    brokers = [FakeBroker(name) for name in names]
    for broker in brokers:
        await broker.start()
    namesrv = FakeNameServer(brokers, {TOPIC})
    await namesrv.start()
    try:
        yield namesrv, brokers
    finally:
        await namesrv.stop()
        for broker in brokers:
            await broker.stop()


@pytest.fixture
def fake_cluster() -> FakeCluster:
    """``async with fake_cluster("broker-a", ...) as (namesrv, brokers)`` serving TopicTest."""
    return _cluster
