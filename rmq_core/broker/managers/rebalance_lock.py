"""Broker-side queue locks of orderly consumers (Java ``RebalanceLockManager``, reference §3.5).

An orderly push consumer in CLUSTERING mode consumes a queue only while it holds that queue's
lock on the broker. Per (consumer group, message queue) the broker keeps the holder's client
id and when it last locked. A lock request for a queue succeeds when the queue is free, the
holder's lock expired (no renewal for ``lock_max_live_time`` seconds, 60 s by default), or the
requester already holds it (which renews it). Only the holder can unlock.

Used from the event loop only; ``clock`` is monotonic seconds (injectable for tests). The table
holds one entry per queue that was ever locked and not unlocked; expired entries are dropped
when a group's table is touched, so it stays bounded by the live queues.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_LOCK_MAX_LIVE_TIME", "LockEntry", "LockedQueue", "RebalanceLockManager"]

logger = logging.getLogger(__name__)

DEFAULT_LOCK_MAX_LIVE_TIME = 60.0
"""Seconds a broker lock lives without renewal (``rocketmq.broker.rebalance.lockMaxLiveTime``)."""


@dataclass(frozen=True, slots=True, order=True)
class LockedQueue:
    """A message queue as lock bodies name it; ordered like Java's ``MessageQueue``."""

    topic: str
    broker_name: str
    queue_id: int

    @classmethod
    def from_json(cls, data: Any) -> LockedQueue:
        """Parse ``{"topic","brokerName","queueId"}``; raises ValueError when malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("a message queue must be a JSON object")
        topic = data.get("topic")
        broker_name = data.get("brokerName")
        queue_id = data.get("queueId")
        if not isinstance(topic, str) or not topic:
            raise ValueError("message queue without topic")
        if not isinstance(broker_name, str):
            raise ValueError(f"message queue of {topic} without brokerName")
        if isinstance(queue_id, bool) or not isinstance(queue_id, int | str):
            raise ValueError(f"message queue of {topic} without a numeric queueId")
        try:
            qid = int(queue_id)
        except ValueError:
            raise ValueError(f"message queue of {topic} has queueId {queue_id!r}") from None
        return cls(topic, broker_name, qid)

    def to_json(self) -> dict[str, Any]:
        """The Java ``MessageQueue`` JSON object."""
        return {"brokerName": self.broker_name, "queueId": self.queue_id, "topic": self.topic}


@dataclass(slots=True)
class LockEntry:
    """Who holds a queue lock and since when it was last renewed (monotonic seconds)."""

    client_id: str
    last_update: float

    def expired(self, now: float, max_live_time: float) -> bool:
        """True when the lock was not renewed for more than ``max_live_time`` seconds."""
        return now - self.last_update > max_live_time


class RebalanceLockManager:
    """``group -> queue -> LockEntry`` with RocketMQ's locking rules (module docstring)."""

    def __init__(
        self,
        lock_max_live_time: float = DEFAULT_LOCK_MAX_LIVE_TIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lock_max_live_time <= 0:
            raise ValueError("lock_max_live_time must be positive")
        self.lock_max_live_time = lock_max_live_time
        self._clock = clock
        self._table: dict[str, dict[LockedQueue, LockEntry]] = {}

    def try_lock_batch(
        self, group: str, queues: Iterable[LockedQueue], client_id: str
    ) -> set[LockedQueue]:
        """Lock what can be locked for ``client_id``; the queues it holds afterwards."""
        now = self._clock()
        table = self._table.setdefault(group, {})
        held: set[LockedQueue] = set()
        for mq in queues:
            entry = table.get(mq)
            if entry is None or entry.client_id == client_id:
                table[mq] = LockEntry(client_id, now)
                held.add(mq)
                continue
            if entry.expired(now, self.lock_max_live_time):
                logger.info(
                    "group %s: lock of %s taken over by %s (%s expired)",
                    group,
                    mq,
                    client_id,
                    entry.client_id,
                )
                table[mq] = LockEntry(client_id, now)
                held.add(mq)
                continue
            logger.debug(
                "group %s: %s refused to %s (held by %s)", group, mq, client_id, entry.client_id
            )
        if not table:
            del self._table[group]
        return held

    def unlock_batch(self, group: str, queues: Iterable[LockedQueue], client_id: str) -> None:
        """Release the locks ``client_id`` holds among ``queues`` (others' are kept)."""
        table = self._table.get(group)
        if table is None:
            return
        for mq in queues:
            entry = table.get(mq)
            if entry is not None and entry.client_id == client_id:
                del table[mq]
        if not table:
            del self._table[group]

    def is_locked(self, group: str, mq: LockedQueue, client_id: str) -> bool:
        """True when ``client_id`` holds a live lock of ``mq``."""
        entry = self._table.get(group, {}).get(mq)
        return (
            entry is not None
            and entry.client_id == client_id
            and not entry.expired(self._clock(), self.lock_max_live_time)
        )

    def holder(self, group: str, mq: LockedQueue) -> str | None:
        """The client id holding a live lock of ``mq`` in ``group``, or None."""
        entry = self._table.get(group, {}).get(mq)
        if entry is None or entry.expired(self._clock(), self.lock_max_live_time):
            return None
        return entry.client_id

    def has_live_locks(self, group: str) -> bool:
        """True when some queue of ``group`` is locked (the group consumes orderly)."""
        self._drop_expired(group)
        return bool(self._table.get(group))

    def locked_queues(self, group: str) -> dict[LockedQueue, str]:
        """Live locks of ``group``: queue -> holder client id."""
        self._drop_expired(group)
        return {mq: entry.client_id for mq, entry in self._table.get(group, {}).items()}

    def _drop_expired(self, group: str) -> None:
        table = self._table.get(group)
        if table is None:
            return
        now = self._clock()
        for mq in [mq for mq, e in table.items() if e.expired(now, self.lock_max_live_time)]:
            del table[mq]
        if not table:
            del self._table[group]
