"""An in-process NameServer + broker running on its own loop in a background thread.

The Flask and Spring-style integrations are blocking (they use the client's background
loop), so the cluster cannot share the test's thread: ``cluster`` starts it in a thread,
yields a :class:`ThreadedCluster` and stops it afterwards (every wait bounded).
Delay levels are short (retries after 0 s), SQL92 filtering is on and the broker checks
unresolved transactions every 0.5 s, so retry, DLQ, selector and transaction-check
scenarios finish in seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from rmq_core.admin.sync import AdminClient
from tests.support.cluster import Cluster, start_cluster, stop_cluster

T = TypeVar("T")
DELAY_LEVELS = "1s 1s 0s 0s 0s 0s 0s 0s 0s 0s 0s 0s 0s 0s 0s 0s 0s 0s"
START_TIMEOUT = 30.0
FAST_CONSUMER = {"rebalance_interval": 0.5, "persist_consumer_offset_interval": 1.0}
"""Consumer options that make a consumer pick up a new topic's queues within a second."""

_NAMES = itertools.count(1)


@dataclass
class ThreadedCluster:
    """A running cluster and the loop it lives on."""

    cluster: Cluster
    loop: asyncio.AbstractEventLoop
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def namesrv(self) -> str:
        return self.cluster.namesrv_addr

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the cluster's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def max_offset(self, topic: str, queue_id: int = 0) -> int:
        """Messages dispatched to ``topic``/``queue_id`` (white-box, for DLQ checks)."""

        async def read() -> int:
            return self.cluster.broker.context.store.get_max_offset_in_queue(topic, queue_id)

        return self.call(read())

    def create_topic(self, topic: str, queues: int = 4) -> None:
        """Create ``topic`` on the broker and wait until the NameServer routes it."""
        with AdminClient(self.namesrv) as admin:
            admin.create_topic(topic, read_queue_nums=queues, write_queue_nums=queues)


def unique(prefix: str) -> str:
    """A topic/group name unique within the test session and process."""
    return f"{prefix}-{os.getpid()}-{next(_NAMES)}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedCluster]:
    store_dir: Path = tmp_path_factory.mktemp("flask-cluster")
    ready = threading.Event()
    holder: list[ThreadedCluster] = []
    errors: list[BaseException] = []

    async def serve() -> None:
        try:
            running = await start_cluster(
                store_dir,
                broker={
                    "messageDelayLevel": DELAY_LEVELS,
                    "enablePropertyFilter": "true",
                    "transactionCheckInterval": "500",
                    "transactionTimeOut": "500",
                },
                store={"message_delay_level": DELAY_LEVELS},
            )
        except BaseException as exc:
            errors.append(exc)
            ready.set()
            raise
        threaded = ThreadedCluster(running, asyncio.get_running_loop())
        holder.append(threaded)
        ready.set()
        try:
            while not threaded.stopped.is_set():
                await asyncio.sleep(0.05)
        finally:
            await stop_cluster(running)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="flask-test-cluster")
    thread.start()
    assert ready.wait(START_TIMEOUT), "cluster did not start"
    if errors:
        thread.join(START_TIMEOUT)
        raise errors[0]
    try:
        yield holder[0]
    finally:
        holder[0].stopped.set()
        thread.join(START_TIMEOUT)
        assert not thread.is_alive(), "cluster thread did not stop"


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """``wait_for(predicate, timeout=15, what="...")``: poll until true or fail."""
    import time

    def wait(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.02)

    return wait
