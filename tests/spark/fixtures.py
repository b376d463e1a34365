"""Session fixtures and helpers for the Spark tests (imported by conftest.py)."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from rmq_spark import register
from rmq_spark.queue_client import queue_client

from rmq_core.admin.sync import AdminClient
from rmq_core.client import Message, MessageExt, MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.sync import Producer
from tests.support.cluster import Cluster, start_cluster, stop_cluster

STARTUP_TIMEOUT = 30.0  # s
BROKER_CONF = {
    "enablePropertyFilter": "true",
    "transactionCheckInterval": "2000",  # ms: checks resolve stray halves quickly in tests
    "transactionTimeOut": "1000",
}


class BackgroundCluster:
    """A NameServer + broker on their own event loop in a daemon thread."""

    def __init__(self, store_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="rmq-test-cluster")
        self.thread.daemon = True
        self.thread.start()
        self.cluster: Cluster = self._run(start_cluster(store_dir, broker=BROKER_CONF))

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(STARTUP_TIMEOUT)

    @property
    def namesrv(self) -> str:
        return self.cluster.namesrv_addr

    def stop(self) -> None:
        try:
            self._run(stop_cluster(self.cluster))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(STARTUP_TIMEOUT)
            self.loop.close()


@pytest.fixture(scope="session")
def cluster() -> Iterator[BackgroundCluster]:
    store_dir = Path(tempfile.mkdtemp(prefix="rmq-spark-"))
    running = BackgroundCluster(store_dir)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(store_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def namesrv(cluster: BackgroundCluster) -> str:
    return cluster.namesrv


def _prefer_java_17() -> None:
    """Spark 4.3 runs on Java 17 or 21; when JAVA_HOME is unset and the machine has several
    JDKs (Debian keeps them under /usr/lib/jvm), pick 17 rather than whatever ``java`` is."""
    if os.environ.get("JAVA_HOME"):
        return
    candidates = sorted(glob.glob("/usr/lib/jvm/java-17-openjdk*"))
    if candidates:
        os.environ["JAVA_HOME"] = candidates[0]


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    _prefer_java_17()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("rmq-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.streaming.stopTimeout", "30s")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    register(session)
    try:
        yield session
    finally:
        session.stop()


# --- helpers ------------------------------------------------------------------------------


def unique_topic(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def create_topic(namesrv: str, topic: str, queues: int = 2) -> None:
    with AdminClient(namesrv) as admin:
        admin.create_topic(topic, read_queue_nums=queues, write_queue_nums=queues)


def produce(
    namesrv: str,
    topic: str,
    bodies: list[str],
    *,
    tags: str | None = None,
    properties: dict[str, str] | None = None,
    queue: MessageQueue | None = None,
) -> None:
    """Send ``bodies`` (keys ``k-<body>``) round-robin over the topic's queues."""
    with Producer(f"spark-test-{uuid.uuid4().hex[:8]}", namesrv) as producer:
        for body in bodies:
            msg = Message(topic, body.encode())
            msg.keys = f"k-{body}"
            if tags:
                msg.tags = tags
            for name, value in (properties or {}).items():
                msg.put_user_property(name, value)
            producer.send(msg, queue)


def read_topic(namesrv: str, topic: str) -> list[MessageExt]:
    """Every visible message of ``topic`` (all queues, offset order per queue)."""
    client = queue_client(namesrv, 3.0)
    messages: list[MessageExt] = []
    for mq in client.queues(topic):
        end = client.max_offset(mq)
        messages.extend(
            client.read_range(
                mq,
                client.min_offset(mq),
                end,
                selector=MessageSelector.by_tag("*"),
                group="spark-test-reader",
                batch_size=32,
            )
        )
    return messages


def settled_topic(
    namesrv: str, topic: str, expected: int, timeout: float = 20.0
) -> list[MessageExt]:
    """The messages of ``topic`` once at least ``expected`` are visible (committed messages
    reach the consume queues asynchronously), read again after a pause so that duplicates
    arriving late would be counted too."""
    deadline = time.monotonic() + timeout
    while len(read_topic(namesrv, topic)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    return read_topic(namesrv, topic)


def broker_name(namesrv: str, topic: str) -> str:
    """The name of the (single) broker hosting ``topic``."""
    return queue_client(namesrv, 3.0).queues(topic)[0].broker_name


def bodies(messages: list[MessageExt]) -> list[str]:
    return sorted(m.body.decode() for m in messages)
