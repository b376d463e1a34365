"""Queue selectors, Java hash codes and the latency fault strategy."""

from __future__ import annotations

import random

import pytest

from rmq_core.client.latency import (
    LatencyFaultTolerance,
    MQFaultStrategy,
    compute_not_available_duration,
)
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.selector import (
    SelectMessageQueueByHash,
    SelectMessageQueueByRandom,
    java_hash_code,
    selector_from_callable,
)
from rmq_core.errors import ClientError

MQS = [MessageQueue("T", b, q) for b in ("a", "b") for q in range(4)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", 0),
        ("a", 97),
        ("TagA", 2598919),
        ("hello world", 1794106052),
        ("订单", 35746 * 31 + 21333),
        ("\U0001f600", 0xD83D * 31 + 0xDE00),
        (True, 1231),
        (False, 1237),
        (42, 42),
        (-7, -7),
        (2**40, 256),
    ],
)
def test_java_hash_code(value: object, expected: int) -> None:
    assert java_hash_code(value) == expected


def test_hash_selector_matches_java_abs_remainder() -> None:
    selector = SelectMessageQueueByHash()
    assert selector.select(MQS, None, 10) == MQS[10 % 8]
    assert selector.select(MQS, None, -13) == MQS[5]  # Java: abs(-13 % 8) = 5
    # Same argument, same queue: the basis of ordered sends.
    assert {selector.select(MQS, None, "order-17") for _ in range(5)} == {
        selector.select(MQS, None, "order-17")
    }
    with pytest.raises(ClientError):
        selector.select([], None, 1)


def test_random_and_callable_selectors() -> None:
    chosen = SelectMessageQueueByRandom(random.Random(1)).select(MQS, None, None)
    assert chosen in MQS
    first = selector_from_callable(lambda mqs, msg, arg: mqs[0])
    assert first.select(MQS, None, None) == MQS[0]


def test_not_available_duration_table() -> None:
    assert compute_not_available_duration(0.01) == 0.0
    assert compute_not_available_duration(0.6) == 2.0
    assert compute_not_available_duration(3.5) == 6.0
    assert compute_not_available_duration(20) == 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fault_strategy_avoids_isolated_and_last_broker() -> None:
    clock = FakeClock()
    strategy = MQFaultStrategy(enabled=True, clock=clock)
    strategy.update_fault_item("a", 0.0, isolation=True)
    picks = {strategy.select(MQS, None).broker_name for _ in range(20)}
    assert picks == {"b"}
    clock.now += 11  # isolation of a failure lasts 10 s
    picks = {strategy.select(MQS, None).broker_name for _ in range(20)}
    assert picks == {"a", "b"}
    assert {strategy.select(MQS, "a").broker_name for _ in range(10)} == {"b"}


def test_fault_strategy_falls_back_when_everything_is_isolated() -> None:
    clock = FakeClock()
    strategy = MQFaultStrategy(enabled=True, clock=clock)
    strategy.update_fault_item("a", 0.0, isolation=True)
    strategy.update_fault_item("b", 0.0, isolation=True)
    assert strategy.select(MQS, "a") in MQS
    only_a = [mq for mq in MQS if mq.broker_name == "a"]
    assert strategy.select(only_a, "a").broker_name == "a"


def test_disabled_strategy_round_robins_avoiding_last_broker() -> None:
    strategy = MQFaultStrategy(enabled=False)
    strategy.update_fault_item("a", 0.0, isolation=True)  # ignored when disabled
    assert len({strategy.select(MQS, None) for _ in range(8)}) == 8
    assert {strategy.select(MQS, "b").broker_name for _ in range(8)} == {"a"}


def test_fault_tolerance_pick_one_at_least() -> None:
    clock = FakeClock()
    tolerance = LatencyFaultTolerance(clock)
    assert tolerance.pick_one_at_least() is None
    tolerance.update("a", 1.0, 30)
    tolerance.update("b", 1.0, 5)
    assert tolerance.pick_one_at_least() == "b"
    tolerance.remove("b")
    assert tolerance.is_available("b")
    assert not tolerance.is_available("a")
