"""Long polling: hold pulls that found no message until one arrives or the hold expires.

A pull that finds nothing new (PULL_NOT_FOUND) with the SUSPEND flag is parked here under its
``(topic, queue_id)`` for ``suspendTimeoutMillis`` (or ``shortPollingTimeMills`` when long
polling is off). The store's arrival listener calls :meth:`PullRequestHoldService.
notify_message_arriving` for each new message; every parked pull of that queue whose offset is
below the new maximum and whose filter accepts the message is re-executed at once (without the
suspend flag, so it answers whatever it finds). A pull whose hold expires is re-executed too and
then normally answers PULL_NOT_FOUND with the current offsets, as RocketMQ does.

Parking, expiry, bounds and the cross-thread hand-off are the shared
:class:`~rmq_core.broker.hold_service.HoldService`: at most ``max_held`` pulls are parked (beyond
that the pull answers at once); arrivals from the store's thread are remembered only for queues
with a parked pull, coalesced per queue into its newest max offset plus up to
:data:`MAX_ARRIVAL_SAMPLES` ``(offset, tags code, properties)`` samples for the filters (past
that, every parked pull of the queue below the new max offset is woken, whatever its filter),
and one ``call_soon_threadsafe`` wakes the loop per batch.

An arrival dropped because no pull was parked yet cannot strand a pull that parks right after:
:meth:`PullRequestHoldService.suspend` reads the queue's max offset *after* registering the
pull (``queue_max_offset``) and wakes the queue's pulls below it on the next loop turn when a
message already arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rmq_core.broker.hold_service import MAX_ARRIVAL_SAMPLES, Arrivals, HoldService, filter_accepts
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.transport import Connection

__all__ = ["MAX_ARRIVAL_SAMPLES", "HeldPull", "PullRequestHoldService"]

Reexecute = Callable[["HeldPull"], None]
QueueMaxOffset = Callable[[str, int], int]
QueueKey = tuple[str, int]


@dataclass(slots=True, eq=False)
class HeldPull:
    """One parked pull: the request, its connection, the offset it waits past and its filter."""

    request: RemotingCommand
    connection: Connection
    topic: str
    queue_id: int
    offset: int
    message_filter: Any
    deadline: float
    timer: asyncio.TimerHandle | None = field(default=None)


class PullRequestHoldService(HoldService[QueueKey, HeldPull]):
    """Parks and wakes pulls; ``reexecute(held)`` answers a woken pull."""

    def __init__(
        self,
        reexecute: Reexecute,
        max_held: int = 100_000,
        queue_max_offset: QueueMaxOffset | None = None,
    ) -> None:
        """``queue_max_offset(topic, queue_id)`` (the store's max offset) closes the window
        between a pull's read and its park; without it an arrival from another thread in that
        window is only noticed when the hold expires."""
        super().__init__(max_held)
        self._reexecute = reexecute
        self._queue_max_offset = queue_max_offset

    @property
    def pending_queues(self) -> int:
        """Queues with cross-thread arrivals waiting for the loop (at most one entry per queue
        that had a parked pull when its message arrived)."""
        return self.pending_keys

    def _keys(self, held: HeldPull) -> tuple[QueueKey, ...]:
        return ((held.topic, held.queue_id),)

    def _arrival_key(self, topic: str, queue_id: int) -> QueueKey:
        return (topic, queue_id)

    def _after_park(self, held: HeldPull) -> None:
        if self._queue_max_offset is None:
            return
        max_offset = self._queue_max_offset(held.topic, held.queue_id)
        if max_offset > held.offset:
            self._deliver_soon((held.topic, held.queue_id), Arrivals.unsampled(max_offset))

    def _on_arrival(self, key: QueueKey, arrivals: Arrivals) -> None:
        """Wake the parked pulls of ``key`` that the arrivals concern: below the new max
        offset and, unless the samples overflowed, matched by one arrival past their offset."""
        for held in self._parked_under(key):
            if arrivals.max_offset <= held.offset:
                continue
            if not arrivals.overflowed and not any(
                offset > held.offset and filter_accepts(held.message_filter, tags_code, properties)
                for _, offset, tags_code, properties in arrivals.samples
            ):
                continue
            self._wake_parked(held)

    def _reexecute_held(self, held: HeldPull, final: bool) -> None:
        self._reexecute(held)
