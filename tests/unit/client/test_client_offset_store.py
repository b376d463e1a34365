"""Offset stores: remote (broker-backed) and local file (broadcasting)."""

from __future__ import annotations

import asyncio

from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.offset_store import (
    LocalFileOffsetStore,
    ReadOffsetType,
    RemoteBrokerOffsetStore,
    dump_offset_table,
    load_offset_table,
)
from rmq_core.errors import RemotingConnectError

MQ0 = MessageQueue("T", "broker-a", 0)
MQ1 = MessageQueue("T", "broker-a", 1)


class FakeBackend:
    def __init__(self) -> None:
        self.broker: dict[MessageQueue, int] = {MQ1: 7}
        self.calls: list[tuple[MessageQueue, int, bool]] = []
        self.fail = False

    async def query_consumer_offset(self, group: str, mq: MessageQueue) -> int | None:
        if self.fail:
            raise RemotingConnectError("down")
        return self.broker.get(mq)

    async def update_consumer_offset(
        self, group: str, mq: MessageQueue, offset: int, *, oneway: bool
    ) -> None:
        if self.fail:
            raise RemotingConnectError("down")
        self.calls.append((mq, offset, oneway))
        self.broker[mq] = offset


def test_remote_store_reads_memory_then_broker() -> None:
    async def run() -> None:
        backend = FakeBackend()
        store = RemoteBrokerOffsetStore("g", backend)
        store.load()
        assert await store.read_offset(MQ0, ReadOffsetType.READ_FROM_MEMORY) == -1
        assert await store.read_offset(MQ0, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == -1
        assert await store.read_offset(MQ1, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == 7
        store.update_offset(MQ1, 5, increase_only=True)
        assert store.offsets()[MQ1] == 7
        store.update_offset(MQ1, 9, increase_only=True)
        store.update_offset(MQ0, 3, increase_only=False)
        await store.persist_all([MQ0, MQ1])
        assert sorted(backend.calls) == [(MQ0, 3, True), (MQ1, 9, True)]
        await store.persist(MQ0)
        assert backend.calls[-1] == (MQ0, 3, False)
        backend.fail = True
        assert await store.read_offset(MQ0, ReadOffsetType.READ_FROM_STORE) == -2
        await store.persist_all([MQ0])  # logged, not raised
        store.remove_offset(MQ0)
        assert MQ0 not in store.offsets()

    asyncio.run(run())


def test_offset_table_format_is_fastjson_with_bare_object_keys() -> None:
    text = dump_offset_table({MQ1: 12, MQ0: 3})
    assert text == (
        b'{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:3,'
        b'{"brokerName":"broker-a","queueId":1,"topic":"T"}:12}}'
    )
    assert load_offset_table(text) == {MQ0: 3, MQ1: 12}


def test_local_store_persists_and_reloads(tmp_path) -> None:
    async def run() -> None:
        store = LocalFileOffsetStore(tmp_path, "127.0.0.1@1", "g")
        store.load()
        assert await store.read_offset(MQ0, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == -1
        store.update_offset(MQ0, 10, increase_only=False)
        store.update_offset(MQ1, 4, increase_only=False)
        await store.persist_all([MQ0, MQ1])
        store.update_offset(MQ0, 11, increase_only=False)
        await store.persist(MQ0)
        assert store.path == tmp_path / "127.0.0.1@1" / "g" / "offsets.json"
        assert store.path.with_name("offsets.json.bak").exists()

        again = LocalFileOffsetStore(tmp_path, "127.0.0.1@1", "g")
        again.load()
        assert again.offsets() == {MQ0: 11, MQ1: 4}
        assert await again.read_offset(MQ1, ReadOffsetType.READ_FROM_STORE) == 4

        store.path.write_bytes(b"{garbage")
        third = LocalFileOffsetStore(tmp_path, "127.0.0.1@1", "g")
        third.load()  # falls back to the backup file
        assert third.offsets()[MQ1] == 4

    asyncio.run(run())


def test_concurrent_local_persists_lose_nothing_and_share_no_temp_file(tmp_path) -> None:
    """persist(mq) for many queues at once, mixed with persist_all, keeps every offset."""
    queues = [MessageQueue("T", "broker-a", i) for i in range(24)]

    async def run() -> None:
        store = LocalFileOffsetStore(tmp_path, "127.0.0.1@1", "g")
        store.load()
        for i, mq in enumerate(queues):
            store.update_offset(mq, 100 + i, increase_only=False)
        # The periodic persist_all knows only the first half; persist(mq) adds the rest.
        calls = [store.persist(mq) for mq in queues[12:]]
        calls.insert(5, store.persist_all(queues[:12]))
        calls.append(store.persist_all(queues[:12]))
        await asyncio.gather(*calls)
        await asyncio.gather(*(store.persist(mq) for mq in queues[12:]))

        again = LocalFileOffsetStore(tmp_path, "127.0.0.1@1", "g")
        again.load()
        for i, mq in enumerate(queues[12:], start=12):
            assert again.offsets()[mq] == 100 + i
        leftovers = sorted(p.name for p in store.path.parent.iterdir())
        assert leftovers == ["offsets.json", "offsets.json.bak"]

    asyncio.run(run())


def test_persist_writes_the_newest_offset_whatever_the_order(tmp_path) -> None:
    async def run() -> None:
        store = LocalFileOffsetStore(tmp_path, "127.0.0.1@1", "g")
        store.update_offset(MQ0, 1, increase_only=False)
        first = asyncio.ensure_future(store.persist(MQ0))
        second = asyncio.ensure_future(store.persist_all([MQ0]))
        store.update_offset(MQ0, 2, increase_only=False)  # before either has written
        await asyncio.gather(first, second)
        assert load_offset_table(store.path.read_bytes()) == {MQ0: 2}
        assert await store.read_offset(MQ0, ReadOffsetType.READ_FROM_STORE) == 2

    asyncio.run(run())
