"""PullRequestHoldService: arrivals from the store's thread are bounded and coalesced.

The store calls the listener for every stored message; nothing may pile up for queues nobody
waits on, and a queue with parked pulls keeps one bounded entry however many messages arrive
before the loop gets to it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from rmq_core.broker.long_polling import MAX_ARRIVAL_SAMPLES, HeldPull, PullRequestHoldService

MANY = 10_000


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
    """A hold service recording the pulls it wakes; ``max_offsets`` feeds queue_max_offset."""

    def __init__(self) -> None:
        self.woken: list[HeldPull] = []
        self.max_offsets: dict[tuple[str, int], int] = {}
        self.hold = PullRequestHoldService(
            self.woken.append, queue_max_offset=lambda t, q: self.max_offsets.get((t, q), 0)
        )

    def park(self, offset: int, wanted_tag: int = 7, queue_id: int = 0) -> HeldPull:
        request: Any = object()
        connection: Any = FakeConnection()
        held = HeldPull(
            request=request,
            connection=connection,
            topic="T",
            queue_id=queue_id,
            offset=offset,
            message_filter=TagFilter(wanted_tag),
            deadline=asyncio.get_running_loop().time() + 30,
        )
        assert self.hold.suspend(held)
        return held

    def arrive_from_thread(self, arrivals: list[tuple[int, int, int]]) -> None:
        """``(queue_id, max offset, tags code)`` arrivals from another thread, which is joined
        before returning: the loop cannot drain in between."""

        def notify() -> None:
            for queue_id, offset, tags_code in arrivals:
                self.hold.notify_message_arriving("T", queue_id, offset, tags_code, 0, None)

        thread = threading.Thread(target=notify)
        thread.start()
        thread.join(30)
        assert not thread.is_alive()


async def _turns(count: int = 3) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def _run(scenario: Any) -> None:
    async def main() -> None:
        await asyncio.wait_for(scenario(), 30)

    asyncio.run(main())


def test_nothing_is_kept_for_queues_without_parked_pulls() -> None:
    async def scenario() -> None:
        svc = Service()
        svc.hold.bind_loop(asyncio.get_running_loop())
        svc.park(offset=5, queue_id=1)
        svc.arrive_from_thread([(0, offset + 1, 7) for offset in range(MANY)])
        assert svc.hold.pending_queues == 0
        assert svc.hold.pending_samples == 0
        await _turns()
        assert svc.woken == []
        svc.hold.shutdown()

    _run(scenario)


def test_a_parked_queue_keeps_one_bounded_entry_and_wakes_on_overflow() -> None:
    async def scenario() -> None:
        svc = Service()
        held = svc.park(offset=0, wanted_tag=7)
        # none of these match the filter, but there are too many to check one by one
        svc.arrive_from_thread([(0, offset + 1, 1) for offset in range(MANY)])
        assert svc.hold.pending_queues == 1
        assert svc.hold.pending_samples <= MAX_ARRIVAL_SAMPLES
        await _turns()
        assert svc.woken == [held]  # the fallback: the woken pull re-runs its filter
        assert svc.hold.pending_queues == 0 and svc.hold.held_count == 0

    _run(scenario)


def test_a_few_arrivals_are_checked_against_the_filter() -> None:
    async def scenario() -> None:
        svc = Service()
        held = svc.park(offset=10, wanted_tag=7)
        # a matching message below the pull's offset and non-matching ones past it: stay parked
        svc.arrive_from_thread([(0, 10, 7), (0, 11, 1), (0, 12, 2)])
        assert svc.hold.pending_samples == 3
        await _turns()
        assert svc.woken == [] and svc.hold.held_count == 1
        svc.arrive_from_thread([(0, 13, 1), (0, 14, 7)])
        await _turns()
        assert svc.woken == [held]

    _run(scenario)


def test_arrivals_on_the_loop_thread_are_handled_at_once() -> None:
    async def scenario() -> None:
        svc = Service()
        held = svc.park(offset=3, wanted_tag=7)
        svc.hold.notify_message_arriving("T", 0, 4, 1, 0, None)
        svc.hold.notify_message_arriving("T", 1, 4, 7, 0, None)
        assert svc.woken == []
        svc.hold.notify_message_arriving("T", 0, 4, 7, 0, None)
        assert svc.woken == [held]
        assert svc.hold.pending_queues == 0

    _run(scenario)


def test_a_message_that_arrived_before_the_park_wakes_the_pull() -> None:
    async def scenario() -> None:
        svc = Service()
        svc.max_offsets[("T", 0)] = 5
        waiting = svc.park(offset=5)
        await _turns()
        assert svc.woken == [] and svc.hold.held_count == 1
        # the message at offset 5 became readable (its arrival found nothing parked) before
        # this pull, which read the queue while it was still empty, was parked
        svc.max_offsets[("T", 0)] = 6
        late = svc.park(offset=5, queue_id=0)
        await _turns()
        assert set(map(id, svc.woken)) == {id(waiting), id(late)}

    _run(scenario)
