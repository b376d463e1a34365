"""Group commit (SYNC_FLUSH): acknowledgements follow what fdatasync really covered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.store import MessageStore, PutMessageResult, StoreConfig
from rmq_core.store.flush import AsyncFlushWaiter, GroupCommitService

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]


def _quiet_async_store(config: StoreConfig, open_store: OpenStore) -> MessageStore:
    """An ASYNC_FLUSH store whose own flusher stays idle during a test, so a hand-driven
    :class:`GroupCommitService` over its commit log is the only thing that syncs."""
    return open_store(config.replace(flush_interval=60.0, flush_commit_log_thorough_interval=3600))


def _end(result: PutMessageResult) -> int:
    assert result.append_result is not None
    return result.append_result.end_offset


def test_append_synced_by_a_pass_it_raced_with_is_acknowledged(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _quiet_async_store(tiny_config, open_store)
    group = GroupCommitService(store.commitlog, store.checkpoint, timeout=0.5)
    queue = store.commitlog.queue
    real_flush = queue.flush
    raced: list[PutMessageResult] = []

    def flush_with_concurrent_append() -> bool:
        raced.append(store.put_message(make_message(b"b")))  # a writer appends mid-pass
        return real_flush()

    async def scenario() -> bool:
        waiter = AsyncFlushWaiter(group, asyncio.get_running_loop())
        store.put_message(make_message(b"a"))
        monkeypatch.setattr(queue, "flush", flush_with_concurrent_append)
        group.run_once()  # its fdatasync covers "b" too
        monkeypatch.setattr(queue, "flush", real_flush)
        end = _end(raced[0])
        assert queue.flushed_offset >= end
        pending = asyncio.ensure_future(waiter.wait(end))
        await asyncio.sleep(0.01)
        group.run_once()  # nothing dirty any more: must still acknowledge "b"
        return await asyncio.wait_for(pending, 5)

    assert asyncio.run(scenario()) is True
