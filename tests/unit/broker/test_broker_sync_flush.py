"""SYNC_FLUSH sends wait on the store's flush waiter for the event loop (no per-message
future); a failed flush answers FLUSH_DISK_TIMEOUT (the message is stored, the header is
complete)."""

from __future__ import annotations

import asyncio
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


class FakeWaiter:
    """Answers ``flushed`` after ``delay`` seconds; records the offsets awaited."""

    def __init__(self, store: FlushStore) -> None:
        self.store = store

    async def wait(self, end_offset: int, timeout: float | None = None) -> bool:
        self.store.waited.append(end_offset)
        await asyncio.sleep(self.store.delay)
        return self.store.flushed


class FlushStore:
    """Accepts every put; its flush waiter answers ``flushed`` after ``delay`` seconds."""

    def __init__(self, flushed: bool, delay: float = 0.05) -> None:
        self.flushed = flushed
        self.delay = delay
        self.puts: list[Any] = []
        self.waited: list[int] = []
        self.waiters: list[asyncio.AbstractEventLoop] = []
        self.deferred: list[bool] = []

    def put_message(
        self, msg: Any, *, flush_future: bool = True, defer_dispatch: bool = False
    ) -> PutMessageResult:
        assert flush_future is False  # the broker awaits the loop's waiter instead
        self.puts.append(msg)
        self.deferred.append(defer_dispatch)
        append = AppendMessageResult(
            AppendMessageStatus.PUT_OK, 100, 120, "127.0.0.1:10911", 1, 7, 1
        )
        return PutMessageResult(PutMessageStatus.PUT_OK, append)

    def flush_waiter(self, loop: asyncio.AbstractEventLoop) -> FakeWaiter:
        self.waiters.append(loop)
        return FakeWaiter(self)


class FakeConnection:
    remote_address = "127.0.0.1:5555"
    closed = False


def send_request(wait: str = "true") -> RemotingCommand:
    header = SendMessageRequestHeaderV2(
        producer_group="P",
        topic="TBW102",
        default_topic="TBW102",
        default_topic_queue_nums=4,
        queue_id=0,
        sys_flag=0,
        born_timestamp=1,
        flag=0,
        properties=encode_properties({"WAIT": wait}),
    )
    return RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, header, b"body")


def run_send(store: FlushStore, wait: str = "true") -> RemotingCommand:
    ctx = BrokerContext(BrokerConfig(), StoreConfig(flush_disk_type="SYNC_FLUSH"), store)  # type: ignore[arg-type]
    processor = SendMessageProcessor(ctx)

    async def go() -> RemotingCommand:
        return await processor.process(send_request(wait), FakeConnection())  # type: ignore[arg-type]

    return asyncio.run(asyncio.wait_for(go(), 10))


def test_flushed_send_succeeds() -> None:
    store = FlushStore(flushed=True)
    response = run_send(store)
    assert response.code == ResponseCode.SUCCESS
    assert response.ext_fields["queueOffset"] == "7"
    assert len(store.puts) == 1
    assert store.waited == [220]  # the record's end offset (100 + 120)


def test_the_broker_asks_for_deferred_dispatch_only_when_it_awaits_the_flush() -> None:
    """Deferral is the broker's explicit choice (the store's default is inline): only a
    SYNC_FLUSH send that awaits the waiter (WAIT not false) asks for it."""
    awaiting = FlushStore(flushed=True)
    assert run_send(awaiting).code == ResponseCode.SUCCESS
    assert awaiting.deferred == [True] and awaiting.waited == [220]
    not_awaiting = FlushStore(flushed=True)
    assert run_send(not_awaiting, wait="false").code == ResponseCode.SUCCESS
    assert not_awaiting.deferred == [False] and not_awaiting.waited == []


def test_failed_flush_answers_flush_disk_timeout_with_full_header() -> None:
    response = run_send(FlushStore(flushed=False))
    assert response.code == ResponseCode.FLUSH_DISK_TIMEOUT
    for key in ("msgId", "queueId", "queueOffset", "MSG_REGION", "TRACE_ON"):
        assert key in response.ext_fields


class NoAppendStore(FlushStore):
    """Reports PUT_OK without saying where the message landed."""

    def put_message(
        self, msg: Any, *, flush_future: bool = True, defer_dispatch: bool = False
    ) -> PutMessageResult:
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


def _sends_in_two_loops(
    tmp_path: Path, flush_disk_type: str, sends: int
) -> tuple[list[list[int]], list[object]]:
    """Run ``sends`` concurrent one-message sends on each of two event loops against a real
    store; return the answer codes per loop and the loops the store was asked for a flush
    waiter on. Under SYNC_FLUSH every appended byte must be flushed by then."""
    store_config = StoreConfig(
        store_path_root_dir=str(tmp_path / "store"),
        flush_disk_type=flush_disk_type,
        mapped_file_size_commit_log=64 * 1024,
    )
    store = MessageStore(store_config)
    store.start()
    try:
        processor = SendMessageProcessor(BrokerContext(BrokerConfig(), store_config, store))
        asked: list[object] = []
        real_flush_waiter = store.flush_waiter

        def counting_flush_waiter(loop: asyncio.AbstractEventLoop) -> object:
            asked.append(loop)
            return real_flush_waiter(loop)

        store.flush_waiter = counting_flush_waiter  # type: ignore[method-assign,assignment]

        async def go() -> list[int]:
            answers = [processor.process(send_request(), FakeConnection()) for _ in range(sends)]  # type: ignore[arg-type]
            return [r.code for r in await asyncio.gather(*answers)]

        codes = [asyncio.run(asyncio.wait_for(go(), 10)) for _ in range(2)]
        last = store.commitlog.queue.last
        assert last is not None
        if flush_disk_type == "SYNC_FLUSH":
            assert last.flushed_position == last.wrote_position
    finally:
        store.shutdown()
    return codes, asked


def test_one_flush_waiter_per_event_loop_and_real_sync_flush_sends(tmp_path: Path) -> None:
    codes, asked = _sends_in_two_loops(tmp_path, "SYNC_FLUSH", 20)
    assert codes == [[ResponseCode.SUCCESS] * 20] * 2
    assert len(asked) == 2  # one waiter per loop, not one future per message


def test_an_async_flush_store_is_asked_for_a_waiter_once(tmp_path: Path) -> None:
    codes, asked = _sends_in_two_loops(tmp_path, "ASYNC_FLUSH", 5)
    assert codes == [[ResponseCode.SUCCESS] * 5] * 2
    assert len(asked) == 1  # None under ASYNC_FLUSH: not asked again, on any loop
