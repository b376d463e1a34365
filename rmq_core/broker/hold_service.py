"""Hold service: park requests that found no message until one arrives or their hold expires.

One mechanism behind both long-polling services: pulls (:mod:`rmq_core.broker.long_polling`,
parked per ``(topic, queue_id)``) and pops (:mod:`rmq_core.broker.pop.long_polling`, parked per
topic and woken per consumer group and queue). A subclass says under which keys a request
waits (:meth:`HoldService._keys`), which key an arrival concerns
(:meth:`HoldService._arrival_key`), whom an arrival wakes (:meth:`HoldService._on_arrival`) and
how a woken request is answered (:meth:`HoldService._reexecute_held`); parking, expiry, the
cross-thread hand-off and the bounds live here.

Guarantees:

- **Bounded.** At most ``max_held`` requests are parked (:meth:`HoldService.suspend` answers
  False beyond that). An arrival from another thread is remembered only when a request waits
  under its key, coalesced per key into one :class:`Arrivals` of at most
  :data:`MAX_ARRIVAL_SAMPLES` samples (past that only a count and the newest offset are kept
  and the subclass wakes without checking filters). So the backlog is at most one bounded
  entry per watched key, however fast messages arrive.
- **Batched.** Only the first cross-thread arrival since the loop last drained wakes the loop:
  one ``call_soon_threadsafe`` per batch, not one self-pipe write per message.
- **No lost wake-up.** An arrival that found nothing parked under its key was readable before
  the request registered; :meth:`HoldService._after_park`, called right after the request is
  registered, re-reads the store and wakes it on the next loop turn when a message arrived
  between the caller's read and the registration.

Everything but :meth:`HoldService.notify_message_arriving` runs on the event loop. Requests of
closed connections are dropped when their key is next touched or they expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from rmq_core.remoting.transport import Connection

__all__ = [
    "MAX_ARRIVAL_SAMPLES",
    "ArrivalSample",
    "Arrivals",
    "HoldService",
    "Parked",
    "filter_accepts",
]

logger = logging.getLogger(__name__)

MAX_ARRIVAL_SAMPLES = 32
"""Arrivals per key kept for filter checks between two drains; more make the arrivals
``overflowed``: the subclass then wakes without checking filters (a woken request re-reads the
store and applies its filter there)."""


ArrivalSample = tuple[int, int, "int | None", "Mapping[str, str] | None"]
"""One message that became readable: ``(queue_id, logic_offset, tags_code, properties)``, where
``logic_offset`` is the queue's new max offset (the message's queue offset + 1, RocketMQ's
convention). A plain tuple: the store's dispatcher thread builds one per watched arrival."""


@dataclass(slots=True)
class Arrivals:
    """Arrivals under one key since the last drain: how many, the largest ``logic_offset`` and,
    unless ``overflowed``, one sample each (at most :data:`MAX_ARRIVAL_SAMPLES`)."""

    count: int = 0
    max_offset: int = 0
    samples: list[ArrivalSample] = field(default_factory=list)
    overflowed: bool = False

    @classmethod
    def of(cls, sample: ArrivalSample) -> Arrivals:
        """Arrivals holding ``sample`` only."""
        return cls(1, sample[1], [sample])

    @classmethod
    def unsampled(cls, max_offset: int) -> Arrivals:
        """Arrivals known only by the max offset they reached (no filter can be checked)."""
        return cls(1, max_offset, [], True)

    def add(
        self,
        queue_id: int,
        logic_offset: int,
        tags_code: int | None,
        properties: Mapping[str, str] | None,
    ) -> None:
        """Count an arrival; keep its sample unless :data:`MAX_ARRIVAL_SAMPLES` are kept
        already (then drop them all: the arrivals are ``overflowed``)."""
        self.count += 1
        if logic_offset > self.max_offset:
            self.max_offset = logic_offset
        if self.overflowed:
            return
        if len(self.samples) < MAX_ARRIVAL_SAMPLES:
            self.samples.append((queue_id, logic_offset, tags_code, properties))
        else:
            self.overflowed = True
            self.samples = []


class Parked(Protocol):
    """What the hold service needs of a parked request."""

    timer: asyncio.TimerHandle | None

    @property
    def connection(self) -> Connection:
        """The connection the answer goes to (nothing is sent once it is closed)."""

    @property
    def deadline(self) -> float:
        """Event-loop time (s) the hold expires at."""


K = TypeVar("K", bound=Hashable)
H = TypeVar("H", bound=Parked)


class HoldService(ABC, Generic[K, H]):
    """Parks requests of type ``H`` under keys of type ``K`` (see the module docstring)."""

    def __init__(self, max_held: int) -> None:
        self._max_held = max_held
        # Keys are added and removed under _lock (the store's thread looks them up); the lists
        # (oldest request first) are only touched on the loop, like _parked.
        self._held: dict[K, list[H]] = {}
        self._parked: set[H] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # Arrivals from other threads, coalesced per key, wait here for the loop;
        # _drain_pending is True while a drain is scheduled and has not started yet.
        self._lock = threading.Lock()
        self._pending: dict[K, Arrivals] = {}
        self._drain_pending = False

    # --- subclass hooks --------------------------------------------------------------------

    @abstractmethod
    def _keys(self, held: H) -> tuple[K, ...]:
        """The keys ``held`` waits under (at least one)."""

    @abstractmethod
    def _arrival_key(self, topic: str, queue_id: int) -> K:
        """The key an arrival at ``topic``/``queue_id`` concerns."""

    @abstractmethod
    def _on_arrival(self, key: K, arrivals: Arrivals) -> None:
        """Wake (with :meth:`_wake_parked`) the requests under ``key`` that ``arrivals``
        concern; :meth:`_parked_under` lists them, oldest first."""

    @abstractmethod
    def _reexecute_held(self, held: H, final: bool) -> None:
        """Answer a woken request; ``final`` when its hold expired (it must not park again)."""

    def _after_park(self, held: H) -> None:
        """Called right after ``held`` is registered: re-read the store and, when a message
        arrived since the caller's read, schedule a wake-up (:meth:`_deliver_soon` or
        :meth:`_wake_soon`). The default trusts the arrivals alone."""

    # --- public API ------------------------------------------------------------------------

    @property
    def held_count(self) -> int:
        """Requests parked now."""
        return len(self._parked)

    @property
    def pending_keys(self) -> int:
        """Keys with cross-thread arrivals waiting for the loop (at most one entry per key
        that had a parked request when its message arrived)."""
        return len(self._pending)

    @property
    def pending_samples(self) -> int:
        """Arrival samples waiting for the loop (at most :data:`MAX_ARRIVAL_SAMPLES` a key)."""
        with self._lock:
            return sum(len(arrivals.samples) for arrivals in self._pending.values())

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop that owns the parked requests (called from that loop)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def suspend(self, held: H) -> bool:
        """Park ``held`` until its deadline (loop time); False when the service is full."""
        if len(self._parked) >= self._max_held:
            return False
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self.bind_loop(loop)
        with self._lock:
            for key in self._keys(held):
                self._held.setdefault(key, []).append(held)
        self._parked.add(held)
        held.timer = loop.call_at(held.deadline, self._expire, held)
        # Registered first, read second: an arrival that found nothing parked under these
        # keys made its message readable before, so the store read here shows it.
        self._after_park(held)
        return True

    def notify_message_arriving(
        self,
        topic: str,
        queue_id: int,
        logic_offset: int,
        tags_code: int | None,
        store_timestamp_ms: int,
        properties: Mapping[str, str] | None,
    ) -> None:
        """Store arrival listener (any thread): a message of ``topic``/``queue_id`` became
        readable and the queue's max offset is now ``logic_offset``."""
        loop = self._loop
        if loop is None:
            return
        key = self._arrival_key(topic, queue_id)
        if threading.get_ident() == self._loop_thread:
            if key in self._held:
                self._on_arrival(key, Arrivals.of((queue_id, logic_offset, tags_code, properties)))
            return
        if loop.is_closed():
            return
        with self._lock:
            if key not in self._held:
                return  # nobody waits under this key: nothing to remember
            arrivals = self._pending.get(key)
            if arrivals is None:
                self._pending[key] = Arrivals.of((queue_id, logic_offset, tags_code, properties))
            else:
                arrivals.add(queue_id, logic_offset, tags_code, properties)
            if self._drain_pending:
                return
            self._drain_pending = True
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._drain_arrivals)

    def shutdown(self) -> None:
        """Drop every parked request (their connections are closing)."""
        for held in list(self._parked):
            self._remove(held)

    # --- helpers for subclasses ------------------------------------------------------------

    def _parked_under(self, key: K) -> list[H]:
        """The requests parked under ``key``, oldest first; those of closed connections are
        dropped on the way."""
        queue = self._held.get(key)
        if not queue:
            return []
        alive: list[H] = []
        for held in list(queue):
            if held.connection.closed:
                self._remove(held)
            else:
                alive.append(held)
        return alive

    def _is_parked(self, held: H) -> bool:
        return held in self._parked

    def _wake_parked(self, held: H) -> bool:
        """Unpark ``held`` and answer it (not final); False when it was no longer parked."""
        if not self._remove(held):
            return False
        self._wake(held, final=False)
        return True

    def _deliver_soon(self, key: K, arrivals: Arrivals) -> None:
        """Handle ``arrivals`` under ``key`` on the next loop turn (from the loop)."""
        asyncio.get_running_loop().call_soon(self._on_arrival, key, arrivals)

    def _wake_soon(self, held: H) -> None:
        """Wake ``held`` on the next loop turn unless something wakes it before (from the
        loop)."""
        asyncio.get_running_loop().call_soon(self._wake_parked, held)

    # --- internals -------------------------------------------------------------------------

    def _remove(self, held: H) -> bool:
        if held not in self._parked:
            return False
        self._parked.discard(held)
        for key in self._keys(held):
            queue = self._held.get(key)
            if queue is None:
                continue
            with contextlib.suppress(ValueError):
                queue.remove(held)
            if not queue:
                with self._lock:
                    del self._held[key]
        if held.timer is not None:
            held.timer.cancel()
        return True

    def _expire(self, held: H) -> None:
        if self._remove(held):
            self._wake(held, final=True)

    def _wake(self, held: H, *, final: bool) -> None:
        if held.connection.closed:
            return
        try:
            self._reexecute_held(held, final)
        except Exception:
            logger.exception("re-executing a held request under %s failed", self._keys(held))

    def _drain_arrivals(self) -> None:
        """Handle every queued cross-thread arrival (on the loop)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._drain_pending = False
        for key, arrivals in pending.items():
            if key in self._held:
                self._on_arrival(key, arrivals)


def filter_accepts(
    message_filter: Any, tags_code: int | None, properties: Mapping[str, str] | None
) -> bool:
    """Whether ``message_filter`` (None: everything) accepts an arriving message: its tags
    code, then its properties when known. A failing filter accepts (the woken request
    re-runs it in the store)."""
    if message_filter is None:
        return True
    try:
        if not message_filter.is_matched_by_consume_queue(tags_code):
            return False
        if properties is not None:
            return bool(message_filter.is_matched_by_commit_log(properties))
    except Exception:
        logger.exception("filter failed on an arriving message; waking the request anyway")
    return True
