"""The send processor's topic-name checks (remembered per legal name, never for an illegal one)
and its two request headers (SEND_MESSAGE's long keys, SEND_MESSAGE_V2's short ones)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

import rmq_core.broker.processors.send as send_module
from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.processors.send import SendMessageProcessor
from rmq_core.common.message_codec import encode_properties
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
)
from rmq_core.store.config import StoreConfig
from rmq_core.store.results import (
    AppendMessageResult,
    AppendMessageStatus,
    PutMessageResult,
    PutMessageStatus,
)


class RecordingStore:
    """Accepts every put (ASYNC_FLUSH: no flush waiter) and keeps the messages."""

    def __init__(self) -> None:
        self.puts: list[Any] = []

    def put_message(
        self, msg: Any, *, flush_future: bool = True, defer_dispatch: bool = False
    ) -> PutMessageResult:
        assert defer_dispatch is False  # ASYNC_FLUSH: the broker awaits nothing
        self.puts.append(msg)
        append = AppendMessageResult(
            AppendMessageStatus.PUT_OK, 100, 120, "127.0.0.1:10911", 1, len(self.puts) - 1, 1
        )
        return PutMessageResult(PutMessageStatus.PUT_OK, append)

    def flush_waiter(self, loop: asyncio.AbstractEventLoop) -> None:
        return None


class FakeConnection:
    remote_address = "127.0.0.1:5555"
    closed = False


def _header(topic: str) -> SendMessageRequestHeaderV2:
    return SendMessageRequestHeaderV2(
        producer_group="P",
        topic=topic,
        default_topic="TBW102",
        default_topic_queue_nums=4,
        queue_id=1,
        sys_flag=0,
        born_timestamp=1,
        flag=3,
        properties=encode_properties({"UNIQ_KEY": "U1", "TAGS": "a"}),
        reconsume_times=0,
    )


def _send(
    processor: SendMessageProcessor, topics: list[str], code: int = RequestCode.SEND_MESSAGE_V2
) -> list[RemotingCommand]:
    async def go() -> list[RemotingCommand]:
        answers = []
        for topic in topics:
            header: Any = _header(topic)
            if code == RequestCode.SEND_MESSAGE:
                header = SendMessageRequestHeader(**dataclasses.asdict(header))
            request = RemotingCommand.request(code, header, b"body")
            answers.append(await processor.process(request, FakeConnection()))  # type: ignore[arg-type]
        return answers

    return asyncio.run(asyncio.wait_for(go(), 10))


def _processor(store: RecordingStore) -> SendMessageProcessor:
    ctx = BrokerContext(BrokerConfig(), StoreConfig(), store)  # type: ignore[arg-type]
    return SendMessageProcessor(ctx)


def test_illegal_and_forbidden_topics_are_refused_every_time() -> None:
    store = RecordingStore()
    processor = _processor(store)
    topics = ["TBW102", "bad topic!", "SCHEDULE_TOPIC_XXXX", "TBW102", "bad topic!"]
    codes = [answer.code for answer in _send(processor, topics)]
    assert codes == [
        ResponseCode.SUCCESS,
        ResponseCode.INVALID_PARAMETER,
        ResponseCode.NO_PERMISSION,
        ResponseCode.SUCCESS,
        ResponseCode.INVALID_PARAMETER,
    ]
    assert len(store.puts) == 2


def test_remembered_topic_names_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(send_module, "_LEGAL_TOPICS_MAX", 2)
    processor = _processor(RecordingStore())
    answers = _send(processor, ["TBW102", "bad topic!", "T1", "T2", "TBW102"])
    assert [answer.code for answer in answers] == [
        ResponseCode.SUCCESS,
        ResponseCode.INVALID_PARAMETER,
        ResponseCode.SUCCESS,
        ResponseCode.SUCCESS,
        ResponseCode.SUCCESS,
    ]
    assert processor._legal_topics <= {"TBW102", "T1", "T2"}
    assert 1 <= len(processor._legal_topics) <= 2


def test_v1_and_v2_headers_store_the_same_message() -> None:
    stores = [RecordingStore(), RecordingStore()]
    for store, code in zip(
        stores, (RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2), strict=True
    ):
        [answer] = _send(_processor(store), ["TBW102"], code)
        assert answer.code == ResponseCode.SUCCESS
        assert answer.ext_fields["transactionId"] == "U1"
    v1, v2 = (store.puts[0] for store in stores)
    fields = ("topic", "queue_id", "flag", "sys_flag", "born_timestamp", "reconsume_times", "body")
    assert [getattr(v1, name) for name in fields] == [getattr(v2, name) for name in fields]
    assert v1.properties_string == v2.properties_string
    assert (v1.topic, v1.queue_id, v1.flag) == ("TBW102", 1, 3)


def test_answer_fields_are_the_region_then_the_response_header_in_order() -> None:
    [answer] = _send(_processor(RecordingStore()), ["TBW102"])
    header = SendMessageResponseHeader(
        msg_id=answer.ext_fields["msgId"], queue_id=1, queue_offset=0, transaction_id="U1"
    )
    expected = {"MSG_REGION": "DefaultRegion", "TRACE_ON": "true", **header.to_ext_fields()}
    assert list(answer.ext_fields.items()) == list(expected.items())
    assert (answer.code, answer.remark, answer.flag) == (ResponseCode.SUCCESS, None, 1)
