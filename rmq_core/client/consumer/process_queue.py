"""``ProcessQueue``: messages pulled from one queue and not yet consumed (``ProcessQueue.java``).

The push consumer puts every pulled batch here and removes messages as handlers finish. The
offset safe to commit is always the smallest offset still held (or one past the largest
offset ever held once the queue is empty), so a crash never skips an unconsumed message.
The count, byte size and offset span of what is held drive pull flow control.

Invariants: ``msg_count`` counts held plus orderly-consuming messages; ``msg_size`` is the
sum of their bodies' lengths (bytes); ``queue_offset_max`` only grows. Not thread-safe: use
it from the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["FlowControlThresholds", "ProcessQueue", "QueuedMessage"]


class QueuedMessage(Protocol):
    """What a process queue needs of a message: its queue offset and body."""

    @property
    def queue_offset(self) -> int: ...

    @property
    def body(self) -> bytes: ...


M = TypeVar("M", bound=QueuedMessage)


@dataclass(frozen=True, slots=True)
class FlowControlThresholds:
    """Pull flow-control limits of one queue; a value <= 0 disables that check.

    ``max_count`` messages, ``max_size`` bytes (bodies), ``max_span`` offsets between the
    first and last held message (concurrent consumption only).
    """

    max_count: int = 1000
    max_size: int = 100 * 1024 * 1024
    max_span: int = 2000


class ProcessQueue(Generic[M]):
    """Held messages of one queue, ordered by queue offset."""

    def __init__(self) -> None:
        self._held: dict[int, M] = {}
        self._consuming: dict[int, M] = {}
        self._sorted = True
        self.msg_size = 0
        self.queue_offset_max = -1
        self.dropped = False
        self.locked = False
        self.last_lock_timestamp = 0.0
        self.consuming = False
        self.last_pull_timestamp = time.monotonic()
        self.last_consume_timestamp = time.monotonic()

    @property
    def msg_count(self) -> int:
        """Messages held, including those being consumed in orderly mode."""
        return len(self._held) + len(self._consuming)

    def is_empty(self) -> bool:
        """True when nothing is held or being consumed."""
        return not self._held and not self._consuming

    def _ensure_sorted(self) -> None:
        if not self._sorted:
            self._held = dict(sorted(self._held.items()))
            self._sorted = True

    def put_messages(self, messages: Iterable[M]) -> int:
        """Hold ``messages``; returns how many were new (duplicates of held offsets ignored)."""
        held = self._held
        last = next(reversed(held)) if held else -1  # the newest key, while keys stay sorted
        highest = self.queue_offset_max
        added = size = 0
        for msg in messages:
            offset = msg.queue_offset
            if offset in held:
                continue
            if offset < last:
                self._sorted = False
            else:
                last = offset
            held[offset] = msg
            size += len(msg.body)
            added += 1
            if offset > highest:
                highest = offset
        self.msg_size += size
        self.queue_offset_max = highest
        return added

    def remove_messages(self, messages: Iterable[M]) -> int:
        """Release consumed ``messages``; returns the offset now safe to commit, or -1.

        -1 means nothing was held (nothing to commit); otherwise the smallest held offset,
        or ``queue_offset_max + 1`` when the queue became empty.
        """
        self.last_consume_timestamp = time.monotonic()
        if not self._held:
            return -1
        for msg in messages:
            held = self._held.pop(msg.queue_offset, None)
            if held is not None:
                self.msg_size -= len(held.body)
        return self.first_offset() if self._held else self.queue_offset_max + 1

    def first_offset(self) -> int:
        """Smallest held offset; raises ValueError when empty."""
        if not self._held:
            raise ValueError("process queue is empty")
        self._ensure_sorted()
        return next(iter(self._held))

    def max_span(self) -> int:
        """Last held offset minus first held offset (0 when fewer than two are held)."""
        if len(self._held) < 2:
            return 0
        self._ensure_sorted()
        return next(reversed(self._held)) - next(iter(self._held))

    def take_messages(self, count: int) -> list[M]:
        """Orderly consumption: move up to ``count`` lowest-offset messages to "consuming".

        They still count in ``msg_size`` until :meth:`commit` releases them or
        :meth:`make_messages_to_consume_again` puts them back.
        """
        self._ensure_sorted()
        taken: list[M] = []
        for offset in list(self._held)[:count]:
            msg = self._held.pop(offset)
            self._consuming[offset] = msg
            taken.append(msg)
        return taken

    def commit(self) -> int:
        """Orderly consumption: release the consuming messages; returns the offset to commit.

        That is one past the highest consuming offset, or -1 when none was consuming.
        """
        if not self._consuming:
            return -1
        last = max(self._consuming)
        for msg in self._consuming.values():
            self.msg_size -= len(msg.body)
        self._consuming.clear()
        return last + 1

    def make_messages_to_consume_again(self, messages: Iterable[M]) -> None:
        """Orderly consumption: put consuming ``messages`` back to be taken again."""
        for msg in messages:
            if self._consuming.pop(msg.queue_offset, None) is not None:
                self._held[msg.queue_offset] = msg
        self._sorted = False

    def flow_control_reason(self, limits: FlowControlThresholds, *, check_span: bool) -> str | None:
        """Why the next pull should wait, or None when it may go ahead."""
        if limits.max_count > 0 and self.msg_count > limits.max_count:
            return f"cached message count {self.msg_count} > {limits.max_count}"
        if limits.max_size > 0 and self.msg_size > limits.max_size:
            return f"cached message size {self.msg_size} B > {limits.max_size} B"
        if check_span and limits.max_span > 0 and self.max_span() > limits.max_span:
            return f"offset span {self.max_span()} > {limits.max_span}"
        return None

    def is_pull_expired(self, max_idle: float) -> bool:
        """True when no pull happened for ``max_idle`` seconds."""
        return time.monotonic() - self.last_pull_timestamp > max_idle

    def clear(self) -> None:
        """Drop everything held (the queue was removed by a rebalance)."""
        self._held.clear()
        self._consuming.clear()
        self.msg_size = 0
