"""Pop consumption state: per (group, topic, queue) the pop position and the in-flight messages.

Pure state, no I/O: :class:`PopStateTable` is driven by the pop service on the event loop.

For each ``(group, topic, queue_id)`` a :class:`QueueState` holds

- ``pop_offset``: the next consume-queue offset no pop has handed out yet;
- ``inflight``: queue offset -> :class:`InFlight`, each popped message not yet acknowledged,
  with its commit-log offset, the ``pop_time`` that identifies its current receipt handle and
  its ``deadline`` (epoch ms) after which it becomes visible again;
- ``committed``: the offset last written as the group's consumer offset;
- ``floor``: where the last outside move of the consumer offset put it (0 when there was
  none). In-flight messages below it stay in flight (they are still acknowledged, revived or
  dead-lettered) but no longer hold the consumer offset back.

Invariants:

- every offset below ``pop_offset`` is acknowledged, skipped by the filter, or in ``inflight``;
- the group's consumer offset is the smallest in-flight offset ``>= floor``, else
  ``pop_offset`` (the smallest unacknowledged offset), so it never passes a message that is
  still owed to a consumer, except one below an offset someone else committed. A
  broker that restarts without this table (or with an older copy) re-reads from there:
  acknowledged messages above that offset may be delivered again, none is lost.

Deadlines live in a heap of ``(deadline, key, offset, pop_time)`` with lazy deletion: an entry
whose message was acknowledged or re-hidden since is skipped when it surfaces. The heap is
rebuilt from the live entries when it grows past :data:`HEAP_SLACK` times their number (long
invisible times would otherwise keep stale entries for hours).

Persistence (:meth:`PopStateTable.to_json` / :meth:`PopStateTable.load_json`), the content of
``<storePathRootDir>/config/popState.json`` (rmq's own file; RocketMQ keeps checkpoints in a
revive topic instead)::

    {"version": 1, "queues": [{"group": "g", "topic": "t", "queueId": 0, "popOffset": 12,
      "committed": 9, "floor": 0, "inflight": [[9, 4096, 1700000000000, 30000], ...]}]}

with each in-flight entry ``[queueOffset, commitLogOffset, popTime, invisibleTime]`` (ms).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_INFLIGHT_PER_QUEUE",
    "STATE_VERSION",
    "InFlight",
    "PopKey",
    "PopStateTable",
    "QueueState",
]

logger = logging.getLogger(__name__)

STATE_VERSION = 1
HEAP_SLACK = 4
"""The deadline heap is compacted when it holds more than this many entries per live one."""
MIN_COMPACT = 1024
MAX_INFLIGHT_PER_QUEUE = 65_536
"""In-flight messages per (group, topic, queue); a full queue pops nothing more until acks."""

PopKey = tuple[str, str, int]
"""``(group, topic, queue_id)``."""


@dataclass(slots=True)
class InFlight:
    """One popped, unacknowledged message. Times are epoch milliseconds."""

    offset: int
    commitlog_offset: int
    pop_time: int
    invisible_time: int

    @property
    def deadline(self) -> int:
        """When the message becomes visible again (ms since the epoch)."""
        return self.pop_time + self.invisible_time


@dataclass(slots=True)
class QueueState:
    """Pop position and in-flight messages of one (group, topic, queue)."""

    pop_offset: int
    committed: int = -1
    inflight: dict[int, InFlight] = field(default_factory=dict)
    floor: int = 0

    def min_unacked(self) -> int:
        """The offset to commit: the smallest in-flight offset ``>= floor``, else
        ``pop_offset``."""
        if self.floor <= 0:
            return min(self.inflight) if self.inflight else self.pop_offset
        held = [offset for offset in self.inflight if offset >= self.floor]
        return min(min(held), self.pop_offset) if held else self.pop_offset

    @property
    def full(self) -> bool:
        """True when no more messages may be popped from this queue."""
        return len(self.inflight) >= MAX_INFLIGHT_PER_QUEUE


class PopStateTable:
    """All queue states plus the deadline heap (see the module docstring)."""

    def __init__(self) -> None:
        self._queues: dict[PopKey, QueueState] = {}
        self._heap: list[tuple[int, PopKey, int, int]] = []
        self._live = 0
        self.dirty = False

    # --- queues ---------------------------------------------------------------------------

    def get(self, key: PopKey) -> QueueState | None:
        """The state of ``key`` or None."""
        return self._queues.get(key)

    def create(self, key: PopKey, pop_offset: int) -> QueueState:
        """A fresh state for ``key`` starting at ``pop_offset`` (replacing any old one)."""
        state = QueueState(pop_offset)
        self._queues[key] = state
        self.dirty = True
        return state

    def drop(self, key: PopKey) -> None:
        """Forget ``key`` (its heap entries are skipped when they surface)."""
        state = self._queues.pop(key, None)
        if state is not None:
            self._live -= len(state.inflight)
            self.dirty = True

    def items(self) -> Iterator[tuple[PopKey, QueueState]]:
        """Every (key, state), in no particular order."""
        return iter(list(self._queues.items()))

    def __len__(self) -> int:
        return len(self._queues)

    @property
    def inflight_count(self) -> int:
        """In-flight messages over all queues."""
        return sum(len(s.inflight) for s in self._queues.values())

    # --- in-flight messages -----------------------------------------------------------------

    def add(self, key: PopKey, entry: InFlight) -> None:
        """Record a popped message of ``key`` (its state must exist)."""
        inflight = self._queues[key].inflight
        if entry.offset not in inflight:
            self._live += 1
        inflight[entry.offset] = entry
        self._push(entry.deadline, key, entry)
        self.dirty = True

    def find(self, key: PopKey, offset: int, pop_time: int) -> InFlight | None:
        """The in-flight message at ``offset`` if its current handle has ``pop_time``."""
        state = self._queues.get(key)
        entry = state.inflight.get(offset) if state is not None else None
        if entry is None or entry.pop_time != pop_time:
            return None
        return entry

    def remove(self, key: PopKey, offset: int) -> InFlight | None:
        """Forget the in-flight message at ``offset`` (acknowledged or revived)."""
        state = self._queues.get(key)
        if state is None:
            return None
        entry = state.inflight.pop(offset, None)
        if entry is not None:
            self._live -= 1
            self.dirty = True
        return entry

    def rehide(self, key: PopKey, entry: InFlight, pop_time: int, invisible_time: int) -> None:
        """Give ``entry`` a new handle (``pop_time``) visible again after ``invisible_time``."""
        entry.pop_time = pop_time
        entry.invisible_time = invisible_time
        self._push(entry.deadline, key, entry)
        self.dirty = True

    def next_deadline(self) -> int | None:
        """The earliest live deadline (ms), or None when nothing is in flight."""
        while self._heap:
            deadline, key, offset, pop_time = self._heap[0]
            if self._live_entry(key, offset, pop_time):
                return deadline
            heapq.heappop(self._heap)
        return None

    def pop_expired(self, now_ms: int, limit: int) -> list[tuple[PopKey, InFlight]]:
        """Up to ``limit`` in-flight messages whose deadline is ``<= now_ms`` (still in flight;
        the caller removes each once it has been made visible again)."""
        out: list[tuple[PopKey, InFlight]] = []
        while self._heap and len(out) < limit:
            deadline, key, offset, pop_time = self._heap[0]
            if deadline > now_ms:
                break
            heapq.heappop(self._heap)
            if self._live_entry(key, offset, pop_time):
                out.append((key, self._queues[key].inflight[offset]))
        return out

    def defer(self, key: PopKey, entry: InFlight, retry_at_ms: int) -> None:
        """Retry reviving ``entry`` at ``retry_at_ms`` (its handle stays valid)."""
        self._push(retry_at_ms, key, entry)

    def _push(self, at_ms: int, key: PopKey, entry: InFlight) -> None:
        heapq.heappush(self._heap, (at_ms, key, entry.offset, entry.pop_time))
        if len(self._heap) > HEAP_SLACK * max(self._live, MIN_COMPACT):
            self._compact()

    def _compact(self) -> None:
        """Keep only live heap entries (the latest one per in-flight message)."""
        latest: dict[tuple[PopKey, int], tuple[int, PopKey, int, int]] = {}
        for item in self._heap:
            _, key, offset, pop_time = item
            if self._live_entry(key, offset, pop_time):
                latest[(key, offset)] = min(item, latest.get((key, offset), item))
        self._heap = list(latest.values())
        heapq.heapify(self._heap)

    @property
    def heap_size(self) -> int:
        """Entries in the deadline heap (live and stale)."""
        return len(self._heap)

    def _live_entry(self, key: PopKey, offset: int, pop_time: int) -> bool:
        state = self._queues.get(key)
        entry = state.inflight.get(offset) if state is not None else None
        return entry is not None and entry.pop_time == pop_time

    # --- persistence ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The ``popState.json`` document."""
        queues = []
        for (group, topic, queue_id), state in sorted(self._queues.items()):
            queues.append(
                {
                    "group": group,
                    "topic": topic,
                    "queueId": queue_id,
                    "popOffset": state.pop_offset,
                    "committed": state.committed,
                    "floor": state.floor,
                    "inflight": [
                        [e.offset, e.commitlog_offset, e.pop_time, e.invisible_time]
                        for e in sorted(state.inflight.values(), key=lambda e: e.offset)
                    ],
                }
            )
        return {"version": STATE_VERSION, "queues": queues}

    def load_json(self, data: Any) -> int:
        """Replace the table with ``data`` (a parsed ``popState.json``); malformed queue entries
        are skipped with an error log. Returns the number of queues loaded."""
        self._queues.clear()
        self._heap.clear()
        self._live = 0
        if not isinstance(data, dict) or not isinstance(data.get("queues"), list):
            if data is not None:
                logger.error("pop state file has no 'queues' list; starting empty")
            return 0
        for item in data["queues"]:
            try:
                key, state = _parse_queue(item)
            except (KeyError, TypeError, ValueError) as exc:
                logger.error("pop state entry %r skipped: %s", item, exc)
                continue
            self._queues[key] = state
            self._live += len(state.inflight)
            for entry in state.inflight.values():
                heapq.heappush(self._heap, (entry.deadline, key, entry.offset, entry.pop_time))
        self.dirty = False
        return len(self._queues)


def _parse_queue(item: Any) -> tuple[PopKey, QueueState]:
    if not isinstance(item, dict):
        raise TypeError("not an object")
    group, topic = item["group"], item["topic"]
    if not isinstance(group, str) or not isinstance(topic, str):
        raise TypeError("group and topic must be strings")
    key = (group, topic, int(item["queueId"]))
    state = QueueState(int(item["popOffset"]), int(item.get("committed", -1)))
    state.floor = int(item.get("floor", 0))
    for raw in item.get("inflight") or []:
        offset, commitlog_offset, pop_time, invisible_time = (int(v) for v in raw)
        state.inflight[offset] = InFlight(offset, commitlog_offset, pop_time, invisible_time)
    return key, state
