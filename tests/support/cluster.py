"""An in-process NameServer + broker on ``127.0.0.1:0`` for tests (one event loop).

Usage (inside a coroutine; every test owns its loop, e.g. ``asyncio.run``)::

    from tests.support.cluster import running_cluster

    async with running_cluster(tmp_path) as cluster:
        cluster.namesrv_addr      # "127.0.0.1:<port>"  -> give this to clients
        cluster.broker_addr       # "127.0.0.1:<port>"
        cluster.broker.context    # BrokerContext (store, managers) for white-box checks

``start_cluster``/``stop_cluster`` are the same without the context manager. Broker keys can
be overridden with ``broker={"autoCreateTopicEnable": "false"}`` (broker.conf names) and store
settings with ``store={"flush_disk_type": "SYNC_FLUSH"}`` (StoreConfig field names). Files are
small (1 MiB commit-log segments) and live under ``store_dir``. The broker registers with the
NameServer before ``start_cluster`` returns, so routes are available at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
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
    """A running NameServer and broker."""

    namesrv: NamesrvController
    broker: BrokerController
    store_dir: Path

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
) -> tuple[BrokerConfig, StoreConfig]:
    """Broker and store configs for a test broker on port 0 with small files."""
    broker_config = BrokerConfig(listen_port=0, namesrv_addr=namesrv_addr).with_properties(
        dict(broker or {})
    )
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
) -> Cluster:
    """Start a NameServer and a broker registered with it (both on 127.0.0.1, port 0)."""
    namesrv = NamesrvController(NamesrvConfig(host="127.0.0.1", port=0))
    await namesrv.start()
    try:
        broker_config, store_config = make_configs(store_dir, namesrv.address, broker, store)
        controller = BrokerController(broker_config, store_config)
        await controller.start()
    except BaseException:
        await namesrv.shutdown()
        raise
    cluster = Cluster(namesrv, controller, store_dir)
    try:
        await _wait_registered(cluster)
    except BaseException:
        await stop_cluster(cluster)
        raise
    return cluster


async def _wait_registered(cluster: Cluster) -> None:
    registrar = cluster.broker.registrar
    assert registrar is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REGISTRATION_TIMEOUT
    while registrar.registrations == 0:
        if loop.time() > deadline:
            raise TimeoutError("the broker did not register with the NameServer")
        await asyncio.sleep(0.01)


async def stop_cluster(cluster: Cluster) -> None:
    """Stop the broker, then the NameServer."""
    try:
        await cluster.broker.shutdown()
    finally:
        await cluster.namesrv.shutdown()


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
) -> AsyncIterator[Cluster]:
    """``async with running_cluster(tmp_path) as cluster:`` — started and always stopped."""
    cluster = await start_cluster(store_dir, broker=broker, store=store)
    try:
        yield cluster
    finally:
        await stop_cluster(cluster)
