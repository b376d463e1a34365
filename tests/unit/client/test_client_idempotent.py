"""The idempotent-consumption helper: skips consumed ids, retries failures, bounded stores."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rmq_core.client.idempotent import (
    BeginResult,
    Idempotent,
    MemoryIdStore,
    SqliteIdStore,
    idempotent,
    message_key,
)
from rmq_core.client.results import ConsumeStatus
from rmq_core.common.message import MessageExt


def _msg(uniq: str | None, offset: int = 0) -> MessageExt:
    msg = MessageExt(topic="T", body=b"", store_host="127.0.0.1:10911", commitlog_offset=offset)
    msg.unique_key = uniq
    return msg


class Tick:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_message_key_prefers_the_client_id() -> None:
    assert message_key(_msg("ABC")) == "ABC"
    assert message_key(_msg(None, 4096)) == _msg(None, 4096).msg_id


def test_duplicates_are_skipped_and_failures_retried() -> None:
    seen: list[str] = []
    fail = {"B"}

    @idempotent
    def listener(msgs: list[MessageExt]) -> ConsumeStatus:
        seen.extend(m.unique_key or "" for m in msgs)
        if any(m.unique_key in fail for m in msgs):
            return ConsumeStatus.RECONSUME_LATER
        return ConsumeStatus.CONSUME_SUCCESS

    assert listener([_msg("A")]) == ConsumeStatus.CONSUME_SUCCESS
    assert listener([_msg("A")]) == ConsumeStatus.CONSUME_SUCCESS  # skipped
    assert listener([_msg("B")]) == ConsumeStatus.RECONSUME_LATER
    fail.clear()
    assert listener([_msg("A"), _msg("B")]) == ConsumeStatus.CONSUME_SUCCESS
    assert seen == ["A", "B", "B"]


def test_exceptions_forget_the_batch() -> None:
    calls = 0

    def boom(msgs: list[MessageExt]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("db down")

    wrapped = idempotent(boom, store=MemoryIdStore())
    with pytest.raises(RuntimeError):
        wrapped([_msg("X")])
    assert wrapped([_msg("X")]) is None
    assert wrapped([_msg("X")]) == ConsumeStatus.CONSUME_SUCCESS
    assert calls == 2


def test_a_delivery_in_progress_makes_the_duplicate_retry_later() -> None:
    store = MemoryIdStore()
    started, release = threading.Event(), threading.Event()
    helper = Idempotent(store)

    def slow(msgs: list[MessageExt]) -> None:
        started.set()
        release.wait(5)

    wrapped = helper.wrap(slow)
    worker = threading.Thread(target=wrapped, args=([_msg("S")],))
    worker.start()
    assert started.wait(5)
    assert wrapped([_msg("T"), _msg("S")]) == ConsumeStatus.RECONSUME_LATER
    assert store.begin("T") is BeginResult.STARTED  # T's mark was rolled back
    release.set()
    worker.join(5)
    assert store.begin("S") is BeginResult.CONSUMED


def test_async_listeners_stay_async() -> None:
    got: list[str] = []

    @idempotent(store=MemoryIdStore())
    async def listener(msgs: list[MessageExt]) -> bool:
        got.extend(m.unique_key or "" for m in msgs)
        return True

    async def scenario() -> None:
        assert await listener([_msg("A"), _msg("B")]) is True
        assert await listener([_msg("B"), _msg("C")]) is True

    asyncio.run(scenario())
    assert got == ["A", "B", "C"]


def test_memory_store_is_bounded_and_expires() -> None:
    tick = Tick()
    store = MemoryIdStore(3, ttl=10, consuming_timeout=5, clock=tick)
    for key in "ABCD":
        assert store.begin(key) is BeginResult.STARTED
        store.commit(key)
    assert len(store) == 3
    assert store.begin("A") is BeginResult.STARTED  # evicted, so new again
    assert store.begin("D") is BeginResult.CONSUMED
    tick.now += 11
    assert store.begin("D") is BeginResult.STARTED  # consumed mark expired
    assert store.begin("D") is BeginResult.CONSUMING
    tick.now += 6
    assert store.begin("D") is BeginResult.STARTED  # stale consuming mark
    with pytest.raises(ValueError):
        MemoryIdStore(0)


def test_sqlite_store_survives_reopening(tmp_path) -> None:
    path = str(tmp_path / "ids.db")
    tick = Tick()
    tick.now = 1000.0
    store = SqliteIdStore(path, ttl=100, consuming_timeout=5, purge_every=1, clock=tick)
    assert store.begin("A") is BeginResult.STARTED
    store.commit("A")
    assert store.begin("B") is BeginResult.STARTED
    store.abort("B")
    store.close()
    reopened = SqliteIdStore(path, ttl=100, consuming_timeout=5, clock=tick)
    assert reopened.begin("A") is BeginResult.CONSUMED
    assert reopened.begin("B") is BeginResult.STARTED
    assert reopened.begin("B") is BeginResult.CONSUMING
    tick.now += 101
    assert reopened.begin("A") is BeginResult.STARTED
    reopened.close()
