"""SYNC_FLUSH sends wait for the store's flush future; a failed flush answers
FLUSH_DISK_TIMEOUT (the message is stored, the header is complete)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
from pathlib import Path
from typing import Any

import pytest

from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.processors.send import SendMessageProcessor
from rmq_core.common.message_codec import encode_properties
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import SendMessageRequestHeaderV2
from rmq_core.store import MessageStore
from rmq_core.store.config import StoreConfig
from rmq_core.store.results import (
    AppendMessageResult,
    AppendMessageStatus,
    PutMessageResult,
    PutMessageStatus,
)


class FlushStore:
    """Accepts every put; its flush futures resolve to ``flushed`` after ``delay`` seconds."""

    def __init__(self, flushed: bool, delay: float = 0.05) -> None:
        self.flushed = flushed
        self.delay = delay
        self.puts: list[Any] = []

    def put_message(self, msg: Any) -> PutMessageResult:
        self.puts.append(msg)
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay, future.set_result, self.flushed)
        append = AppendMessageResult(
            AppendMessageStatus.PUT_OK, 100, 120, "127.0.0.1:10911", 1, 7, 1
        )
        return PutMessageResult(PutMessageStatus.PUT_OK, append, future)


class FakeConnection:
    remote_address = "127.0.0.1:5555"
    closed = False


def send_request() -> RemotingCommand:
    header = SendMessageRequestHeaderV2(
        producer_group="P",
        topic="TBW102",
        default_topic="TBW102",
        default_topic_queue_nums=4,
        queue_id=0,
        sys_flag=0,
        born_timestamp=1,
        flag=0,
        properties=encode_properties({"WAIT": "true"}),
    )
    return RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, header, b"body")


def run_send(store: FlushStore) -> RemotingCommand:
    ctx = BrokerContext(BrokerConfig(), StoreConfig(flush_disk_type="SYNC_FLUSH"), store)  # type: ignore[arg-type]
    processor = SendMessageProcessor(ctx)

    async def go() -> RemotingCommand:
        return await processor.process(send_request(), FakeConnection())  # type: ignore[arg-type]

    return asyncio.run(asyncio.wait_for(go(), 10))


def test_flushed_send_succeeds() -> None:
    store = FlushStore(flushed=True)
    response = run_send(store)
    assert response.code == ResponseCode.SUCCESS
    assert response.ext_fields["queueOffset"] == "7"
    assert len(store.puts) == 1


def test_failed_flush_answers_flush_disk_timeout_with_full_header() -> None:
    response = run_send(FlushStore(flushed=False))
    assert response.code == ResponseCode.FLUSH_DISK_TIMEOUT
    for key in ("msgId", "queueId", "queueOffset", "MSG_REGION", "TRACE_ON"):
        assert key in response.ext_fields


class NoAppendStore(FlushStore):
    """Reports PUT_OK without saying where the message landed."""

    def put_message(self, msg: Any) -> PutMessageResult:
        self.puts.append(msg)
        return PutMessageResult(PutMessageStatus.PUT_OK)


def test_a_stored_status_without_append_result_is_an_error_not_a_crash() -> None:
    response = run_send(NoAppendStore(flushed=True))
    assert response.code == ResponseCode.SYSTEM_ERROR
    assert response.remark is not None and "UNKNOWN_ERROR" in response.remark


def test_a_failed_commit_log_fdatasync_makes_the_broker_answer_service_not_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_config = StoreConfig(
        store_path_root_dir=str(tmp_path / "store"),
        flush_disk_type="SYNC_FLUSH",
        mapped_file_size_commit_log=64 * 1024,
        sync_flush_timeout=30.0,
    )
    store = MessageStore(store_config)
    store.start()
    real = os.fdatasync

    def failing_fdatasync(fd: int) -> None:
        if any(m.fd == fd for m in store.commitlog.queue.files):
            raise OSError(errno.EIO, "injected I/O error")
        real(fd)

    try:
        ctx = BrokerContext(BrokerConfig(), store_config, store)
        processor = SendMessageProcessor(ctx)

        async def go() -> list[RemotingCommand]:
            first = await processor.process(send_request(), FakeConnection())  # type: ignore[arg-type]
            monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
            failed = await processor.process(send_request(), FakeConnection())  # type: ignore[arg-type]
            refused = await processor.process(send_request(), FakeConnection())  # type: ignore[arg-type]
            return [first, failed, refused]

        first, failed, refused = asyncio.run(asyncio.wait_for(go(), 10))
        assert first.code == ResponseCode.SUCCESS
        assert failed.code == ResponseCode.FLUSH_DISK_TIMEOUT  # stored, never made durable
        assert refused.code == ResponseCode.SERVICE_NOT_AVAILABLE
    finally:
        monkeypatch.undo()
        store.shutdown()
