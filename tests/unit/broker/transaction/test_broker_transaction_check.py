"""The transaction check service against a real store, with a settable clock."""

from __future__ import annotations

import asyncio

from rmq_core.broker.managers.clients import ClientChannelInfo
from rmq_core.broker.transaction.check import TransactionCheckService
from rmq_core.broker.transaction.messages import (
    CHECK_GROUP,
    HALF_TOPIC,
    OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
)
from rmq_core.broker.transaction.resolved import ResolvedTransactions
from rmq_core.broker.transaction.service import TransactionalMessageService
from rmq_core.broker.transaction.settings import TransactionSettings
from rmq_core.common.message import MessageSysFlag
from rmq_core.common.message_codec import decode_record
from rmq_core.remoting.codes import RequestCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    CheckTransactionStateRequestHeader,
    EndTransactionRequestHeader,
)

COMMIT = MessageSysFlag.TRANSACTION_COMMIT_TYPE
ROLLBACK = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE
SETTINGS = TransactionSettings(check_interval=1.0, timeout=6.0, check_max=3)


def _services(tx, clock, settings=SETTINGS):
    resolved = ResolvedTransactions()
    service = TransactionalMessageService(tx.ctx, resolved=resolved, clock=clock)
    checker = TransactionCheckService(tx.ctx, resolved, settings=lambda: settings, clock=clock)
    return service, checker


def _producer(tx, fake_connection, group="PG_TX", client_id="127.0.0.1@p1"):
    tx.ctx.producers.register_producer(group, ClientChannelInfo(fake_connection, client_id))
    return fake_connection


def _reply(tx, request: RemotingCommand, state: int) -> EndTransactionRequestHeader:
    header = request.decode_header(CheckTransactionStateRequestHeader)
    msg, _ = decode_record(request.body)
    return EndTransactionRequestHeader(
        producer_group=msg.properties["PGROUP"],
        tran_state_table_offset=header.tran_state_table_offset,
        commit_log_offset=header.commit_log_offset,
        commit_or_rollback=state,
        from_transaction_check=True,
        msg_id=header.msg_id or "",
        transaction_id=header.transaction_id,
    )


def test_young_half_messages_are_not_checked(tx, clock, fake_connection_factory) -> None:
    async def scenario() -> None:
        _service, checker = _services(tx, clock)
        conn = _producer(tx, fake_connection_factory())
        await tx.send_half(tx.prepared())
        report = await checker.run_once(clock.now + 2)
        assert report.checked == 0 and conn.sent == []
        assert tx.ctx.offsets.query_offset(CHECK_GROUP, HALF_TOPIC, 0) == 0

    asyncio.run(scenario())


def test_unknown_then_check_then_commit(tx, clock, fake_connection_factory) -> None:
    async def scenario() -> None:
        service, checker = _services(tx, clock)
        conn = _producer(tx, fake_connection_factory())
        half = await tx.send_half(tx.prepared(body=b"late"))
        assert (await service.end(tx.end_header(half, 0))).ok  # producer: UNKNOWN
        tx.store.sync_dispatch()
        report = await checker.run_once(clock.now + 7)
        assert report.checked == 1
        [request] = conn.sent
        assert request.code == RequestCode.CHECK_TRANSACTION_STATE and request.is_oneway
        header = request.decode_header(CheckTransactionStateRequestHeader)
        shown, _ = decode_record(request.body)
        assert (shown.topic, shown.queue_id, shown.body) == ("TopicTx", 2, b"late")
        assert header.topic == "TopicTx"
        assert header.msg_id == header.transaction_id == half.properties["UNIQ_KEY"]
        assert header.tran_state_table_offset == 1  # the renewed copy
        assert header.commit_log_offset != half.commitlog_offset
        assert shown.properties["TRANSACTION_CHECK_TIMES"] == "1"
        assert (await service.end(_reply(tx, request, COMMIT))).ok
        [real] = tx.read("TopicTx", 2)
        assert real.body == b"late"
        tx.store.sync_dispatch()
        report = await checker.run_once(clock.now + 20)
        assert report.checked == 0 and len(conn.sent) == 1
        assert tx.ctx.offsets.query_offset(CHECK_GROUP, HALF_TOPIC, 0) == 2
        assert tx.ctx.offsets.query_offset(CHECK_GROUP, OP_HALF_TOPIC, 0) == 1

    asyncio.run(scenario())


def test_resolved_messages_are_skipped_and_progress_moves(
    tx, clock, fake_connection_factory
) -> None:
    async def scenario() -> None:
        service, checker = _services(tx, clock)
        conn = _producer(tx, fake_connection_factory())
        halves = [await tx.send_half(tx.prepared(body=str(i).encode())) for i in range(4)]
        assert (await service.end(tx.end_header(halves[0], COMMIT))).ok
        assert (await service.end(tx.end_header(halves[2], ROLLBACK))).ok
        tx.store.sync_dispatch()
        report = await checker.run_once(clock.now + 7)
        assert report.checked == 2 and report.done == 2
        checked = {r.decode_header(CheckTransactionStateRequestHeader).msg_id for r in conn.sent}
        assert checked == {halves[1].properties["UNIQ_KEY"], halves[3].properties["UNIQ_KEY"]}
        assert tx.ctx.offsets.query_offset(CHECK_GROUP, HALF_TOPIC, 0) == 4
        assert tx.ctx.offsets.query_offset(CHECK_GROUP, OP_HALF_TOPIC, 0) == 2

    asyncio.run(scenario())


def test_check_max_discards_the_transaction(tx, clock, fake_connection_factory) -> None:
    async def scenario() -> None:
        _service, checker = _services(tx, clock)
        conn = _producer(tx, fake_connection_factory())
        await tx.send_half(tx.prepared())
        now = clock.now + 7
        for _round in range(3):  # check_max = 3: three checks, all unanswered
            tx.store.sync_dispatch()
            assert (await checker.run_once(now)).checked == 1
            now += 10
        tx.store.sync_dispatch()
        report = await checker.run_once(now)
        assert report.checked == 0 and report.discarded == 1
        assert len(conn.sent) == 3
        [parked] = tx.read(TRANS_CHECK_MAX_TIME_TOPIC, 0)
        assert parked.properties["TRANSACTION_CHECK_TIMES"] == "3"
        assert tx.read("TopicTx", 2) == []
        assert (await checker.run_once(now + 10)).checked == 0

    asyncio.run(scenario())


def test_check_reaches_the_live_producer_of_the_group(tx, clock, fake_connection_factory) -> None:
    async def scenario() -> None:
        _service, checker = _services(tx, clock)
        first = _producer(tx, fake_connection_factory(), client_id="127.0.0.1@p1")
        second = _producer(tx, fake_connection_factory(), client_id="127.0.0.1@p2")
        _producer(tx, fake_connection_factory(), group="OTHER_GROUP")
        first.closed = True
        tx.ctx.producers.do_channel_close_event(first)
        await tx.send_half(tx.prepared())
        await checker.run_once(clock.now + 7)
        assert first.sent == [] and len(second.sent) == 1

    asyncio.run(scenario())


def test_no_producer_still_counts_a_check(tx, clock) -> None:
    async def scenario() -> None:
        _service, checker = _services(tx, clock)
        await tx.send_half(tx.prepared())
        report = await checker.run_once(clock.now + 7)
        assert report.checked == 1 and report.no_producer == 1

    asyncio.run(scenario())


def test_immunity_property_delays_the_check_without_blocking(
    tx, clock, fake_connection_factory
) -> None:
    async def scenario() -> None:
        _service, checker = _services(tx, clock)
        conn = _producer(tx, fake_connection_factory())
        immune = await tx.send_half(tx.prepared(extra={"CHECK_IMMUNITY_TIME_IN_SECONDS": "60"}))
        await tx.send_half(tx.prepared())
        report = await checker.run_once(clock.now + 7)
        assert (report.immune, report.checked) == (1, 1)
        assert len(conn.sent) == 1
        tx.store.sync_dispatch()
        report = await checker.run_once(clock.now + 70)
        ids = [r.decode_header(CheckTransactionStateRequestHeader).msg_id for r in conn.sent]
        assert immune.properties["UNIQ_KEY"] in ids

    asyncio.run(scenario())


def test_progress_lost_in_a_restart_does_not_commit_twice(
    tx, clock, fake_connection_factory
) -> None:
    """After a restart the resolved table is empty and progress may lag; op records of renewed
    copies must still stop a second check of the same transaction."""

    async def scenario() -> None:
        service, checker = _services(tx, clock)
        conn = _producer(tx, fake_connection_factory())
        await tx.send_half(tx.prepared(body=b"once"))
        await checker.run_once(clock.now + 7)
        [request] = conn.sent
        assert (await service.end(_reply(tx, request, COMMIT))).ok
        # "Restart": fresh services, progress back to the start.
        tx.ctx.offsets.commit_offset("", CHECK_GROUP, HALF_TOPIC, 0, 0)
        tx.ctx.offsets.commit_offset("", CHECK_GROUP, OP_HALF_TOPIC, 0, 0)
        service, checker = _services(tx, clock)
        tx.store.sync_dispatch()
        report = await checker.run_once(clock.now + 30)
        assert report.checked == 0
        assert len(conn.sent) == 1
        assert [m.body for m in tx.read("TopicTx", 2)] == [b"once"]

    asyncio.run(scenario())


def test_service_runs_periodically_and_stops(tx, clock, fake_connection_factory) -> None:
    async def scenario() -> None:
        settings = TransactionSettings(check_interval=0.05, timeout=0.0, check_max=15)
        _service, checker = _services(tx, clock, settings)
        conn = _producer(tx, fake_connection_factory())
        await tx.send_half(tx.prepared(born_ms=int((clock.now - 1) * 1000)))
        clock.now += 1
        checker.start()
        async with asyncio.timeout(5):
            while not conn.sent:
                await asyncio.sleep(0.01)
        await checker.shutdown()

    asyncio.run(scenario())
