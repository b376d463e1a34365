"""Store fixtures shared by the store unit and crash tests: tiny files so segments roll fast."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.store import MessageStore, StoreConfig


@pytest.fixture
def tiny_config(tmp_path: Path) -> StoreConfig:
    """4 KiB commit-log segments, 8-unit consume-queue files, 8 index slots x 16 entries."""
    return StoreConfig(
        store_path_root_dir=str(tmp_path / "store"),
        mapped_file_size_commit_log=4096,
        mapped_file_size_consume_queue=8 * 20,
        max_hash_slot_num=8,
        max_index_num=16,
        flush_interval=0.05,
        flush_interval_consume_queue=0.05,
    )


MakeMessage = Callable[..., MessageExtBrokerInner]

FROZEN_STORE_NS = 1_700_000_000_123 * 1_000_000
"""A store time (ns) for tests that freeze the commit log's clock so byte comparisons of
index files (which hold store times) are exact."""


def roomy_config(config: StoreConfig, suffix: str = "") -> StoreConfig:
    """``config`` with files no consume queue or index fills up in a small test, and its
    store root extended by ``suffix`` (several stores side by side)."""
    return config.replace(store_path_root_dir=config.store_path_root_dir + suffix,
                          mapped_file_size_commit_log=256 * 1024,
                          mapped_file_size_consume_queue=1000 * 20, max_index_num=1000,
                          max_hash_slot_num=64)  # fmt: skip


def dispatched_files(root: str, *, commitlog: bool = False) -> dict[str, bytes]:
    """Bytes of every consume-queue and index file under the store ``root`` (and of every
    commit-log segment with ``commitlog``), by relative path (index files, named after the
    wall clock, by their rank)."""
    out: dict[str, bytes] = {}
    for sub in ("commitlog", "consumequeue", "index") if commitlog else ("consumequeue", "index"):
        for base, _dirs, names in os.walk(os.path.join(root, sub)):
            for rank, name in enumerate(sorted(names)):
                path = os.path.join(base, name)
                key = f"index #{rank}" if sub == "index" else os.path.relpath(path, root)
                with open(path, "rb") as f:
                    out[key] = f.read()
    return out


@pytest.fixture
def make_message() -> MakeMessage:
    """Factory: ``make_message(body, topic="T", queue_id=0, **properties)``."""

    def make(
        body: bytes = b"hello", topic: str = "T", queue_id: int = 0, **props: str
    ) -> MessageExtBrokerInner:
        return MessageExtBrokerInner(
            topic=topic,
            body=body,
            properties=dict(props),
            queue_id=queue_id,
            born_timestamp=1_700_000_000_000,
            born_host="10.1.2.3:50000",
            store_host="127.0.0.1:10911",
        )

    return make


@pytest.fixture
def open_store() -> Iterator[Callable[[StoreConfig], MessageStore]]:
    """Factory starting stores; every store still running at the end is shut down."""
    stores: list[MessageStore] = []

    def start(config: StoreConfig) -> MessageStore:
        store = MessageStore(config)
        store.start()
        stores.append(store)
        return store

    yield start
    for store in stores:
        store.shutdown()
