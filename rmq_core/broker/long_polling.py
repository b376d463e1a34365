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
Arrival notifications may come from any thread. One from the loop's thread is handled at once;
one from another thread is remembered only when a pull is parked on its queue, coalesced per
``(topic, queue_id)`` into the queue's newest max offset plus up to
:data:`MAX_ARRIVAL_SAMPLES` ``(offset, tags code, properties)`` samples for the filters (past
that, the samples are dropped and every parked pull of the queue below the new max offset is
woken, whatever its filter). So the backlog is at most one entry per queue with parked pulls,
each of bounded size, however fast messages arrive. Only the first arrival since the loop last
drained wakes the loop (one ``call_soon_threadsafe`` per batch instead of one self-pipe write
per message, which cost the dispatch thread about a third of its time).

An arrival dropped because no pull was parked yet cannot strand a pull that parks right after:
:meth:`PullRequestHoldService.suspend` reads the queue's max offset *after* registering the
pull (``queue_max_offset``) and wakes it on the next loop turn when a message already arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.transport import Connection

__all__ = ["MAX_ARRIVAL_SAMPLES", "HeldPull", "PullRequestHoldService"]

logger = logging.getLogger(__name__)

Reexecute = Callable[["HeldPull"], None]
QueueMaxOffset = Callable[[str, int], int]
_Sample = tuple[int, "int | None", "Mapping[str, str] | None"]  # max offset, tags code, props

MAX_ARRIVAL_SAMPLES = 32
"""Arrivals per queue kept for filter checks between two drains; more wake every parked pull
of the queue below the new max offset (the woken pulls re-run their filter in the store)."""


@dataclass(slots=True)
class _QueueArrivals:
    """Arrivals at one queue since the last drain: the newest max offset and, unless
    ``overflowed``, one sample per arrival."""

    max_offset: int
    samples: list[_Sample]
    overflowed: bool = False


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

    def __init__(
        self,
        reexecute: Reexecute,
        max_held: int = 100_000,
        queue_max_offset: QueueMaxOffset | None = None,
    ) -> None:
        """``queue_max_offset(topic, queue_id)`` (the store's max offset) closes the window
        between a pull's read and its park; without it an arrival from another thread in that
        window is only noticed when the hold expires."""
        self._reexecute = reexecute
        self._max_held = max_held
        self._queue_max_offset = queue_max_offset
        # Keys are added and removed under _lock (other threads look them up); the lists are
        # only touched on the loop.
        self._held: dict[tuple[str, int], list[HeldPull]] = {}
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # Arrivals from other threads, coalesced per queue, wait here for the loop;
        # _drain_pending is True while a drain is scheduled and has not started yet.
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], _QueueArrivals] = {}
        self._drain_pending = False

    @property
    def held_count(self) -> int:
        """Pulls parked now."""
        return self._count

    @property
    def pending_queues(self) -> int:
        """Queues with cross-thread arrivals waiting for the loop (at most one entry per queue
        that had a parked pull when its message arrived)."""
        return len(self._pending)

    @property
    def pending_samples(self) -> int:
        """Arrival samples waiting for the loop (at most :data:`MAX_ARRIVAL_SAMPLES` a queue)."""
        with self._lock:
            return sum(len(arrivals.samples) for arrivals in self._pending.values())

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
        key = (held.topic, held.queue_id)
        with self._lock:
            self._held.setdefault(key, []).append(held)
        self._count += 1
        held.timer = loop.call_at(held.deadline, self._expire, held)
        # Registered first, read second: an arrival that found no parked pull on this queue
        # made its message readable before that, so the max offset read here shows it.
        if self._queue_max_offset is not None:
            max_offset = self._queue_max_offset(held.topic, held.queue_id)
            if max_offset > held.offset:
                loop.call_soon(self._on_arrival, key, _QueueArrivals(max_offset, [], True))
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
            with self._lock:
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
        loop = self._loop
        if loop is None:
            return
        key = (topic, queue_id)
        if threading.get_ident() == self._loop_thread:
            if key in self._held:
                single = _QueueArrivals(logic_offset, [(logic_offset, tags_code, properties)])
                self._on_arrival(key, single)
            return
        if loop.is_closed():
            return
        with self._lock:
            if key not in self._held:
                return  # nobody waits on this queue: nothing to remember
            arrivals = self._pending.get(key)
            if arrivals is None:
                sample = (logic_offset, tags_code, properties)
                self._pending[key] = _QueueArrivals(logic_offset, [sample])
            else:
                arrivals.max_offset = max(arrivals.max_offset, logic_offset)
                if arrivals.overflowed:
                    pass  # every parked pull below max_offset is woken anyway
                elif len(arrivals.samples) < MAX_ARRIVAL_SAMPLES:
                    arrivals.samples.append((logic_offset, tags_code, properties))
                else:
                    arrivals.overflowed = True
                    arrivals.samples = []
            if self._drain_pending:
                return
            self._drain_pending = True
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._drain_arrivals)

    def _drain_arrivals(self) -> None:
        """Handle every queued cross-thread arrival (on the loop)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._drain_pending = False
        for key, arrivals in pending.items():
            self._on_arrival(key, arrivals)

    def _on_arrival(self, key: tuple[str, int], arrivals: _QueueArrivals) -> None:
        """Wake the parked pulls of ``key`` that the arrivals concern: below the new max
        offset and, unless the samples overflowed, matched by one arrival at or past their
        offset."""
        queue = self._held.get(key)
        if not queue:
            return
        for held in list(queue):
            if held.connection.closed:
                self._remove(held)
                continue
            if arrivals.max_offset <= held.offset:
                continue
            if not arrivals.overflowed and not any(
                offset > held.offset and _matches(held.message_filter, tags_code, properties)
                for offset, tags_code, properties in arrivals.samples
            ):
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
