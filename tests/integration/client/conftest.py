"""An in-process NameServer + broker(s) for client integration tests (port 0, tmp dirs).

``async with client_cluster(tmp_path) as cluster`` inside a test's event loop; the cluster
has ``namesrv`` (address), ``brokers`` (controllers) and ``admin()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rmq_core.admin import AdminClient
from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.controller import BrokerController
from rmq_core.namesrv.config import NamesrvConfig
from rmq_core.namesrv.controller import NamesrvController
from rmq_core.store.config import StoreConfig

SMALL_COMMITLOG = 16 * 1024 * 1024
SMALL_CQ = 300_000 * 20


@dataclass
class ClientCluster:
    namesrv_controller: NamesrvController
    root: Path
    brokers: list[BrokerController] = field(default_factory=list)

    @property
    def namesrv(self) -> str:
        return self.namesrv_controller.address

    async def add_broker(self, name: str, **options: object) -> BrokerController:
        config = BrokerConfig(
            broker_name=name,
            listen_port=0,
            namesrv_addr=self.namesrv,
            **options,  # type: ignore[arg-type]
        )
        store = StoreConfig(
            store_path_root_dir=str(self.root / name),
            mapped_file_size_commit_log=SMALL_COMMITLOG,
            mapped_file_size_consume_queue=SMALL_CQ,
        )
        broker = BrokerController(config, store)
        await broker.start()
        self.brokers.append(broker)
        await self._wait_registered(name)
        return broker

    async def _wait_registered(self, name: str, timeout: float = 10.0) -> None:
        """Wait until the NameServer lists broker ``name`` (registration is asynchronous)."""
        async with AdminClient(self.namesrv) as admin:
            deadline = asyncio.get_running_loop().time() + timeout
            while name not in (await admin.cluster_info()).brokers:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"broker {name} did not register in {timeout} s")
                await asyncio.sleep(0.02)


@asynccontextmanager
async def _client_cluster(
    root: Path, brokers: int = 1, **broker_options: object
) -> AsyncIterator[ClientCluster]:
    namesrv = NamesrvController(NamesrvConfig(port=0))
    await namesrv.start()
    cluster = ClientCluster(namesrv, root)
    try:
        for i in range(brokers):
            await cluster.add_broker(f"broker-{chr(ord('a') + i)}", **broker_options)
        yield cluster
    finally:
        for broker in reversed(cluster.brokers):
            await broker.shutdown()
        await namesrv.shutdown()


ClusterFactory = Callable[..., AbstractAsyncContextManager[ClientCluster]]


@pytest.fixture
def client_cluster() -> ClusterFactory:
    """``async with client_cluster(tmp_path, brokers=1, **BrokerConfig options)``."""
    return _client_cluster
