"""Fixtures for the kafka shim tests: an in-process rmq cluster in a thread, and backends.

The kafka shim is a blocking API, so the NameServer and broker run on their own event loop in
a background thread (:class:`ThreadCluster`), started once per module. Tests name their topics
uniquely, so they share the cluster.

``backend`` runs a test once against the shim (``rmq``) and, only when ``KAFKA_BOOTSTRAP`` is
set to the address of a real Kafka broker, once more against real kafka-python. No Kafka
broker exists in this project's environment, so by default only the shim runs.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rmq_core.admin import AdminClient
from rmq_core.broker.controller import BrokerController
from tests.support.cluster import Cluster, make_configs, start_cluster, stop_cluster

KAFKA_ENV = "KAFKA_BOOTSTRAP"
START_TIMEOUT = 30.0  # s


class ThreadCluster:
    """A NameServer + broker(s) running on an event loop in a daemon thread.

    ``extra_brokers`` more brokers (``broker-b``, ``broker-c``...) join the same NameServer.
    """

    def __init__(
        self, store_dir: Path, broker: Mapping[str, str] | None = None, extra_brokers: int = 0
    ) -> None:
        self._store_dir = store_dir
        self._broker = dict(broker or {})
        self._extra = extra_brokers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.cluster: Cluster | None = None
        self.extra: list[BrokerController] = []
        self._broker_stopped = False

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(START_TIMEOUT)

    def start(self) -> ThreadCluster:
        self._thread.start()
        self.cluster = self._run(start_cluster(self._store_dir / "a", broker=self._broker))
        for i in range(self._extra):
            name = f"broker-{chr(ord('b') + i)}"
            props = {**self._broker, "brokerName": name}
            configs = make_configs(self._store_dir / name, self.namesrv, props)
            controller = BrokerController(*configs)
            self._run(controller.start())
            self.extra.append(controller)
        if self._extra:
            self._run(self._wait_brokers(1 + self._extra))
        return self

    async def _wait_brokers(self, count: int) -> None:
        async with AdminClient(self.namesrv) as admin:
            deadline = asyncio.get_running_loop().time() + START_TIMEOUT
            while len((await admin.cluster_info()).brokers) < count:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{count} brokers did not register")
                await asyncio.sleep(0.02)

    def stop_broker(self) -> None:
        """Stop the first broker only (the NameServer stays up)."""
        assert self.cluster is not None and not self._broker_stopped
        self._broker_stopped = True
        self._run(self.cluster.broker.shutdown())

    def stop(self) -> None:
        try:
            for controller in reversed(self.extra):
                self._run(controller.shutdown())
            if self.cluster is not None and self._broker_stopped:
                self._run(self.cluster.namesrv.shutdown())
            elif self.cluster is not None:
                self._run(stop_cluster(self.cluster))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)
            self._loop.close()

    @property
    def namesrv(self) -> str:
        assert self.cluster is not None
        return self.cluster.namesrv_addr


@pytest.fixture(scope="module")
def rmq_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadCluster]:
    """A cluster whose broker creates topics on first send (RocketMQ's default)."""
    cluster = ThreadCluster(tmp_path_factory.mktemp("kafka-shim")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def two_broker_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadCluster]:
    """Two brokers (``broker-a``, ``broker-b``) behind one NameServer."""
    cluster = ThreadCluster(tmp_path_factory.mktemp("kafka-two"), extra_brokers=1).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def strict_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadCluster]:
    """A cluster whose broker never creates topics on its own."""
    cluster = ThreadCluster(
        tmp_path_factory.mktemp("kafka-strict"), broker={"autoCreateTopicEnable": "false"}
    ).start()
    try:
        yield cluster
    finally:
        cluster.stop()


_names = itertools.count()


def unique(prefix: str) -> str:
    """A topic/group name no other test uses (dots included, as Kafka names often have)."""
    return f"{prefix}.{next(_names)}-{uuid.uuid4().hex[:6]}"


@dataclass
class Backend:
    """One implementation of kafka-python's API and where its servers are."""

    name: str
    bootstrap: str
    module: types.ModuleType  # has KafkaProducer, KafkaConsumer, KafkaAdminClient, ...
    errors: types.ModuleType
    admin_module: types.ModuleType  # has NewTopic

    def producer(self, **configs: Any) -> Any:
        return self.module.KafkaProducer(bootstrap_servers=self.bootstrap, **configs)

    def consumer(self, *topics: str, **configs: Any) -> Any:
        return self.module.KafkaConsumer(*topics, bootstrap_servers=self.bootstrap, **configs)

    def admin(self) -> Any:
        return self.module.KafkaAdminClient(bootstrap_servers=self.bootstrap)

    def create_topic(self, name: str, partitions: int) -> None:
        admin = self.admin()
        try:
            admin.create_topics([self.admin_module.NewTopic(name, partitions, 1)])
        finally:
            admin.close()


def _backend_params() -> list[str]:
    return ["rmq", "kafka"] if os.environ.get(KAFKA_ENV) else ["rmq"]


@pytest.fixture(params=_backend_params())
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "kafka":
        import kafka
        import kafka.admin
        import kafka.errors

        return Backend("kafka", os.environ[KAFKA_ENV], kafka, kafka.errors, kafka.admin)
    import rmq_integrations.kafka as shim
    import rmq_integrations.kafka.admin as shim_admin
    import rmq_integrations.kafka.errors as shim_errors

    cluster: ThreadCluster = request.getfixturevalue("rmq_cluster")
    return Backend("rmq", cluster.namesrv, shim, shim_errors, shim_admin)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` every 50 ms until truthy; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
