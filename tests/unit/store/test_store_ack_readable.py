"""SYNC_FLUSH acknowledgement and readability: ``AsyncFlushWaiter.wait`` answers True only once
the message is both flushed and dispatched (consume queue and index written), whichever thread
dispatches it; ``put_message`` dispatches inline unless the caller asks for deferral."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.store import MessageStore, StoreConfig

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]

_LONG = 10.0
"""Seconds a test waits at most for something that must happen (never reached when it works)."""


def _sync(config: StoreConfig) -> StoreConfig:
    return config.replace(flush_disk_type="SYNC_FLUSH", sync_flush_timeout=_LONG)


async def _until_flushed(store: MessageStore, end_offset: int) -> None:
    """Yield to the loop until the group commit covers ``end_offset`` and its release ran."""
    group = store.group_commit
    assert group is not None
    async with asyncio.timeout(_LONG):
        while group.flushed_offset < end_offset:
            await asyncio.sleep(0.005)
    for _ in range(3):
        await asyncio.sleep(0.005)  # the waiter's release (call_soon_threadsafe) has run


async def _ack_then_count(store: MessageStore, end_offset: int) -> tuple[bool, int]:
    """The waiter's answer for ``end_offset`` and the queue's max offset the moment it came."""
    waiter = store.flush_waiter(asyncio.get_running_loop())
    assert waiter is not None
    ok = await waiter.wait(end_offset)
    return ok, store.get_max_offset_in_queue("T", 0)


def test_no_acknowledgement_while_the_dispatcher_thread_holds_the_lock(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """The deferred pass finds the dispatch lock taken (it only wakes the thread): the answer
    waits until the message is dispatched, not just flushed."""
    store = open_store(_sync(tiny_config))
    assert store.put_message(make_message(b"first")).is_ok
    store.sync_dispatch()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.reput.lock:
            holding.set()
            release.wait(_LONG)

    async def main() -> tuple[bool, bool, int]:
        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait(_LONG)
        try:
            result = store.put_message(make_message(b"second"), flush_future=False,
                                       defer_dispatch=True)  # fmt: skip
            assert result.append_result is not None
            end = result.append_result.end_offset
            ack = asyncio.create_task(_ack_then_count(store, end))
            await _until_flushed(store, end)
            answered_while_held = ack.done()
        finally:
            release.set()
        holder.join()
        ok, readable = await asyncio.wait_for(ack, _LONG)
        return answered_while_held, ok, readable

    answered_while_held, ok, readable = asyncio.run(main())
    assert not answered_while_held
    assert ok and readable == 2


def test_no_acknowledgement_before_a_record_needing_a_new_queue_file_is_dispatched(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """The 9th unit needs a second 8-unit consume-queue file: inline dispatch leaves it to the
    dispatcher thread (held back here), and the answer waits for that thread's pass."""
    store = open_store(_sync(tiny_config))
    for i in range(8):
        assert store.put_message(make_message(b"m%d" % i)).is_ok
    store.sync_dispatch()
    parked, gate = threading.Event(), threading.Event()
    reput = store.reput
    original = reput.run_once

    def gated_run_once(now: float = 0.0) -> None:
        parked.set()
        gate.wait(_LONG)
        original(now)

    reput.run_once = gated_run_once  # type: ignore[method-assign]
    reput.wakeup()
    assert parked.wait(_LONG)  # the thread waits at the gate: it cannot be mid-pass below

    async def main() -> tuple[bool, bool, int]:
        result = store.put_message(make_message(b"ninth"), flush_future=False,
                                   defer_dispatch=True)  # fmt: skip
        assert result.append_result is not None
        end = result.append_result.end_offset
        ack = asyncio.create_task(_ack_then_count(store, end))
        try:
            await _until_flushed(store, end)
            answered_before_thread = ack.done()
        finally:
            gate.set()
        ok, readable = await asyncio.wait_for(ack, _LONG)
        return answered_before_thread, ok, readable

    try:
        answered_before_thread, ok, readable = asyncio.run(main())
    finally:
        gate.set()
        reput.run_once = original  # type: ignore[method-assign]
    assert reput.handed_over >= 1
    assert not answered_before_thread
    assert ok and readable == 9


def test_put_message_dispatches_inline_unless_asked_to_defer(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """A library caller on an event loop under SYNC_FLUSH with ``flush_future=False`` reads
    its message right after the put (the default is inline); deferral is opt-in."""
    store = open_store(_sync(tiny_config))
    store.reput.shutdown()  # no dispatcher thread: only the put itself can dispatch
    assert store.put_message(make_message(b"first")).is_ok
    store.sync_dispatch()

    async def main() -> tuple[int, int]:
        assert store.put_message(make_message(b"inline"), flush_future=False).is_ok
        after_default = store.get_max_offset_in_queue("T", 0)
        assert store.put_message(make_message(b"later"), flush_future=False,
                                 defer_dispatch=True).is_ok  # fmt: skip
        after_deferred = store.get_max_offset_in_queue("T", 0)
        await asyncio.sleep(0)
        return after_default, after_deferred

    assert asyncio.run(main()) == (2, 2)
    assert store.get_max_offset_in_queue("T", 0) == 3


def test_loops_on_several_threads_share_a_store(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """Two threads, each running its own loop, send deferred SYNC_FLUSH puts to one store:
    every acknowledged message is readable when its answer comes."""
    store = open_store(_sync(tiny_config).replace(mapped_file_size_commit_log=256 * 1024))
    sends = 60
    problems: list[str] = []

    async def writer(queue_id: int) -> None:
        waiter = store.flush_waiter(asyncio.get_running_loop())
        assert waiter is not None

        async def one(i: int) -> None:
            result = store.put_message(make_message(b"x", queue_id=queue_id),
                                       flush_future=False, defer_dispatch=True)  # fmt: skip
            append = result.append_result
            if append is None:
                problems.append(f"queue {queue_id} send {i}: {result.status.name}")
                return
            ok = await waiter.wait(append.end_offset)
            readable = store.get_max_offset_in_queue("T", queue_id)
            if not ok or readable <= append.queue_offset:
                problems.append(f"queue {queue_id} send {i}: ok={ok} readable={readable} "
                                f"offset={append.queue_offset}")  # fmt: skip

        for start in range(0, sends, 10):
            await asyncio.gather(*(one(i) for i in range(start, start + 10)))

    threads = [threading.Thread(target=asyncio.run, args=(writer(q),)) for q in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(_LONG * 3)
    assert problems == []
    assert [store.get_max_offset_in_queue("T", q) for q in (0, 1)] == [sends, sends]
