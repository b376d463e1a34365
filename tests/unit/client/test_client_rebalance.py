"""Allocation strategies give RocketMQ's allocations (AllocateMessageQueue*Test)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.rebalance.strategies import (
    AllocateMessageQueueAveragely,
    AllocateMessageQueueAveragelyByCircle,
    AllocateMessageQueueByConfig,
    AllocateMessageQueueConsistentHash,
    md5_hash,
)
from rmq_core.errors import ClientError


def queues(n: int, broker: str = "broker-a") -> list[MessageQueue]:
    return [MessageQueue("T", broker, i) for i in range(n)]


def cids(n: int) -> list[str]:
    return [f"CID_PREFIX{i}" for i in range(n)]


def allocation(strategy, m: int, n: int) -> list[list[int]]:
    mq_all, cid_all = queues(m), cids(n)
    return [[mq.queue_id for mq in strategy.allocate("g", c, mq_all, cid_all)] for c in cid_all]


@pytest.mark.parametrize(
    ("m", "n", "expected"),
    [
        (8, 3, [[0, 1, 2], [3, 4, 5], [6, 7]]),
        (10, 4, [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]),
        (4, 4, [[0], [1], [2], [3]]),
        (3, 5, [[0], [1], [2], [], []]),
        (16, 2, [list(range(8)), list(range(8, 16))]),
        (1, 1, [[0]]),
    ],
)
def test_averagely_blocks(m: int, n: int, expected: list[list[int]]) -> None:
    assert allocation(AllocateMessageQueueAveragely(), m, n) == expected


@pytest.mark.parametrize(
    ("m", "n", "expected"),
    [
        (8, 3, [[0, 3, 6], [1, 4, 7], [2, 5]]),
        (10, 4, [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]]),
        (3, 5, [[0], [1], [2], [], []]),
    ],
)
def test_averagely_by_circle(m: int, n: int, expected: list[list[int]]) -> None:
    assert allocation(AllocateMessageQueueAveragelyByCircle(), m, n) == expected


@given(st.integers(1, 40), st.integers(1, 12))
def test_every_queue_allocated_exactly_once(m: int, n: int) -> None:
    for strategy in (
        AllocateMessageQueueAveragely(),
        AllocateMessageQueueAveragelyByCircle(),
        AllocateMessageQueueConsistentHash(),
    ):
        flat = [q for part in allocation(strategy, m, n) for q in part]
        assert sorted(flat) == list(range(m)), strategy.name


def test_averagely_sizes_differ_by_at_most_one() -> None:
    sizes = [len(p) for p in allocation(AllocateMessageQueueAveragely(), 37, 6)]
    assert max(sizes) - min(sizes) <= 1


def test_unknown_consumer_gets_nothing_and_bad_input_raises() -> None:
    strategy = AllocateMessageQueueAveragely()
    assert strategy.allocate("g", "other", queues(4), cids(2)) == []
    with pytest.raises(ClientError):
        strategy.allocate("g", "", queues(4), cids(2))
    with pytest.raises(ClientError):
        strategy.allocate("g", "c", [], ["c"])
    with pytest.raises(ClientError):
        strategy.allocate("g", "c", queues(1), [])


def test_md5_hash_is_first_four_digest_bytes_unsigned() -> None:
    digest = hashlib.md5(b"client-0").digest()
    assert md5_hash("client-0") == int.from_bytes(digest[:4], "big")
    # A known value: MD5("abc") = 900150983cd24fb0...
    assert md5_hash("abc") == 0x90015098


def test_consistent_hash_moves_few_queues_when_a_consumer_joins() -> None:
    strategy = AllocateMessageQueueConsistentHash()
    mq_all = queues(64)
    before_ids, after_ids = cids(4), cids(5)
    before = {mq: c for c in before_ids for mq in strategy.allocate("g", c, mq_all, before_ids)}
    after = {mq: c for c in after_ids for mq in strategy.allocate("g", c, mq_all, after_ids)}
    moved = [mq for mq in mq_all if before[mq] != after[mq]]
    # Only queues taken over by the newcomer move.
    assert all(after[mq] == after_ids[-1] for mq in moved)


def test_consistent_hash_keys_on_java_to_string() -> None:
    mq = MessageQueue("T", "b", 3)
    assert str(mq) == "MessageQueue [topic=T, brokerName=b, queueId=3]"
    with pytest.raises(ClientError):
        AllocateMessageQueueConsistentHash(0)


def test_by_config_returns_configured_queues() -> None:
    fixed = [MessageQueue("T", "b", 1)]
    assert AllocateMessageQueueByConfig(fixed).allocate("g", "c", queues(4), cids(3)) == fixed


def test_message_queue_order_and_json() -> None:
    a, b = MessageQueue("T", "a", 2), MessageQueue("T", "b", 0)
    assert sorted([b, a]) == [a, b]
    assert MessageQueue.from_json({"topic": "T", "brokerName": "a", "queueId": "2"}) == a
    assert a.to_json() == {"brokerName": "a", "queueId": 2, "topic": "T"}
