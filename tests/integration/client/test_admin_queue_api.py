"""AdminClient's queue, group and KV calls, and TransactionProducer.end_transaction."""

from __future__ import annotations

import asyncio
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from rmq_core.admin import AdminClient
from rmq_core.client import (
    ConsumeFromWhere,
    LocalTransactionState,
    Message,
    MessageSelector,
    Producer,
    PullStatus,
    PushConsumer,
    TransactionHandle,
    TransactionProducer,
)
from rmq_core.common.message import MessageConst
from rmq_core.errors import ClientError


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_offsets_pulls_groups_and_kv(client_cluster: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with client_cluster(tmp_path) as cluster, Producer("PG", cluster.namesrv) as p:
            mq = (await p.fetch_publish_message_queues("AdmTopic"))[0]
            before = time.time()
            for i in range(5):
                msg = Message("AdmTopic", b"m%d" % i)
                msg.tags = "A" if i % 2 == 0 else "B"
                await p.send(msg, mq)
            async with AdminClient(cluster.namesrv) as admin:
                deadline = time.monotonic() + 10  # the consume queue follows the commit log
                while await admin.max_offset(mq) < 5 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert await admin.min_offset(mq) == 0
                assert await admin.max_offset(mq) == 5
                assert await admin.search_offset(mq, before - 60) == 0
                assert await admin.search_offset(mq, time.time() + 3600) == 5
                assert await admin.broker_addr(mq) == cluster.cluster.broker_addr

                found = await admin.pull(mq, 0, 32, group="AdmPull")
                assert found.status is PullStatus.FOUND
                assert [m.body for m in found.messages] == [b"m%d" % i for i in range(5)]
                assert found.next_begin_offset == 5
                assert found.messages[0].properties[MessageConst.PROPERTY_MAX_OFFSET] == "5"
                tagged = await admin.pull(mq, 1, 32, "A", group="AdmPull")
                assert [m.body for m in tagged.messages] == [b"m2", b"m4"]
                assert (await admin.pull(mq, 0, 2, MessageSelector.by_tag("B"))).messages[
                    0
                ].body == b"m1"
                assert (await admin.pull(mq, 5, 32)).status is PullStatus.NO_NEW_MSG
                with pytest.raises(ClientError):
                    await admin.pull(mq, -1, 32)

                assert await admin.consumer_offset("AdmPull", mq) is None
                await admin.update_consumer_offset("AdmPull", mq, 3)
                assert await admin.consumer_offset("AdmPull", mq) == 3
                assert (await admin.list_consumer_offsets())["AdmPull"] == {mq: 3}
                assert "AdmPull" in await admin.list_subscription_groups()
                await admin.delete_subscription_group("AdmPull")
                assert "AdmPull" not in await admin.list_subscription_groups()
                assert "AdmPull" not in await admin.list_consumer_offsets()

                assert await admin.get_kv_config("adm.ns", "k") is None
                assert await admin.get_kv_list("adm.ns") == {}
                await admin.put_kv_config("adm.ns", "k", "v")
                await admin.put_kv_config("adm.ns", "k2", "v2")
                assert await admin.get_kv_config("adm.ns", "k") == "v"
                assert await admin.get_kv_list("adm.ns") == {"k": "v", "k2": "v2"}
                await admin.delete_kv_config("adm.ns", "k")
                await admin.delete_kv_config("adm.ns", "missing")
                assert await admin.get_kv_list("adm.ns") == {"k2": "v2"}

    asyncio.run(asyncio.wait_for(body(), 60))


class Undecided:
    def execute_local_transaction(self, msg: Message, arg: Any) -> LocalTransactionState:
        return LocalTransactionState.UNKNOW

    def check_local_transaction(self, msg: Any) -> LocalTransactionState:
        return LocalTransactionState.UNKNOW


def test_end_transaction_from_another_producer(client_cluster: Any, tmp_path: Path) -> None:
    """Half messages sent by one producer are committed or rolled back by another producer
    of the group (another process in real life) from their send results or handles."""

    async def body() -> None:
        async with client_cluster(tmp_path) as cluster:
            sender = TransactionProducer("TxEndPG", cluster.namesrv, listener=Undecided())
            async with sender:
                kept = await sender.send_message_in_transaction(Message("TxEnd", b"kept"))
                dropped = await sender.send_message_in_transaction(Message("TxEnd", b"dropped"))
            assert kept.local_transaction_state is LocalTransactionState.UNKNOW
            handle = pickle.loads(pickle.dumps(TransactionHandle.of(kept)))
            ender = TransactionProducer("TxEndPG", cluster.namesrv, instance_name="ender")
            with pytest.raises(ClientError):
                await ender.end_transaction(handle, LocalTransactionState.COMMIT_MESSAGE)
            async with ender:
                await ender.end_transaction(handle, LocalTransactionState.COMMIT_MESSAGE)
                await ender.end_transaction(dropped, LocalTransactionState.ROLLBACK_MESSAGE)
            got: list[bytes] = []
            consumer = PushConsumer(
                "TxEndGroup",
                cluster.namesrv,
                consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            )
            consumer.subscribe("TxEnd", "*")
            consumer.register_message_listener(lambda msgs: got.extend(m.body for m in msgs))
            async with consumer:
                await wait_until(lambda: b"kept" in got, 15, "the committed message")
                await asyncio.sleep(0.5)
            assert got == [b"kept"]

    asyncio.run(asyncio.wait_for(body(), 60))
