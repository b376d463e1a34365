"""Long polling for pops: hold POP_MESSAGE requests that found nothing until a message arrives.

A pop with ``pollTime > 0`` that finds no visible message is parked here under every topic it
reads (the topic and the group's pop retry topic) until its deadline (event-loop time,
seconds). The store's arrival listener calls :meth:`PopHoldService.notify_message_arriving`
for every new message; for each consumer group waiting on that topic, the **oldest** parked pop
that reads the message's queue and whose filter accepts the message is woken (one per arrival
and group: a message does not wake every waiting consumer of a group, and every group gets its
own copy) and re-executed by the ``reexecute(held, final=False)`` callback, which may park it
again for the rest of its time when another consumer was faster. A pop whose deadline passes is
re-executed with ``final=True`` and answers whatever it finds (normally "no new message").

Parking, expiry, bounds and the cross-thread hand-off are the shared
:class:`~rmq_core.broker.hold_service.HoldService`: at most ``max_held`` pops are parked (more
are answered POLLING_FULL by the caller); arrivals from the store's thread are remembered only
for topics with a parked pop, coalesced per topic into one bounded entry (past
:data:`~rmq_core.broker.hold_service.MAX_ARRIVAL_SAMPLES` samples, the oldest ``count`` pops of
each group are woken whatever their queue and filter), and one ``call_soon_threadsafe`` wakes
the loop per batch.

No lost wake-up: a pop carries ``watermarks``, the max offset of every queue it read taken
before reading it (:attr:`rmq_core.broker.pop.service.PopBatch.watermarks`). Right after the
pop is registered, those queues' max offsets are read again (``queue_max_offset``); one that
moved means a message arrived between the read and the park (its arrival found no pop parked
and was dropped), and the pop is woken on the next loop turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.broker.hold_service import Arrivals, ArrivalSample, HoldService, filter_accepts
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.transport import Connection

__all__ = ["HeldPop", "PopHoldService"]

QueueMaxOffset = Callable[[str, int], int]


@dataclass(slots=True, eq=False)
class HeldPop:
    """One parked pop: request, connection, group, the topics it reads (the topic, then the
    group's pop retry topic), the queue of the topic it reads (-1: every queue), its filter,
    its deadline and the ``watermarks`` ``{(topic, queue_id): max offset}`` of the queues it
    read, taken before reading them."""

    request: RemotingCommand
    connection: Connection
    group: str
    topics: tuple[str, ...]
    queue_id: int
    message_filter: Any
    deadline: float
    watermarks: Mapping[tuple[str, int], int] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = field(default=None)

    def reads(self, topic: str, queue_id: int) -> bool:
        """Whether this pop reads ``queue_id`` of ``topic`` (a pop of one queue of its topic
        still reads every queue of the retry topic)."""
        return self.queue_id < 0 or topic != self.topics[0] or queue_id == self.queue_id


Reexecute = Callable[[HeldPop, bool], None]


class PopHoldService(HoldService[str, HeldPop]):
    """Parks and wakes pops; see the module docstring."""

    def __init__(
        self,
        reexecute: Reexecute,
        max_held: int = 100_000,
        queue_max_offset: QueueMaxOffset | None = None,
    ) -> None:
        """``queue_max_offset(topic, queue_id)`` (the store's max offset) closes the window
        between a pop's read and its park; without it an arrival from another thread in that
        window is only noticed when the hold expires."""
        super().__init__(max_held)
        self._reexecute = reexecute
        self._queue_max_offset = queue_max_offset

    def _keys(self, held: HeldPop) -> tuple[str, ...]:
        return held.topics

    def _arrival_key(self, topic: str, queue_id: int) -> str:
        return topic

    def _after_park(self, held: HeldPop) -> None:
        read = self._queue_max_offset
        if read is not None and any(
            read(topic, queue_id) > seen for (topic, queue_id), seen in held.watermarks.items()
        ):
            self._wake_soon(held)

    def _on_arrival(self, key: str, arrivals: Arrivals) -> None:
        parked = self._parked_under(key)
        if not parked:
            return
        if arrivals.overflowed:
            self._wake_oldest(parked, arrivals.count)
            return
        for sample in arrivals.samples:
            self._wake_one_per_group(key, parked, sample)

    def _wake_oldest(self, parked: list[HeldPop], count: int) -> None:
        """Wake the ``count`` oldest pops of each group, whatever their queue and filter."""
        woken: dict[str, int] = {}
        for held in parked:
            if woken.get(held.group, 0) < count and self._wake_parked(held):
                woken[held.group] = woken.get(held.group, 0) + 1

    def _wake_one_per_group(self, topic: str, parked: list[HeldPop], sample: ArrivalSample) -> None:
        """Wake, for each group, its oldest pop still parked that reads the sample's queue and
        whose filter accepts the message."""
        queue_id, _, tags_code, properties = sample
        served: set[str] = set()
        for held in parked:
            if held.group in served or not self._is_parked(held):
                continue
            if not held.reads(topic, queue_id):
                continue
            if not filter_accepts(held.message_filter, tags_code, properties):
                continue
            if self._wake_parked(held):
                served.add(held.group)

    def _reexecute_held(self, held: HeldPop, final: bool) -> None:
        self._reexecute(held, final)
