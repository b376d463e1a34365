"""Idempotent consumption: skip messages that were already consumed.

RocketMQ delivers at least once: a rebalance, a lost offset commit or a retry can hand a
message to a listener again. Wrapping the listener makes a redelivered message a no-op::

    from rmq_core.client.idempotent import idempotent

    @idempotent                                  # bounded in-memory record (100,000 ids)
    def on_messages(msgs):
        for msg in msgs:
            charge(msg)

    consumer.register_message_listener(on_messages)

    # or, surviving restarts and shared by the consumers of one host:
    consumer.register_message_listener(
        idempotent(on_messages, store=SqliteIdStore("/var/lib/app/consumed.db"))
    )

How it works: each message has an id (default :func:`message_key`: the client message id
``UNIQ_KEY``, which a retry keeps, else the offset message id). Before the listener runs, each
id moves from *new* to *consuming* in the store; ids already *consumed* are dropped from the
batch. When the listener succeeds they become *consumed*; when it fails (returns a retry
status or raises) they are forgotten so the redelivery runs again. If another delivery of the
same id is *consuming* right now, the batch is answered "retry later" (the message is not
lost if that other attempt fails). A *consuming* mark older than ``consuming_timeout`` seconds
(a consumer that died mid-way) counts as new.

Stores implement :class:`ConsumedIdStore` (``begin``/``commit``/``abort``); two come with rmq:
:class:`MemoryIdStore` (LRU-bounded, optionally expiring) and :class:`SqliteIdStore` (a file,
expiring after ``ttl`` seconds). Both are thread-safe: plain listeners run in threads.
"""

from __future__ import annotations

import enum
import functools
import inspect
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, overload

from rmq_core.client.consumer.consume_service import is_success
from rmq_core.client.results import ConsumeStatus
from rmq_core.common.message import MessageExt

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_CONSUMING_TIMEOUT",
    "BeginResult",
    "ConsumedIdStore",
    "Idempotent",
    "MemoryIdStore",
    "SqliteIdStore",
    "idempotent",
    "message_key",
]

DEFAULT_CAPACITY = 100_000
DEFAULT_CONSUMING_TIMEOUT = 60.0
DEFAULT_SQLITE_TTL = 7 * 24 * 3600.0

Listener = Callable[[list[MessageExt]], Any]


class BeginResult(enum.Enum):
    """What :meth:`ConsumedIdStore.begin` found: the id is now ours, or someone else's."""

    STARTED = "STARTED"
    CONSUMING = "CONSUMING"
    CONSUMED = "CONSUMED"


class ConsumedIdStore(Protocol):
    """Where consumed ids are recorded. Implementations must be thread-safe."""

    def begin(self, message_id: str) -> BeginResult:
        """Mark ``message_id`` consuming unless it is consumed or (freshly) consuming."""

    def commit(self, message_id: str) -> None:
        """Mark ``message_id`` consumed."""

    def abort(self, message_id: str) -> None:
        """Forget a consuming ``message_id`` (its consumption failed)."""


def message_key(msg: MessageExt) -> str:
    """The default id of a message: its UNIQ_KEY, else its offset message id."""
    return msg.unique_key or msg.msg_id


class MemoryIdStore:
    """Ids in memory: the ``capacity`` most recently recorded are kept (LRU).

    ``ttl`` (seconds, None = forever) also forgets consumed ids older than that. ``clock`` is
    monotonic seconds.
    """

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        ttl: float | None = None,
        consuming_timeout: float = DEFAULT_CONSUMING_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.ttl = ttl
        self.consuming_timeout = consuming_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._ids: OrderedDict[str, tuple[bool, float]] = OrderedDict()  # id -> (consumed, at)

    def __len__(self) -> int:
        return len(self._ids)

    def begin(self, message_id: str) -> BeginResult:
        now = self._clock()
        with self._lock:
            entry = self._ids.get(message_id)
            if entry is not None:
                consumed, at = entry
                if consumed and (self.ttl is None or now - at <= self.ttl):
                    return BeginResult.CONSUMED
                if not consumed and now - at <= self.consuming_timeout:
                    return BeginResult.CONSUMING
            self._put(message_id, False, now)
            return BeginResult.STARTED

    def commit(self, message_id: str) -> None:
        with self._lock:
            self._put(message_id, True, self._clock())

    def abort(self, message_id: str) -> None:
        with self._lock:
            entry = self._ids.get(message_id)
            if entry is not None and not entry[0]:
                del self._ids[message_id]

    def _put(self, message_id: str, consumed: bool, now: float) -> None:
        self._ids[message_id] = (consumed, now)
        self._ids.move_to_end(message_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class SqliteIdStore:
    """Ids in an SQLite file (one table), kept ``ttl`` seconds (wall clock).

    Expired rows are deleted every ``purge_every`` commits. Several processes may share the
    file (SQLite locks it); each call is one short transaction.
    """

    def __init__(
        self,
        path: str,
        *,
        ttl: float = DEFAULT_SQLITE_TTL,
        consuming_timeout: float = DEFAULT_CONSUMING_TIMEOUT,
        purge_every: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = ttl
        self.consuming_timeout = consuming_timeout
        self.purge_every = max(purge_every, 1)
        self._clock = clock
        self._lock = threading.Lock()
        self._commits = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS consumed_ids "
            "(id TEXT PRIMARY KEY, consumed INTEGER NOT NULL, at REAL NOT NULL)"
        )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def begin(self, message_id: str) -> BeginResult:
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT consumed, at FROM consumed_ids WHERE id = ?", (message_id,)
                ).fetchone()
                if row is not None:
                    consumed, at = bool(row[0]), float(row[1])
                    if consumed and now - at <= self.ttl:
                        return BeginResult.CONSUMED
                    if not consumed and now - at <= self.consuming_timeout:
                        return BeginResult.CONSUMING
                self._db.execute(
                    "INSERT OR REPLACE INTO consumed_ids VALUES (?, 0, ?)", (message_id, now)
                )
                return BeginResult.STARTED
            finally:
                self._db.execute("COMMIT")

    def commit(self, message_id: str) -> None:
        now = self._clock()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO consumed_ids VALUES (?, 1, ?)", (message_id, now)
            )
            self._commits += 1
            if self._commits % self.purge_every == 0:
                self._db.execute("DELETE FROM consumed_ids WHERE at < ?", (now - self.ttl,))

    def abort(self, message_id: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM consumed_ids WHERE id = ? AND consumed = 0", (message_id,)
            )


class Idempotent:
    """Wraps listeners so each message id is consumed successfully at most once."""

    def __init__(
        self,
        store: ConsumedIdStore | None = None,
        *,
        key: Callable[[MessageExt], str] = message_key,
    ) -> None:
        self.store: ConsumedIdStore = store if store is not None else MemoryIdStore()
        self.key = key

    def _begin(self, msgs: list[MessageExt]) -> tuple[list[MessageExt], list[str], bool]:
        """(messages to consume, ids begun, busy: another delivery is consuming one)."""
        fresh: list[MessageExt] = []
        begun: list[str] = []
        for msg in msgs:
            message_id = self.key(msg)
            state = self.store.begin(message_id)
            if state is BeginResult.STARTED:
                fresh.append(msg)
                begun.append(message_id)
            elif state is BeginResult.CONSUMING:
                for started in begun:
                    self.store.abort(started)
                return [], [], True
        return fresh, begun, False

    def _finish(self, begun: list[str], ok: bool) -> None:
        for message_id in begun:
            if ok:
                self.store.commit(message_id)
            else:
                self.store.abort(message_id)

    def wrap(self, listener: Listener) -> Listener:
        """A listener of the same kind (plain or async) that skips consumed messages."""
        if inspect.iscoroutinefunction(listener):
            return self._wrap_async(listener)

        @functools.wraps(listener)
        def run(msgs: list[MessageExt]) -> Any:
            fresh, begun, busy = self._begin(msgs)
            if busy:
                return ConsumeStatus.RECONSUME_LATER
            if not fresh:
                return ConsumeStatus.CONSUME_SUCCESS
            try:
                outcome = listener(fresh)
            except BaseException:
                self._finish(begun, False)
                raise
            self._finish(begun, is_success(outcome))
            return outcome

        return run

    def _wrap_async(self, listener: Callable[[list[MessageExt]], Awaitable[Any]]) -> Listener:
        @functools.wraps(listener)
        async def run(msgs: list[MessageExt]) -> Any:
            fresh, begun, busy = self._begin(msgs)
            if busy:
                return ConsumeStatus.RECONSUME_LATER
            if not fresh:
                return ConsumeStatus.CONSUME_SUCCESS
            try:
                outcome = await listener(fresh)
            except BaseException:
                self._finish(begun, False)
                raise
            self._finish(begun, is_success(outcome))
            return outcome

        return run


@overload
def idempotent(
    listener: Listener,
    *,
    store: ConsumedIdStore | None = None,
    key: Callable[[MessageExt], str] = message_key,
) -> Listener: ...


@overload
def idempotent(
    listener: None = None,
    *,
    store: ConsumedIdStore | None = None,
    key: Callable[[MessageExt], str] = message_key,
) -> Callable[[Listener], Listener]: ...


def idempotent(
    listener: Listener | None = None,
    *,
    store: ConsumedIdStore | None = None,
    key: Callable[[MessageExt], str] = message_key,
) -> Listener | Callable[[Listener], Listener]:
    """Decorator form of :class:`Idempotent`: ``@idempotent`` or ``@idempotent(store=...)``;
    also ``idempotent(fn, store=...)``."""
    helper = Idempotent(store, key=key)
    if listener is not None:
        return helper.wrap(listener)
    return helper.wrap
