"""ProcessQueue bookkeeping and flow-control thresholds."""

from __future__ import annotations

from dataclasses import dataclass

from rmq_core.client.consumer.process_queue import FlowControlThresholds, ProcessQueue


@dataclass
class Msg:
    queue_offset: int
    body: bytes = b"x" * 10


def test_commit_offset_is_smallest_unconsumed() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    msgs = [Msg(i) for i in range(10, 15)]
    assert pq.put_messages(msgs) == 5
    assert pq.put_messages([Msg(12)]) == 0  # duplicate offset ignored
    assert (pq.msg_count, pq.msg_size) == (5, 50)
    assert pq.remove_messages([msgs[1], msgs[3]]) == 10
    assert pq.remove_messages([msgs[0]]) == 12
    assert pq.remove_messages([msgs[2], msgs[4]]) == 15
    assert pq.is_empty() and pq.msg_size == 0
    assert pq.remove_messages([msgs[0]]) == -1


def test_out_of_order_put_keeps_first_offset_correct() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    pq.put_messages([Msg(5), Msg(6)])
    pq.put_messages([Msg(2)])
    assert pq.first_offset() == 2
    assert pq.max_span() == 4


def test_out_of_order_within_one_put_and_queue_offset_max() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    assert pq.put_messages([Msg(7), Msg(3), Msg(9), Msg(3)]) == 3
    assert pq.first_offset() == 3 and pq.max_span() == 6
    assert (pq.queue_offset_max, pq.msg_size) == (9, 30)
    pq.put_messages([Msg(4)])
    assert pq.queue_offset_max == 9 and pq.first_offset() == 3
    assert pq.remove_messages([Msg(3), Msg(4), Msg(7), Msg(9)]) == 10


def test_flow_control_reasons() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    limits = FlowControlThresholds(max_count=3, max_size=100, max_span=50)
    pq.put_messages([Msg(0), Msg(1), Msg(2)])
    assert pq.flow_control_reason(limits, check_span=True) is None
    pq.put_messages([Msg(3)])
    assert "count" in (pq.flow_control_reason(limits, check_span=True) or "")
    pq2: ProcessQueue[Msg] = ProcessQueue()
    pq2.put_messages([Msg(0, b"x" * 200)])
    assert "size" in (pq2.flow_control_reason(limits, check_span=True) or "")
    pq3: ProcessQueue[Msg] = ProcessQueue()
    pq3.put_messages([Msg(0), Msg(100)])
    assert "span" in (pq3.flow_control_reason(limits, check_span=True) or "")
    assert pq3.flow_control_reason(limits, check_span=False) is None
    unlimited = FlowControlThresholds(max_count=0, max_size=0, max_span=0)
    assert pq.flow_control_reason(unlimited, check_span=True) is None


def test_orderly_take_commit_and_retry() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    pq.put_messages([Msg(i) for i in range(5)])
    taken = pq.take_messages(2)
    assert [m.queue_offset for m in taken] == [0, 1]
    assert pq.msg_count == 5
    pq.make_messages_to_consume_again(taken)
    again = pq.take_messages(3)
    assert [m.queue_offset for m in again] == [0, 1, 2]
    assert pq.commit() == 3
    assert pq.msg_count == 2 and pq.msg_size == 20
    assert pq.commit() == -1
    pq.clear()
    assert pq.is_empty()
