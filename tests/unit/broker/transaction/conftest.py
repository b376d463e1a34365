"""Fixtures for the broker's transaction and lock tests: a real store in ``tmp_path`` wrapped in
a :class:`BrokerContext`, and a fake producer connection that records oneway requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.transaction.service import TransactionalMessageService
from rmq_core.common.message import MessageExt, MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import create_uniq_id, decode_record
from rmq_core.remoting.headers import EndTransactionRequestHeader
from rmq_core.store.config import StoreConfig
from rmq_core.store.store import MessageStore


@dataclass(eq=False)
class FakeConnection:
    """A client connection that records the oneway requests the broker sends it."""

    remote_address: str = "127.0.0.1:50000"
    closed: bool = False
    sent: list[object] = field(default_factory=list)

    async def invoke_oneway(self, request: object) -> None:
        self.sent.append(request)

    def close(self) -> None:
        self.closed = True

    def __hash__(self) -> int:
        return id(self)


class Clock:
    """A settable wall clock (seconds)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make_store(root: Path) -> MessageStore:
    config = StoreConfig(
        store_path_root_dir=str(root),
        mapped_file_size_commit_log=1024 * 1024,
        mapped_file_size_consume_queue=20 * 1000,
    )
    store = MessageStore(config)
    store.start()
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MessageStore]:
    store = make_store(tmp_path / "store")
    yield store
    store.shutdown()


@pytest.fixture
def ctx(store: MessageStore) -> BrokerContext:
    return BrokerContext(BrokerConfig(listen_port=10911), store.config, store)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclass
class TxHarness:
    """Sends half messages the way the send processor does and reads queues back."""

    ctx: BrokerContext
    store: MessageStore
    clock: Clock

    def prepared(
        self,
        *,
        topic: str = "TopicTx",
        group: str = "PG_TX",
        queue_id: int = 2,
        body: bytes = b"payload",
        extra: dict[str, str] | None = None,
        born_ms: int | None = None,
    ) -> MessageExtBrokerInner:
        props = {
            "UNIQ_KEY": create_uniq_id(),
            "TRAN_MSG": "true",
            "PGROUP": group,
            "KEYS": "order-1",
            "TAGS": "TagA",
            "WAIT": "true",
            "color": "red",
        }
        props.update(extra or {})
        return MessageExtBrokerInner(
            topic=topic,
            body=body,
            properties=props,
            queue_id=queue_id,
            sys_flag=MessageSysFlag.TRANSACTION_PREPARED_TYPE,
            born_timestamp=int(self.clock() * 1000) if born_ms is None else born_ms,
            born_host="127.0.0.1:50000",
            store_host=self.ctx.broker_addr,
        )

    async def send_half(self, msg: MessageExtBrokerInner) -> MessageExt:
        """Store ``msg`` as a half message; the stored half message (with its offsets)."""
        TransactionalMessageService.prepare(msg)
        outcome = await self.ctx.put_message(msg)
        assert outcome.stored, outcome.status
        self.store.sync_dispatch()
        half = self.store.look_message_by_offset(outcome.result.append_result.wrote_offset)
        assert half is not None
        return half

    def read(self, topic: str, queue_id: int, offset: int = 0) -> list[MessageExt]:
        self.store.sync_dispatch()
        result = self.store.get_message("G_TEST", topic, queue_id, offset, 1000)
        return [decode_record(raw)[0] for raw in result.messages]

    def end_header(
        self,
        half: MessageExt,
        state: int,
        *,
        group: str = "PG_TX",
        from_check: bool = False,
    ) -> EndTransactionRequestHeader:
        return EndTransactionRequestHeader(
            producer_group=group,
            tran_state_table_offset=half.queue_offset,
            commit_log_offset=half.commitlog_offset,
            commit_or_rollback=state,
            from_transaction_check=from_check,
            msg_id=half.properties["UNIQ_KEY"],
            transaction_id=half.properties["UNIQ_KEY"],
        )


@pytest.fixture
def tx(ctx: BrokerContext, store: MessageStore, clock: Clock) -> TxHarness:
    return TxHarness(ctx, store, clock)


@pytest.fixture
def fake_connection_factory():  # type: ignore[no-untyped-def]
    counter = iter(range(50001, 60000))

    def make() -> FakeConnection:
        return FakeConnection(remote_address=f"127.0.0.1:{next(counter)}")

    return make
