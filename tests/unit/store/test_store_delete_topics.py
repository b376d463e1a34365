"""Deleting a topic's consume queues while other threads still use them: nothing they hold is
closed under them, the name is free at once, the files go on a later cleanup pass."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_records
from rmq_core.store import MessageStore, StoreConfig

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]


def _queue_files_on_disk(root: str) -> set[str]:
    found = set()
    for directory, _dirs, names in os.walk(root):
        if os.path.relpath(directory, root).startswith("consumequeue"):
            found.update(os.path.join(directory, name) for name in names)
    return found


def _live_queue_files(store: MessageStore) -> set[str]:
    return {
        m.path for q in store.consume_queues.values() for cq in q.values() for m in cq.queue.files
    }


def test_queue_in_use_is_not_closed_under_its_user(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config)
    store.cleanup.shutdown()  # its pending-delete pass runs below, when the test says so
    for i in range(3):
        store.put_message(make_message(f"g{i}".encode(), topic="Gone"))
    store.sync_dispatch()
    cq = store._find_queue("Gone", 0)  # what a dispatcher or flusher looked up a moment ago
    assert cq is not None
    old_files = [m.path for m in cq.queue.files]
    assert store.delete_topics({"Gone"}) == 1
    assert store.get_max_offset_in_queue("Gone", 0) == 0
    assert not os.path.exists(os.path.join(tiny_config.consume_queue_dir, "Gone"))
    assert cq.put(10_000, 100, 0, 3)  # still writable: nothing was closed under it
    cq.flush()
    assert all(not os.path.exists(p) for p in old_files)  # moved aside, the path is free
    assert store.put_message(make_message(b"new", topic="Gone")).is_ok
    store.sync_dispatch()
    got = store.get_message("g", "Gone", 0, 0, 32)
    assert [m.body for m in decode_records(got.body())] == [b"new"]
    del got
    store.cleanup.run_once(time.time())  # the cleanup thread's pending-delete pass
    assert _queue_files_on_disk(tiny_config.store_path_root_dir) == _live_queue_files(store)
    assert cq.queue.files == []


def test_delete_topic_while_another_thread_writes_to_it(
    tiny_config: StoreConfig,
    open_store: OpenStore,
    make_message: MakeMessage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = tiny_config.replace(
        mapped_file_size_commit_log=256 * 1024, clean_resource_interval=0.01
    )
    store = open_store(config)
    stop = threading.Event()
    kept: list[bytes] = []
    stopped: list[str] = []  # why the writer stopped, reported by the assertions below

    def write_until_stopped() -> str:
        for i in range(20_000):
            if stop.is_set():
                return "told to stop"
            gone = store.put_message(make_message(f"g{i}".encode(), topic="Gone"))
            if not gone.is_ok:
                return f"put #{i} to Gone answered {gone.status.name}"
            body = f"k{i}".encode()
            put = store.put_message(make_message(body, topic="Kept"))
            if not put.is_ok:
                return f"put #{i} to Kept answered {put.status.name}"
            kept.append(body)
            time.sleep(0.0001)
        return "wrote 20,000 pairs before being told to stop"

    def writer() -> None:
        try:
            stopped.append(write_until_stopped())
        except Exception as exc:  # reported by the assertions, not lost with the thread
            stopped.append(f"raised {exc!r}")

    caplog.set_level(logging.ERROR, logger="rmq_core.store")
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        deletions = 0
        while deletions < 8 and time.monotonic() < deadline and thread.is_alive():
            deletions += store.delete_topics({"Gone"})
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(10)
    why = f"writer stopped: {stopped or ['still running']}, after {len(kept)} pairs"
    assert deletions == 8, why
    assert stopped == ["told to stop"], why
    store.sync_dispatch()
    store.flush()
    assert [r.getMessage() for r in caplog.records] == [], why
    got = store.get_message("g", "Kept", 0, 0, len(kept) + 1, max_total_bytes=1 << 30)
    assert [m.body for m in decode_records(got.body())] == kept
    del got
    for offset in range(
        store.get_min_offset_in_queue("Gone", 0), store.get_max_offset_in_queue("Gone", 0)
    ):
        got = store.get_message("g", "Gone", 0, offset, 1)
        assert all(m.topic == "Gone" for m in decode_records(got.body()))
        del got
    store.cleanup.shutdown()
    store.cleanup.run_once(time.time())
    assert _queue_files_on_disk(config.store_path_root_dir) == _live_queue_files(store)
    store.shutdown()
    reopened = open_store(config)
    got = reopened.get_message("g", "Kept", 0, 0, len(kept) + 1, max_total_bytes=1 << 30)
    assert [m.body for m in decode_records(got.body())] == kept
    del got
    low, high = (
        reopened.get_min_offset_in_queue("Gone", 0),
        reopened.get_max_offset_in_queue("Gone", 0),
    )
    got = reopened.get_message("g", "Gone", 0, low, high - low + 1, max_total_bytes=1 << 30)
    assert all(m.topic == "Gone" for m in decode_records(got.body()))
    del got
