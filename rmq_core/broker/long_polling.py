"""Long polling: hold pulls that found no message until one arrives or the hold expires.

A pull that finds nothing new (PULL_NOT_FOUND) with the SUSPEND flag is parked here under its
``(topic, queue_id)`` for ``suspendTimeoutMillis`` (or ``shortPollingTimeMills`` when long
polling is off). The store's arrival listener calls :meth:`PullRequestHoldService.
notify_message_arriving` for each new message; every parked pull of that queue whose offset is
below the new maximum and whose filter accepts the message is re-executed at once (without the
suspend flag, so it answers whatever it finds). A pull whose hold expires is re-executed too and
then normally answers PULL_NOT_FOUND with the current offsets, as RocketMQ does.

Bounds: at most ``max_held`` pulls are parked (beyond that the pull answers at once); parked
pulls of a closed connection are dropped when their queue is next touched or they expire.
Arrival notifications may come from any thread; they are moved onto the event loop in batches:
a notification from another thread is queued, and only the first one queued since the loop last
drained the queue wakes the loop (one ``call_soon_threadsafe`` per batch instead of one
self-pipe write per message, which cost the dispatch thread about a third of its time).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.transport import Connection

__all__ = ["HeldPull", "PullRequestHoldService"]

logger = logging.getLogger(__name__)

Reexecute = Callable[["HeldPull"], None]
_Arrival = tuple[str, int, int, "int | None", "Mapping[str, str] | None"]


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


class PullRequestHoldService:
    """Parks and wakes pulls; ``reexecute(held)`` answers a woken pull."""

    def __init__(self, reexecute: Reexecute, max_held: int = 100_000) -> None:
        self._reexecute = reexecute
        self._max_held = max_held
        self._held: dict[tuple[str, int], list[HeldPull]] = {}
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # Arrivals from other threads wait here for the loop; _drain_pending is True while a
        # drain is scheduled and has not started yet.
        self._arrivals: collections.deque[_Arrival] = collections.deque()
        self._drain_pending = False

    @property
    def held_count(self) -> int:
        """Pulls parked now."""
        return self._count

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop that owns the parked pulls (called from that loop)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def suspend(self, held: HeldPull) -> bool:
        """Park ``held`` until its deadline (loop time); False when the service is full."""
        if self._count >= self._max_held:
            return False
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self.bind_loop(loop)
        self._held.setdefault((held.topic, held.queue_id), []).append(held)
        self._count += 1
        held.timer = loop.call_at(held.deadline, self._expire, held)
        return True

    def _remove(self, held: HeldPull) -> bool:
        key = (held.topic, held.queue_id)
        queue = self._held.get(key)
        if queue is None:
            return False
        try:
            queue.remove(held)
        except ValueError:
            return False
        if not queue:
            del self._held[key]
        self._count -= 1
        if held.timer is not None:
            held.timer.cancel()
        return True

    def _expire(self, held: HeldPull) -> None:
        if self._remove(held):
            self._wake(held)

    def _wake(self, held: HeldPull) -> None:
        if held.connection.closed:
            return
        try:
            self._reexecute(held)
        except Exception:
            logger.exception("re-executing a held pull of %s-%d failed", held.topic, held.queue_id)

    def notify_message_arriving(
        self,
        topic: str,
        queue_id: int,
        logic_offset: int,
        tags_code: int | None,
        store_timestamp_ms: int,
        properties: Mapping[str, str] | None,
    ) -> None:
        """Store arrival listener (any thread): the queue's max offset is now ``logic_offset``
        (the new message's queue offset + 1, RocketMQ's convention)."""
        if self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._on_arrival(topic, queue_id, logic_offset, tags_code, properties)
        elif not self._loop.is_closed():
            # Append first, then look at the flag: a drain that has not reset the flag yet
            # will see this arrival, and one that has reset it lets us schedule another.
            self._arrivals.append((topic, queue_id, logic_offset, tags_code, properties))
            if not self._drain_pending:
                self._drain_pending = True
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._drain_arrivals)

    def _drain_arrivals(self) -> None:
        """Handle every queued cross-thread arrival (on the loop)."""
        self._drain_pending = False
        arrivals = self._arrivals
        while arrivals:
            self._on_arrival(*arrivals.popleft())

    def _on_arrival(
        self,
        topic: str,
        queue_id: int,
        logic_offset: int,
        tags_code: int | None,
        properties: Mapping[str, str] | None,
    ) -> None:
        queue = self._held.get((topic, queue_id))
        if not queue:
            return
        max_offset = logic_offset
        for held in list(queue):
            if held.connection.closed:
                self._remove(held)
                continue
            if max_offset <= held.offset:
                continue
            if not _matches(held.message_filter, tags_code, properties):
                continue
            if self._remove(held):
                self._wake(held)

    def shutdown(self) -> None:
        """Drop every parked pull (their connections are closing)."""
        for queue in list(self._held.values()):
            for held in list(queue):
                self._remove(held)


def _matches(
    message_filter: Any, tags_code: int | None, properties: Mapping[str, str] | None
) -> bool:
    if message_filter is None:
        return True
    try:
        if not message_filter.is_matched_by_consume_queue(tags_code):
            return False
        if properties is not None:
            return bool(message_filter.is_matched_by_commit_log(properties))
    except Exception:
        logger.exception("filter failed on an arriving message; waking the pull anyway")
    return True
