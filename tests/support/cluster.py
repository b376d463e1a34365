"""An in-process NameServer + broker on ``127.0.0.1:0`` for tests (one event loop).

Usage (inside a coroutine; every test owns its loop, e.g. ``asyncio.run``)::

    from tests.support.cluster import running_cluster

    async with running_cluster(tmp_path) as cluster:
        cluster.namesrv_addr      # "127.0.0.1:<port>"  -> give this to clients
        cluster.broker_addr       # "127.0.0.1:<port>"
        cluster.broker.context    # BrokerContext (store, managers) for white-box checks

``start_cluster``/``stop_cluster`` are the same without the context manager. Broker keys can
be overridden with ``broker={"autoCreateTopicEnable": "false"}`` (broker.conf names) or
``broker_fields={"auto_create_topic_enable": False}`` (BrokerConfig field names), and store
settings with ``store={"flush_disk_type": "SYNC_FLUSH"}`` (StoreConfig field names). Files are
small (8 MiB commit-log segments, 1,000-unit consume-queue files) and live under
``store_dir``. ``brokers=2`` starts ``broker-a`` and ``broker-b`` (each in
``store_dir/<name>``); ``await cluster.add_broker("broker-c")`` adds one later, and
``cluster.brokers`` lists them all (``cluster.broker`` is the first). Every broker has
registered with the NameServer before the call that started it returns, so routes are
available at once; ``stop_cluster`` stops every broker, then the NameServer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.controller import BrokerController
from rmq_core.namesrv.config import NamesrvConfig
from rmq_core.namesrv.controller import NamesrvController
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import GetRouteInfoRequestHeader
from rmq_core.store.config import StoreConfig

__all__ = [
    "Cluster",
    "make_configs",
    "running_cluster",
    "start_cluster",
    "stop_cluster",
    "wait_max_offset",
    "wait_route",
]

TEST_COMMIT_LOG_FILE_SIZE = 8 * 1024 * 1024
TEST_CONSUME_QUEUE_FILE_SIZE = 1000 * 20
REGISTRATION_TIMEOUT = 10.0


@dataclass
class Cluster:
    """A running NameServer and its brokers (``broker`` is the first one)."""

    namesrv: NamesrvController
    broker: BrokerController
    store_dir: Path
    extra_brokers: list[BrokerController] = field(default_factory=list)

    @property
    def brokers(self) -> list[BrokerController]:
        """Every broker, the first one first."""
        return [self.broker, *self.extra_brokers]

    async def add_broker(
        self,
        name: str,
        *,
        broker: Mapping[str, str] | None = None,
        broker_fields: Mapping[str, Any] | None = None,
        store: Mapping[str, Any] | None = None,
    ) -> BrokerController:
        """Start broker ``name`` (files in ``store_dir/<name>``), registered on return."""
        controller = await _start_broker(
            self.store_dir / name,
            self.namesrv_addr,
            broker,
            {**dict(broker_fields or {}), "broker_name": name},
            store,
        )
        self.extra_brokers.append(controller)
        return controller

    @property
    def namesrv_addr(self) -> str:
        """``127.0.0.1:<port>`` of the NameServer."""
        return self.namesrv.address

    @property
    def broker_addr(self) -> str:
        """``127.0.0.1:<port>`` of the broker's main port."""
        return self.broker.address


def make_configs(
    store_dir: Path,
    namesrv_addr: str = "",
    broker: Mapping[str, str] | None = None,
    store: Mapping[str, Any] | None = None,
    broker_fields: Mapping[str, Any] | None = None,
) -> tuple[BrokerConfig, StoreConfig]:
    """Broker and store configs for a test broker on port 0 with small files.

    ``broker_fields`` (BrokerConfig field names) apply first, ``broker`` (broker.conf keys)
    after them.
    """
    fields = {"listen_port": 0, "namesrv_addr": namesrv_addr, **dict(broker_fields or {})}
    broker_config = BrokerConfig(**fields).with_properties(dict(broker or {}))
    store_config = StoreConfig(
        store_path_root_dir=str(store_dir),
        mapped_file_size_commit_log=TEST_COMMIT_LOG_FILE_SIZE,
        mapped_file_size_consume_queue=TEST_CONSUME_QUEUE_FILE_SIZE,
    ).replace(**dict(store or {}))
    return broker_config, store_config


async def start_cluster(
    store_dir: Path,
    *,
    broker: Mapping[str, str] | None = None,
    store: Mapping[str, Any] | None = None,
    broker_fields: Mapping[str, Any] | None = None,
    brokers: int = 1,
) -> Cluster:
    """Start a NameServer and ``brokers`` brokers registered with it (127.0.0.1, port 0).

    One broker keeps its files in ``store_dir`` itself; with more, broker ``broker-a``,
    ``broker-b``... each use ``store_dir/<name>``. The options apply to every broker.
    """
    if brokers < 1:
        raise ValueError("a cluster needs at least one broker")
    namesrv = NamesrvController(NamesrvConfig(host="127.0.0.1", port=0))
    await namesrv.start()
    names = [f"broker-{chr(ord('a') + i)}" for i in range(brokers)]
    first_fields = dict(broker_fields or {})
    if brokers > 1:
        first_fields["broker_name"] = names[0]
    try:
        first_dir = store_dir if brokers == 1 else store_dir / names[0]
        controller = await _start_broker(first_dir, namesrv.address, broker, first_fields, store)
    except BaseException:
        await namesrv.shutdown()
        raise
    cluster = Cluster(namesrv, controller, store_dir)
    try:
        for name in names[1:]:
            await cluster.add_broker(name, broker=broker, broker_fields=broker_fields, store=store)
    except BaseException:
        await stop_cluster(cluster)
        raise
    return cluster


async def _start_broker(
    store_dir: Path,
    namesrv_addr: str,
    broker: Mapping[str, str] | None,
    broker_fields: Mapping[str, Any] | None,
    store: Mapping[str, Any] | None,
) -> BrokerController:
    """Start one broker and wait for its registration; a failed start leaves nothing running."""
    broker_config, store_config = make_configs(
        store_dir, namesrv_addr, broker, store, broker_fields
    )
    controller = BrokerController(broker_config, store_config)
    await controller.start()
    try:
        await _wait_registered(controller)
    except BaseException:
        await controller.shutdown()
        raise
    return controller


async def _wait_registered(controller: BrokerController) -> None:
    registrar = controller.registrar
    assert registrar is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REGISTRATION_TIMEOUT
    while registrar.registrations == 0:
        if loop.time() > deadline:
            raise TimeoutError("the broker did not register with the NameServer")
        await asyncio.sleep(0.01)


async def stop_cluster(cluster: Cluster) -> None:
    """Stop the added brokers (newest first), the first broker, then the NameServer."""
    async with contextlib.AsyncExitStack() as stack:  # unwinds newest first, even on errors
        stack.push_async_callback(cluster.namesrv.shutdown)
        stack.push_async_callback(cluster.broker.shutdown)
        for extra in cluster.extra_brokers:
            stack.push_async_callback(extra.shutdown)


async def wait_max_offset(
    cluster: Cluster, topic: str, queue_id: int, at_least: int, timeout: float = 5.0
) -> int:
    """Wait until ``topic``/``queue_id`` holds ``at_least`` dispatched messages (the store
    dispatches appends to consume queues on a background thread); returns the max offset."""
    store = cluster.broker.context.store
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (current := store.get_max_offset_in_queue(topic, queue_id)) < at_least:
        if loop.time() > deadline:
            raise TimeoutError(f"{topic}-{queue_id} reached {current}, not {at_least}")
        await asyncio.sleep(0.005)
    return current


async def wait_route(cluster: Cluster, topic: str, timeout: float = 5.0) -> dict[str, Any]:
    """Wait until the NameServer answers a route for ``topic``; returns the route JSON."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with RemotingClient(name="route-probe") as client:
        while True:
            request = RemotingCommand.request(
                RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader(topic=topic)
            )
            response = await client.invoke(cluster.namesrv_addr, request, timeout)
            if response.code == ResponseCode.SUCCESS:
                route: dict[str, Any] = json.loads(response.body)
                return route
            if loop.time() > deadline:
                raise TimeoutError(f"no route for {topic}: {response.code} {response.remark}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_cluster(
    store_dir: Path,
    *,
    broker: Mapping[str, str] | None = None,
    store: Mapping[str, Any] | None = None,
    broker_fields: Mapping[str, Any] | None = None,
    brokers: int = 1,
) -> AsyncIterator[Cluster]:
    """``async with running_cluster(tmp_path) as cluster:`` — started and always stopped."""
    cluster = await start_cluster(
        store_dir, broker=broker, store=store, broker_fields=broker_fields, brokers=brokers
    )
    try:
        yield cluster
    finally:
        await stop_cluster(cluster)
