"""Broker-side queue locks (RebalanceLockManager) and the LOCK/UNLOCK_BATCH_MQ processor."""

from __future__ import annotations

import asyncio
import json

import pytest

from rmq_core.broker.managers.rebalance_lock import LockedQueue, RebalanceLockManager
from rmq_core.broker.processors.lock import LockProcessor, parse_lock_body
from rmq_core.remoting import fastjson
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand

Q = [LockedQueue("T", "broker-a", i) for i in range(4)]


class Tick:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_free_queues_lock_and_others_are_refused_per_queue() -> None:
    tick = Tick()
    locks = RebalanceLockManager(60.0, tick)
    assert locks.try_lock_batch("G", Q[:2], "c1") == set(Q[:2])
    assert locks.try_lock_batch("G", Q, "c2") == set(Q[2:])
    assert locks.holder("G", Q[0]) == "c1" and locks.holder("G", Q[3]) == "c2"
    assert locks.try_lock_batch("OTHER", Q[:1], "c2") == {Q[0]}  # groups are separate


def test_renewal_expiry_and_takeover() -> None:
    tick = Tick()
    locks = RebalanceLockManager(60.0, tick)
    locks.try_lock_batch("G", Q[:1], "c1")
    tick.now += 50
    assert locks.try_lock_batch("G", Q[:1], "c1") == {Q[0]}  # renews
    tick.now += 50
    assert locks.try_lock_batch("G", Q[:1], "c2") == set()  # 50 s since renewal: still held
    tick.now += 11
    assert not locks.is_locked("G", Q[0], "c1")
    assert locks.try_lock_batch("G", Q[:1], "c2") == {Q[0]}
    assert locks.is_locked("G", Q[0], "c2")


def test_only_the_holder_unlocks() -> None:
    locks = RebalanceLockManager(60.0, Tick())
    locks.try_lock_batch("G", Q[:2], "c1")
    locks.unlock_batch("G", Q[:2], "c2")
    assert locks.locked_queues("G") == {Q[0]: "c1", Q[1]: "c1"}
    locks.unlock_batch("G", Q[:1], "c1")
    assert locks.locked_queues("G") == {Q[1]: "c1"}
    assert locks.has_live_locks("G")
    locks.unlock_batch("G", Q[1:2], "c1")
    assert not locks.has_live_locks("G")
    locks.unlock_batch("NOBODY", Q, "c1")


def test_expired_entries_are_dropped() -> None:
    tick = Tick()
    locks = RebalanceLockManager(60.0, tick)
    locks.try_lock_batch("G", Q, "c1")
    tick.now += 61
    assert not locks.has_live_locks("G")
    assert locks.locked_queues("G") == {}


def _body(group="G", client="c1", mqs=Q[:2], **extra) -> bytes:
    data = {"consumerGroup": group, "clientId": client, "onlyThisBroker": False}
    data["mqSet"] = [m.to_json() for m in mqs]
    data.update(extra)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"clientId": "c"}).encode(),
        json.dumps({"consumerGroup": "G", "clientId": ""}).encode(),
        json.dumps({"consumerGroup": "G", "clientId": "c", "mqSet": {}}).encode(),
        json.dumps({"consumerGroup": "G", "clientId": "c", "mqSet": [{"topic": "T"}]}).encode(),
        json.dumps(
            {
                "consumerGroup": "G",
                "clientId": "c",
                "mqSet": [{"topic": "T", "brokerName": "b", "queueId": "x"}],
            }
        ).encode(),
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_lock_body(body)


def test_parse_accepts_string_queue_ids_and_fastjson() -> None:
    raw = (
        b'{"consumerGroup":"G","clientId":"c",'
        b'"mqSet":[{"brokerName":"b","queueId":"3","topic":"T"}]}'
    )
    assert parse_lock_body(raw).queues == (LockedQueue("T", "b", 3),)


def test_processor_locks_refuses_and_unlocks(ctx) -> None:
    class Conn:
        remote_address = "127.0.0.1:1"

    async def call(processor, code, body):
        return await processor(RemotingCommand.request(code, body=body), Conn())

    async def scenario() -> None:
        locks = RebalanceLockManager()
        processor = LockProcessor(ctx, locks)
        first = await call(processor, RequestCode.LOCK_BATCH_MQ, _body(mqs=Q[:2]))
        assert first.code == ResponseCode.SUCCESS
        held = fastjson.loads(first.body)["lockOKMQSet"]
        assert [LockedQueue.from_json(m) for m in held] == Q[:2]
        second = await call(processor, RequestCode.LOCK_BATCH_MQ, _body(client="c2", mqs=Q))
        assert [m["queueId"] for m in fastjson.loads(second.body)["lockOKMQSet"]] == [2, 3]
        unlocked = await call(processor, RequestCode.UNLOCK_BATCH_MQ, _body(mqs=Q[:1]))
        assert unlocked.code == ResponseCode.SUCCESS and unlocked.body == b""
        third = await call(processor, RequestCode.LOCK_BATCH_MQ, _body(client="c2", mqs=Q))
        assert [m["queueId"] for m in fastjson.loads(third.body)["lockOKMQSet"]] == [0, 2, 3]
        bad = await call(processor, RequestCode.LOCK_BATCH_MQ, b"{")
        assert bad.code == ResponseCode.SYSTEM_ERROR and "bad lock body" in bad.remark

    asyncio.run(scenario())
