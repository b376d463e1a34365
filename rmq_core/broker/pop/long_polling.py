"""Long polling for pops: hold POP_MESSAGE requests that found nothing until a message arrives.

A pop with ``pollTime > 0`` that finds no visible message is parked here under every topic it
reads (the topic and the group's pop retry topic) until its deadline (event-loop time,
seconds). The store's arrival listener calls :meth:`PopHoldService.notify_message_arriving`
for every new message; the **oldest** parked pop of that topic whose filter accepts the
message is woken (one per arrival, so a message does not wake every waiting consumer) and
re-executed by the ``reexecute(held, final=False)`` callback, which may park it again for the
rest of its time when another consumer was faster. A pop whose deadline passes is re-executed
with ``final=True`` and answers whatever it finds (normally "no new message").

Bounds: at most ``max_held`` pops are parked (more are answered POLLING_FULL by the caller);
pops of closed connections are dropped when their topic is next touched or they expire.
Arrival notifications may come from any thread; they are moved onto the event loop.
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

__all__ = ["HeldPop", "PopHoldService"]

logger = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class HeldPop:
    """One parked pop: request, connection, the topics it reads, its filter and deadline."""

    request: RemotingCommand
    connection: Connection
    topics: tuple[str, ...]
    message_filter: Any
    deadline: float
    timer: asyncio.TimerHandle | None = field(default=None)


Reexecute = Callable[[HeldPop, bool], None]


class PopHoldService:
    """Parks and wakes pops; see the module docstring."""

    def __init__(self, reexecute: Reexecute, max_held: int = 100_000) -> None:
        self._reexecute = reexecute
        self._max_held = max_held
        self._by_topic: dict[str, list[HeldPop]] = {}
        self._held: set[HeldPop] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    @property
    def held_count(self) -> int:
        """Pops parked now."""
        return len(self._held)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop owning the parked pops (call from that loop)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def suspend(self, held: HeldPop) -> bool:
        """Park ``held`` until its deadline; False when the service is full."""
        if len(self._held) >= self._max_held:
            return False
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self.bind_loop(loop)
        self._held.add(held)
        for topic in held.topics:
            self._by_topic.setdefault(topic, []).append(held)
        held.timer = loop.call_at(held.deadline, self._expire, held)
        return True

    def _remove(self, held: HeldPop) -> bool:
        if held not in self._held:
            return False
        self._held.discard(held)
        for topic in held.topics:
            queue = self._by_topic.get(topic)
            if queue is None:
                continue
            with contextlib.suppress(ValueError):
                queue.remove(held)
            if not queue:
                del self._by_topic[topic]
        if held.timer is not None:
            held.timer.cancel()
        return True

    def _expire(self, held: HeldPop) -> None:
        if self._remove(held):
            self._wake(held, final=True)

    def _wake(self, held: HeldPop, *, final: bool) -> None:
        if held.connection.closed:
            return
        try:
            self._reexecute(held, final)
        except Exception:
            logger.exception("re-executing a held pop of %s failed", held.topics)

    def notify_message_arriving(
        self,
        topic: str,
        queue_id: int,
        logic_offset: int,
        tags_code: int | None,
        store_timestamp_ms: int,
        properties: Mapping[str, str] | None,
    ) -> None:
        """Store arrival listener (any thread)."""
        if self._loop is None or topic not in self._by_topic:
            return
        if threading.get_ident() == self._loop_thread:
            self._on_arrival(topic, tags_code, properties)
        elif not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_arrival, topic, tags_code, properties)

    def _on_arrival(
        self, topic: str, tags_code: int | None, properties: Mapping[str, str] | None
    ) -> None:
        for held in list(self._by_topic.get(topic, ())):
            if held.connection.closed:
                self._remove(held)
                continue
            if not _matches(held.message_filter, tags_code, properties):
                continue
            if self._remove(held):
                self._wake(held, final=False)
                return

    def shutdown(self) -> None:
        """Drop every parked pop (their connections are closing)."""
        for held in list(self._held):
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
        logger.exception("filter failed on an arriving message; waking the pop anyway")
    return True
