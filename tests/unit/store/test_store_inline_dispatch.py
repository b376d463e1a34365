"""Inline dispatch (on the writer's thread) never creates a consume-queue or index file: records
that need one go to the dispatcher thread, in order, and become readable all the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import rmq_core.store.commitlog as commitlog_module
import rmq_core.store.dispatch as dispatch_module
import rmq_core.store.index as index_module
import rmq_core.store.mapped_file_queue as mapped_file_queue_module
from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_records
from rmq_core.store import MessageStore, StoreConfig
from rmq_core.store.mapped_file import MappedFile

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]


def _spy_file_creation(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record (path, thread name) of every consume-queue or index file created."""
    created: list[tuple[str, str]] = []

    def spy(path: str, file_size: int, file_from_offset: int, *, create: bool) -> MappedFile:
        if create:
            created.append((path, threading.current_thread().name))
        return MappedFile(path, file_size, file_from_offset, create=create)

    monkeypatch.setattr(mapped_file_queue_module, "MappedFile", spy)
    monkeypatch.setattr(index_module, "MappedFile", spy)
    return created


def _wait_dispatched(store: MessageStore) -> None:
    deadline = time.monotonic() + 10
    while store.dispatch_behind_bytes and time.monotonic() < deadline:
        time.sleep(0.005)
    assert store.dispatch_behind_bytes == 0


def test_inline_dispatch_never_creates_a_file(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=64 * 1024))
    created = _spy_file_creation(monkeypatch)
    writer = threading.current_thread().name
    sent: dict[tuple[str, int], list[bytes]] = {}
    for i in range(60):  # 3 topics x 2 queues, 10 messages each: every queue rolls a file
        topic, queue_id = f"T{i % 3}", i % 2
        body = f"m{i}".encode()
        props: dict[str, Any] = {"UNIQ_KEY": f"U{i}", "KEYS": f"k{i} shared"}
        result = store.put_message(make_message(body, topic=topic, queue_id=queue_id, **props))
        assert result.is_ok
        sent.setdefault((topic, queue_id), []).append(body)
    _wait_dispatched(store)
    assert created, "the dispatcher thread made the files"
    assert [path for path, thread in created if thread == writer] == []
    assert store.reput.handed_over > 0
    for (topic, queue_id), bodies in sent.items():
        got = store.get_message("g", topic, queue_id, 0, 32)
        records = decode_records(got.body())
        assert [m.body for m in records] == bodies
        assert [m.queue_offset for m in records] == list(range(len(bodies)))
    found = store.query_message("T2", "k59", 4, 0, 2**62)
    assert [m.body for m in decode_records(found.body())] == [b"m59"]


def test_records_not_needing_a_file_are_still_dispatched_inline(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=64 * 1024))
    assert store.put_message(make_message(b"first", UNIQ_KEY="U0")).is_ok
    _wait_dispatched(store)  # the thread made the queue's and the index's first files
    store.reput.shutdown()  # no thread any more: only inline dispatch can make it readable
    assert store.put_message(make_message(b"second", UNIQ_KEY="U1")).is_ok
    got = store.get_message("g", "T", 0, 1, 32)
    assert [m.body for m in decode_records(got.body())] == [b"second"]


def test_dispatcher_waits_long_only_while_nothing_is_behind(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    reput = store.reput
    assert store.put_message(make_message(b"one", UNIQ_KEY="U1")).is_ok
    _wait_dispatched(store)
    assert reput.wait_timeout() == dispatch_module.IDLE_WAIT > reput.interval
    with reput.lock:  # inline dispatch sees the lock held: the record stays behind
        assert store.put_message(make_message(b"two", UNIQ_KEY="U2")).is_ok
        assert store.dispatch_behind_bytes > 0
        assert reput.wait_timeout() == reput.interval
    _wait_dispatched(store)  # the writer woke the thread: dispatched without waiting 1 s
    assert reput.wait_timeout() == dispatch_module.IDLE_WAIT


def test_appends_past_the_description_bound_are_parsed_back(
    tiny_config: StoreConfig,
    open_store: Callable[[StoreConfig], MessageStore],
    make_message: Callable[..., MessageExtBrokerInner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the dispatcher lags, at most ``PENDING_DISPATCH_ENTRIES`` appends are described;
    the rest are parsed back from the log, and every message reads back and is indexed."""
    monkeypatch.setattr(commitlog_module, "PENDING_DISPATCH_ENTRIES", 8)
    store = open_store(tiny_config.replace(mapped_file_size_commit_log=256 * 1024))
    store.reput.shutdown()  # only the inline dispatches below, held off by the lock
    with store.reput.lock:
        for i in range(20):
            assert store.put_message(make_message(b"m%d" % i, KEYS=f"k{i}")).is_ok
        assert len(store.commitlog.pending_dispatch) == 8
    store.sync_dispatch()
    got = store.get_message("g", "T", 0, 0, 32)
    assert [m.body for m in decode_records(got.body())] == [b"m%d" % i for i in range(20)]
    del got
    assert len(store.query_message("T", "k19", 4, 0, 2**62).messages) == 1
