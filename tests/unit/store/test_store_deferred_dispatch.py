"""Deferred, coalesced dispatch: ``put_message(msg, defer_dispatch=True)`` on an event loop makes
its message readable in one dispatch pass per loop iteration, writing the same consume-queue
units and index entries as dispatching each append inline."""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from typing import Any

import pytest

import rmq_core.store.commitlog as commitlog_module
from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import java_string_hash
from rmq_core.store import MessageStore, StoreConfig
from rmq_core.store.commitlog import SCHEDULE_TOPIC, PendingDispatch
from rmq_core.store.dispatch import MAX_COALESCED, coalesced
from tests.support.store_fixtures import FROZEN_STORE_NS, dispatched_files, roomy_config

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]
Arrival = tuple[str, int, int, int, bool]


def _listen(store: MessageStore) -> list[Arrival]:
    arrivals: list[Arrival] = []

    def listener(topic: str, queue_id: int, offset: int, code: int, _ts: int, props: Any) -> None:
        arrivals.append((topic, queue_id, offset, code, props is not None))

    store.add_arrival_listener(listener)
    return arrivals


def _messages(make_message: MakeMessage) -> list[MessageExtBrokerInner]:
    """10 to queue 0, 6 alternating between queues 0 and 1, 4 to queue 1."""
    queues = [0] * 10 + [0, 1] * 3 + [1] * 4
    return [make_message(f"m{i}".encode(), queue_id=q, TAGS=f"t{i % 2}", UNIQ_KEY=f"U{i:08d}",
                         KEYS=f"k{i} shared") for i, q in enumerate(queues)]  # fmt: skip


def _store_all(store: MessageStore, make_message: MakeMessage, defer: bool) -> None:
    store.reput.shutdown()  # no dispatcher thread: every dispatch below is inline, as chosen
    for queue_id in (0, 1):  # the files exist first: inline dispatch never creates one
        first = make_message(b"first", queue_id=queue_id, UNIQ_KEY=f"F{queue_id}")
        assert store.put_message(first).is_ok
    store.sync_dispatch()

    async def put_all() -> None:
        for msg in _messages(make_message):
            assert store.put_message(msg, defer_dispatch=defer).is_ok
        await asyncio.sleep(0)

    asyncio.run(put_all())
    assert store.dispatch_behind_bytes == 0


def test_deferred_dispatch_writes_the_same_units_and_index_entries(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commitlog_module.time, "time_ns", lambda: FROZEN_STORE_NS)
    inline = open_store(roomy_config(tiny_config, "-a"))
    deferred = open_store(roomy_config(tiny_config, "-b"))
    inline_arrivals, deferred_arrivals = _listen(inline), _listen(deferred)
    _store_all(inline, make_message, defer=False)
    _store_all(deferred, make_message, defer=True)
    inline.flush()
    deferred.flush()
    expected = dispatched_files(inline.root)
    assert expected and dispatched_files(deferred.root) == expected
    for queue_id, count in ((0, 14), (1, 8)):
        assert deferred.get_max_offset_in_queue("T", queue_id) == count
    assert len(inline_arrivals) == 22 and all(a[4] for a in inline_arrivals)
    # one call per distinct tags code of a coalesced run (properties None), single appends
    # as before: runs q0 x 11, q1, q0, q1, q0, q1 x 5
    c0, c1 = java_string_hash("t0"), java_string_hash("t1")
    assert deferred_arrivals[2:] == [
        ("T", 0, 12, c0, False), ("T", 0, 12, c1, False), ("T", 1, 2, c1, True),
        ("T", 0, 13, c0, True), ("T", 1, 3, c1, True), ("T", 0, 14, c0, True),
        ("T", 1, 8, c1, False), ("T", 1, 8, c0, False),
    ]  # fmt: skip


def test_deferred_dispatch_runs_before_later_callbacks(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """A callback scheduled after the put (as a flush waiter's release is) finds the message
    readable."""
    store = _one_dispatched_no_dispatcher(tiny_config, open_store, make_message)

    async def put_then_look() -> int:
        loop = asyncio.get_running_loop()
        assert store.put_message(make_message(b"second"), defer_dispatch=True).is_ok
        seen: asyncio.Future[int] = loop.create_future()
        loop.call_soon(lambda: seen.set_result(store.get_max_offset_in_queue("T", 0)))
        return await seen

    assert asyncio.run(put_then_look()) == 2


def _one_dispatched_no_dispatcher(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> MessageStore:
    """A store holding one dispatched message whose dispatcher thread is stopped, so only an
    inline or deferred pass on the caller's side makes a later put readable."""
    store = open_store(roomy_config(tiny_config))
    store.reput.shutdown()
    assert store.put_message(make_message(b"first")).is_ok
    store.sync_dispatch()
    return store


def test_a_closed_loops_deferred_dispatch_is_replaced(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = _one_dispatched_no_dispatcher(tiny_config, open_store, make_message)
    closed = asyncio.new_event_loop()
    closed.close()
    # as if a loop closed on this thread before running its dispatch
    store._dispatch_pending = (closed, threading.get_ident())

    async def put() -> None:
        assert store.put_message(make_message(b"second"), defer_dispatch=True).is_ok
        await asyncio.sleep(0)

    asyncio.run(put())
    assert store.get_max_offset_in_queue("T", 0) == 2 and store._dispatch_pending is None


def test_another_loops_pending_dispatch_does_not_hold_this_loops_back(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    """A loop that is alive but not running, with a deferred dispatch still pending, does not
    keep a put on the running loop from scheduling its own."""
    store = _one_dispatched_no_dispatcher(tiny_config, open_store, make_message)
    idle = asyncio.new_event_loop()
    try:
        # as if ``idle`` had scheduled a pass on this thread it has not run yet
        store._dispatch_pending = (idle, threading.get_ident())

        async def put_then_look() -> int:
            assert store.put_message(make_message(b"second"), defer_dispatch=True).is_ok
            await asyncio.sleep(0)
            return store.get_max_offset_in_queue("T", 0)

        assert asyncio.run(put_then_look()) == 2
    finally:
        idle.close()


def test_deferred_dispatch_without_a_running_loop_dispatches_at_once(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = _one_dispatched_no_dispatcher(tiny_config, open_store, make_message)
    assert store.put_message(make_message(b"second"), defer_dispatch=True).is_ok
    assert store.get_max_offset_in_queue("T", 0) == 2 and store._dispatch_pending is None


def _entry(phys: int, queue_offset: int, *, size: int = 100, topic: str = "T", queue_id: int = 0,
           sys_flag: int = 0, ts: int = 5) -> PendingDispatch:  # fmt: skip
    return (phys, size, topic, queue_id, queue_offset, sys_flag, ts, [size], [b"p%d" % phys])


def test_coalesced_joins_only_appends_that_continue_the_head() -> None:
    pending = collections.deque(
        [_entry(0, 7), _entry(100, 8), _entry(200, 9), _entry(300, 10, ts=6)]
    )
    joined, count = coalesced(pending, pending[0])
    assert count == 3
    assert joined == (0, 300, "T", 0, 7, 0, 5, [100, 100, 100], [b"p0", b"p100", b"p200"])
    assert pending[0] == _entry(0, 7)  # the entries themselves are left as they were
    for breaker in (_entry(101, 8), _entry(100, 9), _entry(100, 8, queue_id=1),
                    _entry(100, 8, topic="U"), _entry(100, 8, sys_flag=8)):  # fmt: skip
        assert coalesced(collections.deque([_entry(0, 7), breaker]), _entry(0, 7))[1] == 1
    prepared = collections.deque([_entry(0, 0, sys_flag=4), _entry(100, 0, sys_flag=4)])
    assert coalesced(prepared, prepared[0])[1] == 2
    schedule = collections.deque([_entry(0, 0, topic=SCHEDULE_TOPIC),
                                  _entry(100, 1, topic=SCHEDULE_TOPIC)])  # fmt: skip
    assert coalesced(schedule, schedule[0]) == (schedule[0], 1)
    many = collections.deque(_entry(i * 100, i) for i in range(MAX_COALESCED + 5))
    assert coalesced(many, many[0])[1] == MAX_COALESCED
