"""Fixtures for the broker integration tests: bounded coroutine runner and a running cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.broker_client import RawBrokerClient
from tests.support.cluster import Cluster, running_cluster

T = TypeVar("T")
TEST_TIMEOUT = 30.0

Scenario = Callable[[Cluster, RawBrokerClient], Awaitable[Any]]


@pytest.fixture
def arun() -> Callable[..., Any]:
    """``arun(coro, timeout=30)``: run ``coro`` on a fresh event loop, bounded in time."""

    def run(coro: Coroutine[Any, Any, T], timeout: float = TEST_TIMEOUT) -> T:
        return asyncio.run(asyncio.wait_for(coro, timeout))

    return run


@pytest.fixture
def with_cluster(tmp_path: Path, arun: Callable[..., Any]) -> Callable[..., Any]:
    """``with_cluster(scenario, broker={...}, store={...})`` runs ``await scenario(cluster,
    raw)`` against a fresh NameServer + broker and a raw client to the broker."""

    def run(scenario: Scenario, **options: Any) -> Any:
        async def body() -> Any:
            async with (
                running_cluster(tmp_path / "store", **options) as cluster,
                RawBrokerClient(cluster.broker_addr) as raw,
            ):
                return await scenario(cluster, raw)

        return arun(body())

    return run
