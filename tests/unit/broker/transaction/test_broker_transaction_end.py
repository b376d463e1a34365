"""END_TRANSACTION against a real store: commit, rollback, unknown, and every bad request."""

from __future__ import annotations

import asyncio

from rmq_core.broker.processors.end_transaction import EndTransactionProcessor
from rmq_core.broker.transaction.messages import HALF_TOPIC, OP_HALF_TOPIC
from rmq_core.broker.transaction.service import TransactionalMessageService
from rmq_core.common.message import MessageSysFlag
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand

COMMIT = MessageSysFlag.TRANSACTION_COMMIT_TYPE
ROLLBACK = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE


def test_half_message_is_invisible_in_the_real_queue(tx) -> None:
    async def scenario() -> None:
        half = await tx.send_half(tx.prepared())
        assert half.topic == HALF_TOPIC
        assert tx.read("TopicTx", 2) == []
        assert [m.properties["UNIQ_KEY"] for m in tx.read(HALF_TOPIC, 0)] == [
            half.properties["UNIQ_KEY"]
        ]

    asyncio.run(scenario())


def test_commit_stores_the_real_message_and_an_op_record(tx) -> None:
    async def scenario() -> None:
        service = TransactionalMessageService(tx.ctx)
        half = await tx.send_half(tx.prepared(body=b"order paid"))
        outcome = await service.end(tx.end_header(half, COMMIT))
        assert outcome.ok, outcome
        [real] = tx.read("TopicTx", 2)
        assert real.body == b"order paid"
        assert real.properties["UNIQ_KEY"] == half.properties["UNIQ_KEY"]
        assert real.properties["KEYS"] == "order-1"
        assert real.properties["color"] == "red"
        assert "REAL_TOPIC" not in real.properties and "TRAN_MSG" not in real.properties
        assert MessageSysFlag.get_transaction_value(real.sys_flag) == COMMIT
        assert real.prepared_transaction_offset == half.commitlog_offset
        [op] = tx.read(OP_HALF_TOPIC, 0)
        assert op.body == f"{half.queue_offset},".encode()
        assert op.tags == "d"

    asyncio.run(scenario())


def test_rollback_writes_only_the_op_record(tx) -> None:
    async def scenario() -> None:
        service = TransactionalMessageService(tx.ctx)
        half = await tx.send_half(tx.prepared())
        assert (await service.end(tx.end_header(half, ROLLBACK))).ok
        assert tx.read("TopicTx", 2) == []
        assert len(tx.read(OP_HALF_TOPIC, 0)) == 1

    asyncio.run(scenario())


def test_unknown_state_leaves_the_transaction_open(tx) -> None:
    async def scenario() -> None:
        service = TransactionalMessageService(tx.ctx)
        half = await tx.send_half(tx.prepared())
        outcome = await service.end(tx.end_header(half, 0))
        assert outcome.ok
        assert tx.read("TopicTx", 2) == [] and tx.read(OP_HALF_TOPIC, 0) == []
        bad = await service.end(tx.end_header(half, 5))
        assert bad.code == ResponseCode.INVALID_PARAMETER

    asyncio.run(scenario())


def test_a_second_resolution_is_answered_and_ignored(tx) -> None:
    async def scenario() -> None:
        service = TransactionalMessageService(tx.ctx)
        half = await tx.send_half(tx.prepared())
        assert (await service.end(tx.end_header(half, COMMIT))).ok
        again = await service.end(tx.end_header(half, COMMIT))
        assert again.ok and "already resolved" in (again.remark or "")
        flip = await service.end(tx.end_header(half, ROLLBACK, from_check=True))
        assert flip.ok and "COMMIT" in (flip.remark or "")
        assert len(tx.read("TopicTx", 2)) == 1

    asyncio.run(scenario())


def test_unknown_offset_wrong_group_and_wrong_queue_offset_are_refused(tx) -> None:
    async def scenario() -> None:
        service = TransactionalMessageService(tx.ctx)
        half = await tx.send_half(tx.prepared())
        header = tx.end_header(half, COMMIT)
        header.commit_log_offset = 10_000_000
        missing = await service.end(header)
        assert missing.code == ResponseCode.SYSTEM_ERROR
        assert "Find prepared transaction message failed" in (missing.remark or "")
        wrong_group = await service.end(tx.end_header(half, COMMIT, group="OTHER"))
        assert wrong_group.code == ResponseCode.SYSTEM_ERROR and "group" in wrong_group.remark
        header = tx.end_header(half, COMMIT)
        header.tran_state_table_offset += 1
        wrong_offset = await service.end(header)
        assert wrong_offset.code == ResponseCode.SYSTEM_ERROR
        # A plain (non-half) message's offset is no half message either.
        plain = tx.prepared()
        plain.properties.pop("TRAN_MSG")
        plain.sys_flag = 0
        stored = await tx.ctx.put_message(plain)
        header = tx.end_header(half, COMMIT)
        header.commit_log_offset = stored.result.append_result.wrote_offset
        assert (await service.end(header)).code == ResponseCode.SYSTEM_ERROR
        assert [m.commitlog_offset for m in tx.read("TopicTx", 2)] == [header.commit_log_offset]
        assert tx.read(OP_HALF_TOPIC, 0) == []
        # The transaction is still open and can be committed properly.
        assert (await service.end(tx.end_header(half, COMMIT))).ok
        assert len(tx.read("TopicTx", 2)) == 2

    asyncio.run(scenario())


def test_immunity_over_refuses_a_late_producer_commit_but_not_a_check_reply(tx, clock) -> None:
    async def scenario() -> None:
        service = TransactionalMessageService(tx.ctx, clock=clock)
        half = await tx.send_half(tx.prepared(extra={"CHECK_IMMUNITY_TIME_IN_SECONDS": "10"}))
        clock.now += 60
        late = await service.end(tx.end_header(half, COMMIT))
        assert late.code == ResponseCode.ILLEGAL_OPERATION
        assert (await service.end(tx.end_header(half, COMMIT, from_check=True))).ok

    asyncio.run(scenario())


def test_processor_answers_requests_that_want_an_answer(tx) -> None:
    class Conn:
        remote_address = "127.0.0.1:1"

    async def scenario() -> None:
        service = TransactionalMessageService(tx.ctx)
        processor = EndTransactionProcessor(tx.ctx, service)
        half = await tx.send_half(tx.prepared())
        request = RemotingCommand.request(RequestCode.END_TRANSACTION, tx.end_header(half, COMMIT))
        response = await processor(request, Conn())  # type: ignore[arg-type]
        assert response is not None and response.code == ResponseCode.SUCCESS
        bad = RemotingCommand.request(
            RequestCode.END_TRANSACTION, ext_fields={"producerGroup": "PG_TX"}
        )
        response = await processor(bad, Conn())  # type: ignore[arg-type]
        assert response is not None and response.code == ResponseCode.INVALID_PARAMETER
        assert "tranStateTableOffset" in (response.remark or "")

    asyncio.run(scenario())
