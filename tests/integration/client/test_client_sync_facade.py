"""The blocking facade's transactional producer, simple consumer and shutdown timeouts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rmq_core import client as client_api
from rmq_core.admin.sync import AdminClient
from rmq_core.client import (
    ConsumeFromWhere,
    LocalTransactionState,
    Message,
    MessageExt,
    SendStatus,
)
from rmq_core.client import sync as blocking


@contextmanager
def served_cluster(client_cluster: Any, tmp_path: Path) -> Iterator[str]:
    """An in-process cluster on its own thread (the facade runs its own loop); yields the
    NameServer address."""
    ready = threading.Event()
    stop = threading.Event()
    address: list[str] = []

    async def serve() -> None:
        async with client_cluster(tmp_path) as cluster:
            address.append(cluster.namesrv)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    server = threading.Thread(target=lambda: asyncio.run(asyncio.wait_for(serve(), 120)))
    server.start()
    try:
        assert ready.wait(30)
        yield address[0]
    finally:
        stop.set()
        server.join(30)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Decide:
    """Commits when the argument says so, rolls back otherwise."""

    def execute_local_transaction(self, msg: Message, arg: Any) -> LocalTransactionState:
        if arg == "commit":
            return LocalTransactionState.COMMIT_MESSAGE
        return LocalTransactionState.ROLLBACK_MESSAGE

    def check_local_transaction(self, msg: MessageExt) -> LocalTransactionState:
        return LocalTransactionState.ROLLBACK_MESSAGE


def test_blocking_transaction_producer(client_cluster: Any, tmp_path: Path) -> None:
    with served_cluster(client_cluster, tmp_path) as namesrv:
        got: list[bytes] = []
        consumer = blocking.PushConsumer(
            "SyncTxGroup", namesrv, consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
        )
        consumer.subscribe("SyncTx", "*")
        consumer.register_message_listener(lambda msgs: got.extend(m.body for m in msgs))
        with blocking.TransactionProducer("SyncTxPG", namesrv) as producer:
            assert producer.listener is None
            producer.set_transaction_listener(Decide())
            kept = producer.send_message_in_transaction(Message("SyncTx", b"kept"), "commit")
            dropped = producer.send_message_in_transaction(Message("SyncTx", b"dropped"), "no")
            assert kept.status is SendStatus.SEND_OK
            assert kept.local_transaction_state is LocalTransactionState.COMMIT_MESSAGE
            assert dropped.local_transaction_state is LocalTransactionState.ROLLBACK_MESSAGE
            consumer.start()
            try:
                wait_until(lambda: b"kept" in got, 20, "the committed message")
                time.sleep(0.5)
            finally:
                consumer.shutdown(timeout=2.0)
        assert got == [b"kept"]


def test_blocking_consumers_shut_down_within_their_timeout(
    client_cluster: Any, tmp_path: Path
) -> None:
    assert client_api.SyncSimpleConsumer is blocking.SimpleConsumer
    with served_cluster(client_cluster, tmp_path) as namesrv:
        with blocking.Producer("SyncShutPG", namesrv) as producer:
            producer.send(Message("SyncShut", b"one"))
        in_listener = threading.Event()
        release = threading.Event()

        def stuck(msgs: list[MessageExt]) -> None:
            in_listener.set()
            release.wait(10)

        push = blocking.PushConsumer(
            "SyncShutPush", namesrv, consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
        )
        push.subscribe("SyncShut", "*")
        push.register_message_listener(stuck)
        push.start()
        try:
            assert in_listener.wait(20)
            started = time.monotonic()
            push.shutdown(timeout=0.3)
            assert time.monotonic() - started < 5
        finally:
            release.set()

        simple = blocking.SimpleConsumer(
            "SyncShutSimple",
            namesrv,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        )
        simple.subscribe("SyncShut", "*")
        with simple:
            received: list[MessageExt] = []
            deadline = time.monotonic() + 20
            while not received and time.monotonic() < deadline:
                received = simple.receive(1, 10.0, await_duration=1.0)
            assert [m.body for m in received] == [b"one"]
            simple.ack(received[0])
        simple.shutdown(timeout=5.0)  # a second shutdown is a no-op

        lite = blocking.LitePullConsumer("SyncShutLite", namesrv)
        lite.subscribe("SyncShut", "*")
        lite.start()
        lite.shutdown(timeout=10.0)


def test_blocking_admin_queue_calls_and_end_transaction(
    client_cluster: Any, tmp_path: Path
) -> None:
    with served_cluster(client_cluster, tmp_path) as namesrv:
        with blocking.TransactionProducer("SyncEndPG", namesrv) as producer:
            producer.set_transaction_listener(Undecided())
            half = producer.send_message_in_transaction(Message("SyncEnd", b"half"))
            producer.end_transaction(half, LocalTransactionState.COMMIT_MESSAGE)
        mq = half.message_queue
        with AdminClient(namesrv) as admin:
            wait_until(lambda: admin.max_offset(mq) == 1, 10, "the committed message")
            assert admin.min_offset(mq) == 0
            assert admin.search_offset(mq, time.time() + 3600) == 1
            assert admin.broker_addr(mq)
            assert [m.body for m in admin.pull(mq, 0, 8, group="SyncPull").messages] == [b"half"]
            admin.update_consumer_offset("SyncPull", mq, 1)
            assert admin.consumer_offset("SyncPull", mq) == 1
            assert admin.list_consumer_offsets()["SyncPull"] == {mq: 1}
            assert "SyncPull" in admin.list_subscription_groups()
            admin.delete_subscription_group("SyncPull")
            assert "SyncPull" not in admin.list_subscription_groups()
            admin.put_kv_config("sync.ns", "k", "v")
            assert admin.get_kv_config("sync.ns", "k") == "v"
            assert admin.get_kv_list("sync.ns") == {"k": "v"}
            admin.delete_kv_config("sync.ns", "k")
            assert admin.get_kv_config("sync.ns", "k") is None


class Undecided:
    def execute_local_transaction(self, msg: Message, arg: Any) -> LocalTransactionState:
        return LocalTransactionState.UNKNOW

    def check_local_transaction(self, msg: MessageExt) -> LocalTransactionState:
        return LocalTransactionState.UNKNOW
