"""The client integration tests' cluster: :mod:`tests.support.cluster` behind a fixture.

``async with client_cluster(tmp_path, brokers=1, **BrokerConfig options) as cluster`` inside a
test's event loop; ``cluster.namesrv`` is the NameServer address, ``cluster.brokers`` the
broker controllers (``broker-a``, ``broker-b``...), ``cluster.add_broker(name)`` starts another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from rmq_core.broker.controller import BrokerController
from tests.support.cluster import Cluster, running_cluster


class ClientCluster:
    """A :class:`tests.support.cluster.Cluster` seen the way client tests use it."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def namesrv(self) -> str:
        """``127.0.0.1:<port>`` of the NameServer (what clients are given)."""
        return self.cluster.namesrv_addr

    @property
    def brokers(self) -> list[BrokerController]:
        return self.cluster.brokers

    async def add_broker(self, name: str, **options: object) -> BrokerController:
        """Start broker ``name`` with BrokerConfig ``options``; registered on return."""
        return await self.cluster.add_broker(name, broker_fields=options)


@asynccontextmanager
async def _client_cluster(
    root: Path, brokers: int = 1, **broker_options: object
) -> AsyncIterator[ClientCluster]:
    async with running_cluster(root, brokers=brokers, broker_fields=broker_options) as cluster:
        yield ClientCluster(cluster)


ClusterFactory = Callable[..., AbstractAsyncContextManager[ClientCluster]]


@pytest.fixture
def client_cluster() -> ClusterFactory:
    """``async with client_cluster(tmp_path, brokers=1, **BrokerConfig options)``."""
    return _client_cluster
