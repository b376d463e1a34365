"""Transactional messages end to end: producer, broker (half/op/check service), consumer."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from rmq_core.admin import AdminClient
from rmq_core.broker.transaction.messages import HALF_TOPIC
from rmq_core.client import Message, MessageExt
from rmq_core.client.transaction_producer import (
    LocalTransactionState,
    TransactionProducer,
    TransactionSendResult,
)
from rmq_core.common.message_codec import decode_offset_msg_id
from rmq_core.errors import BrokerError, ClientError
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.headers import EndTransactionRequestHeader
from tests.integration.reliable.reliable_support import (
    Collector,
    client_options,
    push_consumer,
    restart_broker,
    run,
    stored_count,
    wait_until,
)
from tests.support.broker_client import RawBrokerClient
from tests.support.cluster import running_cluster

COMMIT = LocalTransactionState.COMMIT_MESSAGE
ROLLBACK = LocalTransactionState.ROLLBACK_MESSAGE
UNKNOW = LocalTransactionState.UNKNOW
FAST_CHECKS = {
    "transactionCheckInterval": "200",
    "transactionTimeOut": "300",
    "transactionCheckMax": "15",
}
TOPIC = "TopicTx"


class Orders:
    """Local transactions decided by the body prefix; checks answer from ``decided``."""

    def __init__(self) -> None:
        self.decided: dict[str, LocalTransactionState] = {}
        self.checks: list[str] = []
        self.executed: list[bytes] = []

    def execute_local_transaction(self, msg: Message, arg: Any) -> LocalTransactionState:
        self.executed.append(msg.body)
        kind = msg.body.split(b"-")[0]
        if kind == b"boom":
            raise RuntimeError("database unavailable")
        return {b"commit": COMMIT, b"rollback": ROLLBACK}.get(kind, UNKNOW)

    def check_local_transaction(self, msg: MessageExt) -> LocalTransactionState:
        self.checks.append(msg.body.decode())
        if msg.body.startswith(b"unknown"):
            return COMMIT
        if msg.body.startswith(b"boom"):
            return ROLLBACK
        return self.decided.get(msg.body.decode(), UNKNOW)


async def _create_topic(namesrv: str) -> None:
    async with AdminClient(namesrv) as admin:
        await admin.create_topic(TOPIC, read_queue_nums=4, write_queue_nums=4)


def test_commit_rollback_and_unknown_then_checked(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path, broker=FAST_CHECKS) as cluster:
            ns = cluster.namesrv_addr
            await _create_topic(ns)
            listener = Orders()
            got = Collector()
            consumer = push_consumer(ns, "CG_TX")
            consumer.subscribe(TOPIC, "*")
            consumer.register_message_listener(got)
            producer = TransactionProducer("PG_TX", ns, listener=listener, **client_options("tx"))
            async with consumer, producer:
                bodies = [
                    f"{kind}-{i}" for i in range(3) for kind in ("commit", "rollback", "unknown")
                ] + ["boom-0"]
                results: list[TransactionSendResult] = []
                for body in bodies:
                    results.append(
                        await producer.send_message_in_transaction(
                            Message(TOPIC, body.encode()), arg=body
                        )
                    )
                states = {r.msg_id: r.local_transaction_state for r in results}
                assert list(states.values()).count(COMMIT) == 3
                assert list(states.values()).count(ROLLBACK) == 3
                assert list(states.values()).count(UNKNOW) == 4
                assert all(r.transaction_id == r.msg_id for r in results)
                expected = sorted(b for b in bodies if b.startswith(("commit", "unknown")))
                await wait_until(lambda: len(got.messages) >= 6, 20, "committed messages")
                await wait_until(
                    lambda: (
                        sorted(set(listener.checks))
                        == sorted([f"unknown-{i}" for i in range(3)] + ["boom-0"])
                    ),
                    20,
                    "checks of the unknown transactions",
                )
                await asyncio.sleep(1.0)  # a few more check rounds: nothing else may appear
                assert sorted(m.body.decode() for m in got.messages) == expected
                assert stored_count(cluster, TOPIC) == 6
                for msg in got.messages:
                    assert "TRAN_MSG" not in msg.properties and "REAL_TOPIC" not in msg.properties
                    assert msg.properties["PGROUP"] == "PG_TX"
                    assert msg.unique_key in states
                ctx = cluster.broker.context
                assert ctx.offsets.query_offset("CID_RMQ_SYS_TRANS", HALF_TOPIC, 0) == (
                    ctx.store.get_max_offset_in_queue(HALF_TOPIC, 0)
                )

    run(scenario())


def test_check_reaches_a_second_producer_when_the_first_died(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path, broker=FAST_CHECKS) as cluster:
            ns = cluster.namesrv_addr
            await _create_topic(ns)
            first_listener, second_listener = Orders(), Orders()
            first = TransactionProducer(
                "PG_TX2", ns, listener=first_listener, **client_options("tx-a")
            )
            await first.start()
            result = await first.send_message_in_transaction(Message(TOPIC, b"pending-1"))
            assert result.local_transaction_state is UNKNOW
            await wait_until(lambda: first_listener.checks, 10, "a check of the first producer")
            # The first producer dies: its connections drop without unregistering.
            await first.instance.remoting.close()
            second_listener.decided["pending-1"] = COMMIT
            second = TransactionProducer(
                "PG_TX2", ns, listener=second_listener, **client_options("tx-b")
            )
            got = Collector()
            consumer = push_consumer(ns, "CG_TX2")
            consumer.subscribe(TOPIC, "*")
            consumer.register_message_listener(got)
            async with second, consumer:
                await second.fetch_publish_message_queues(TOPIC)  # learn the broker, heartbeat
                await wait_until(lambda: got.messages, 20, "the message committed by check")
                assert second_listener.checks[0] == "pending-1"
                await asyncio.sleep(0.6)
                assert got.bodies == [b"pending-1"]
            with contextlib.suppress(Exception):
                await first.shutdown(timeout=1)

    run(scenario())


def test_broker_restart_between_half_and_end(tmp_path: Path) -> None:
    """Half messages survive a restart: late END_TRANSACTIONs and checks both resolve them,
    and consumers see exactly the committed messages, once."""

    async def scenario() -> None:
        async with running_cluster(tmp_path, broker=FAST_CHECKS) as cluster:
            ns = cluster.namesrv_addr
            await _create_topic(ns)
            release = asyncio.Event()

            class Slow(Orders):
                async def execute_local_transaction(self, msg, arg):  # type: ignore[override]
                    await release.wait()
                    return COMMIT if msg.body.startswith(b"even") else ROLLBACK

                def check_local_transaction(self, msg):  # type: ignore[override]
                    self.checks.append(msg.body.decode())
                    if not release.is_set():
                        return UNKNOW
                    return COMMIT if msg.body.startswith(b"even") else ROLLBACK

            listener = Slow()
            producer = TransactionProducer("PG_TX3", ns, listener=listener, **client_options("tx3"))
            got = Collector()
            async with producer:
                bodies = [f"{'even' if i % 2 == 0 else 'odd'}-{i}".encode() for i in range(6)]
                sends = [
                    asyncio.ensure_future(producer.send_message_in_transaction(Message(TOPIC, b)))
                    for b in bodies
                ]
                ctx = cluster.broker.context
                await wait_until(
                    lambda: ctx.store.get_max_offset_in_queue(HALF_TOPIC, 0) >= 6, 10, "halves"
                )
                await restart_broker(cluster)
                release.set()
                results = await asyncio.gather(*sends)
                assert [r.local_transaction_state for r in results] == [COMMIT, ROLLBACK] * 3
                consumer = push_consumer(ns, "CG_TX3")
                consumer.subscribe(TOPIC, "*")
                consumer.register_message_listener(got)
                async with consumer:
                    await wait_until(lambda: len(got.messages) >= 3, 20, "committed messages")
                    await asyncio.sleep(1.5)  # check rounds after the restart
                    assert sorted(got.bodies) == sorted(b for b in bodies if b.startswith(b"even"))
                    assert stored_count(cluster, TOPIC) == 3

    run(scenario(), timeout=120)


def test_end_transaction_bad_requests_are_answered_and_ignored(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path) as cluster:
            ns = cluster.namesrv_addr
            await _create_topic(ns)
            listener = Orders()
            producer = TransactionProducer("PG_TX4", ns, listener=listener, **client_options("tx4"))
            async with producer, RawBrokerClient(cluster.broker_addr) as raw:
                result = await producer.send_message_in_transaction(Message(TOPIC, b"commit-x"))
                _addr, offset = decode_offset_msg_id(result.offset_msg_id)

                def header(**changes: Any) -> EndTransactionRequestHeader:
                    values: dict[str, Any] = {
                        "producer_group": "PG_TX4",
                        "tran_state_table_offset": result.queue_offset,
                        "commit_log_offset": offset,
                        "commit_or_rollback": 8,
                        "msg_id": result.msg_id,
                    }
                    values.update(changes)
                    return EndTransactionRequestHeader(**values)

                unknown = await raw.call(
                    RequestCode.END_TRANSACTION, header(commit_log_offset=offset + 10_000_000)
                )
                assert unknown.code == ResponseCode.SYSTEM_ERROR
                assert "prepared transaction message" in (unknown.remark or "")
                again = await raw.call(RequestCode.END_TRANSACTION, header())
                assert again.code == ResponseCode.SUCCESS and "already resolved" in again.remark
                flip = await raw.call(RequestCode.END_TRANSACTION, header(commit_or_rollback=12))
                assert flip.code == ResponseCode.SUCCESS
                missing = await raw.call(
                    RequestCode.END_TRANSACTION, ext_fields={"producerGroup": "PG_TX4"}
                )
                assert missing.code != ResponseCode.SUCCESS
                await asyncio.sleep(0.2)
                assert stored_count(cluster, TOPIC) == 1

    run(scenario())


def test_reject_transaction_message_and_missing_listener(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path, broker={"rejectTransactionMessage": "true"}) as c:
            await _create_topic(c.namesrv_addr)
            producer = TransactionProducer(
                "PG_TX5", c.namesrv_addr, listener=Orders(), **client_options("tx5")
            )
            async with producer:
                with pytest.raises(BrokerError) as info:
                    await producer.send_message_in_transaction(Message(TOPIC, b"commit-1"))
                assert info.value.code == ResponseCode.NO_PERMISSION
                producer.listener = None
                with pytest.raises(ClientError):
                    await producer.send_message_in_transaction(Message(TOPIC, b"commit-2"))

    run(scenario())
