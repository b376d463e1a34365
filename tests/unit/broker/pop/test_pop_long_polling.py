"""PopHoldService: no lost wake-ups, bounded and batched cross-thread arrivals, and whom an
arrival wakes (the oldest pop of each group that reads the queue and accepts the message)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import Any

from rmq_core.broker.hold_service import MAX_ARRIVAL_SAMPLES
from rmq_core.broker.pop.long_polling import HeldPop, PopHoldService

MANY = 10_000
HOLD = 30.0
"""Seconds a test pop is held: far longer than any test waits, so a wake-up is never expiry."""


class FakeConnection:
    closed = False


class TagFilter:
    """Matches messages whose tags code is ``wanted``."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted

    def is_matched_by_consume_queue(self, tags_code: int | None) -> bool:
        return tags_code == self.wanted

    def is_matched_by_commit_log(self, properties: Mapping[str, str]) -> bool:
        return True


class Service:
    """A pop hold service over fake max offsets, recording ``(pop, final)`` of each wake."""

    def __init__(self) -> None:
        self.woken: list[tuple[HeldPop, bool]] = []
        self.max_offsets: dict[tuple[str, int], int] = {}
        self.hold = PopHoldService(
            lambda held, final: self.woken.append((held, final)),
            queue_max_offset=lambda t, q: self.max_offsets.get((t, q), 0),
        )

    def read(self, topic: str = "T", queues: int = 2) -> dict[tuple[str, int], int]:
        """The watermarks a pop reading every queue of ``topic`` takes (max offsets now)."""
        return {(topic, q): self.max_offsets.get((topic, q), 0) for q in range(queues)}

    def park(
        self,
        *,
        group: str = "G",
        queue_id: int = -1,
        wanted_tag: int | None = None,
        watermarks: dict[tuple[str, int], int] | None = None,
    ) -> HeldPop:
        request: Any = object()
        connection: Any = FakeConnection()
        held = HeldPop(
            request=request,
            connection=connection,
            group=group,
            topics=("T", f"%RETRY%{group}_T"),
            queue_id=queue_id,
            message_filter=None if wanted_tag is None else TagFilter(wanted_tag),
            deadline=asyncio.get_running_loop().time() + HOLD,
            watermarks=self.read() if watermarks is None else watermarks,
        )
        assert self.hold.suspend(held)
        return held

    def notify(self, topic: str, queue_id: int, offset: int, tags_code: int = 7) -> None:
        self.hold.notify_message_arriving(topic, queue_id, offset, tags_code, 0, None)

    def arrive_from_thread(self, arrivals: list[tuple[str, int, int, int]]) -> None:
        """``(topic, queue_id, max offset, tags code)`` arrivals notified from another thread."""

        def notify_all() -> None:
            for topic, queue_id, offset, tags_code in arrivals:
                self.notify(topic, queue_id, offset, tags_code)

        self.from_thread(notify_all)

    def from_thread(self, work: Callable[[], None]) -> None:
        """Run ``work`` on another thread (the store's dispatcher) and join it: the loop
        cannot run in between."""
        thread = threading.Thread(target=work)
        thread.start()
        thread.join(30)
        assert not thread.is_alive()


async def _turns(count: int = 3) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def _run(scenario: Callable[[], Any]) -> None:
    async def main() -> None:
        await asyncio.wait_for(scenario(), 30)

    asyncio.run(main())


def test_a_pop_parked_right_after_a_dropped_arrival_is_woken_by_it() -> None:
    async def scenario() -> None:
        svc = Service()
        svc.hold.bind_loop(asyncio.get_running_loop())
        watermarks = svc.read()  # the pop reads the empty queues ...

        def arrive() -> None:  # ... a message becomes readable and its arrival is notified ...
            svc.max_offsets[("T", 1)] = 1
            svc.notify("T", 1, 1)

        svc.from_thread(arrive)
        assert svc.hold.pending_keys == 0  # ... and dropped: no pop was parked yet
        held = svc.park(watermarks=watermarks)  # ... then the pop parks
        await _turns()
        assert svc.woken == [(held, False)]  # woken by the arrival, long before its deadline
        assert svc.hold.held_count == 0

    _run(scenario)


def test_a_pop_parked_with_current_watermarks_stays_parked() -> None:
    async def scenario() -> None:
        svc = Service()
        svc.max_offsets[("T", 0)] = 5  # messages it could not take (in flight) do not wake it
        svc.park()
        await _turns()
        assert svc.woken == [] and svc.hold.held_count == 1
        svc.hold.shutdown()
        assert svc.hold.held_count == 0

    _run(scenario)


def test_cross_thread_arrivals_keep_one_bounded_entry_per_watched_topic() -> None:
    async def scenario() -> None:
        svc = Service()
        first = svc.park(group="A", wanted_tag=7)
        second = svc.park(group="A", wanted_tag=7)
        third = svc.park(group="A", wanted_tag=7)

        def flood() -> None:
            for offset in range(MANY):
                svc.notify("Unwatched", offset % 4, offset + 1)
                svc.notify("T", offset % 2, offset + 1, tags_code=1)  # matches no filter

        svc.from_thread(flood)
        assert svc.hold.pending_keys == 1  # "T" only: nothing kept for the unwatched topic
        assert svc.hold.pending_samples <= MAX_ARRIVAL_SAMPLES
        await _turns()
        # too many to check one by one: the oldest pops are woken and re-run their filter
        assert [held for held, _ in svc.woken] == [first, second, third]
        assert svc.hold.pending_keys == 0 and svc.hold.held_count == 0

    _run(scenario)


def test_one_cross_thread_batch_is_checked_against_queues_and_filters() -> None:
    async def scenario() -> None:
        svc = Service()
        one_queue = svc.park(group="A", queue_id=1, wanted_tag=7)
        tagged = svc.park(group="B", wanted_tag=9)
        svc.arrive_from_thread([("T", 0, 1, 7), ("T", 1, 1, 8)])
        assert svc.hold.pending_samples == 2
        await _turns()
        assert svc.woken == [] and svc.hold.held_count == 2  # wrong queue, wrong tag
        svc.arrive_from_thread([("T", 1, 2, 7), ("T", 0, 2, 9)])
        await _turns()
        assert svc.woken == [(one_queue, False), (tagged, False)]

    _run(scenario)


def test_an_arrival_wakes_the_oldest_pop_of_each_group() -> None:
    async def scenario() -> None:
        svc = Service()
        a_old = svc.park(group="A")
        a_new = svc.park(group="A")
        b = svc.park(group="B")
        svc.notify("T", 0, 1)
        assert svc.woken == [(a_old, False), (b, False)]
        assert svc.hold.held_count == 1
        svc.notify("T", 0, 2)
        assert svc.woken[-1] == (a_new, False)

    _run(scenario)


def test_the_retry_topic_wakes_a_pop_of_one_queue_whatever_the_queue() -> None:
    async def scenario() -> None:
        svc = Service()
        held = svc.park(group="A", queue_id=1)
        svc.notify("T", 0, 1)
        assert svc.woken == []
        svc.notify("%RETRY%A_T", 0, 1)
        assert svc.woken == [(held, False)]

    _run(scenario)


def test_expiry_answers_final_and_closed_connections_are_dropped() -> None:
    async def scenario() -> None:
        svc = Service()
        loop = asyncio.get_running_loop()
        request: Any = object()
        connection: Any = FakeConnection()
        soon = HeldPop(request, connection, "G", ("T", "%RETRY%G_T"), -1, None, loop.time())
        assert svc.hold.suspend(soon)
        gone = svc.park()
        gone.connection.closed = True
        await asyncio.sleep(0.01)
        assert svc.woken == [(soon, True)]
        svc.notify("T", 0, 1)
        assert svc.woken == [(soon, True)] and svc.hold.held_count == 0

    _run(scenario)


def test_the_service_is_bounded() -> None:
    async def scenario() -> None:
        svc = Service()
        svc.hold = PopHoldService(lambda held, final: None, max_held=2)
        svc.park()
        svc.park()
        request: Any = object()
        connection: Any = FakeConnection()
        deadline = asyncio.get_running_loop().time() + HOLD
        extra = HeldPop(request, connection, "G", ("T",), -1, None, deadline)
        assert not svc.hold.suspend(extra)
        assert svc.hold.held_count == 2
        svc.hold.shutdown()

    _run(scenario)
