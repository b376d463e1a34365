"""Delay levels: parking messages in ``SCHEDULE_TOPIC_XXXX`` and delivering them when due.

Reference §5.7. ``messageDelayLevel`` (default :data:`DEFAULT_MESSAGE_DELAY_LEVEL`) lists one
duration per level, separated by spaces, each a whole number followed by a unit ``s``, ``m``,
``h`` or ``d``; level *n* (1-based) is the *n*-th entry. It is parsed by
:func:`rmq_core.common.delay_levels.parse_delay_levels` and configured on the store's
``StoreConfig`` (the broker builds its table from there).

Put path (:func:`rewrite_delayed_message`): a non-transactional (or committed) message whose
``DELAY`` property is > 0 is stored in ``SCHEDULE_TOPIC_XXXX`` queue ``level - 1`` instead of
its own topic; ``REAL_TOPIC``/``REAL_QID`` keep the destination and its consume queue unit
carries the **delivery timestamp** (ms) as tags code, as RocketMQ does. Levels above the
highest configured one are clamped to it.

Delivery (:class:`ScheduleMessageService`): per level, the service reads its schedule queue
from its progress offset; every message whose delivery time (``storeTimestamp + delay``, ms)
has passed is stored again under its real topic and queue with ``DELAY`` removed, its body,
flag, sys flag, born host and timestamps and reconsume times unchanged and ``WAIT=false``.
The progress (next schedule-queue offset per level) lives in ``config/delayOffset.json``::

    {"dataVersion":{...},"offsetTable":{1:5,3:20}}     # level -> next offset of queue level-1

Invariants: a level's offset only moves past a message once its re-put succeeded (nothing is
lost); the file is written after every delivery round and at shutdown, so a clean restart
re-delivers nothing (a crash can re-deliver what was delivered since the last write, as in
RocketMQ: delivery is at least once). The service runs on the event loop (the store has one
writer); it sleeps until the earliest known due time (at most :data:`MAX_IDLE_WAIT` seconds) or
until a message arrives in the schedule topic, and delivers at most :data:`DELIVER_BATCH`
messages per level before yielding the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rmq_core.broker.managers.persistence import (
    ConfigWriter,
    SyncConfigWriter,
    data_version_of,
    load_json,
)
from rmq_core.common.delay_levels import (
    DEFAULT_MESSAGE_DELAY_LEVEL,
    DELAY_UNIT_MS,
    parse_delay_levels,
)
from rmq_core.common.message import MessageConst, MessageExt, MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import MessageFormatError, decode_record, encode_properties
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.data_version import DataVersion
from rmq_core.store.message_filter import MessageFilter
from rmq_core.store.results import GetMessageResult, PutMessageResult

__all__ = [
    "DEFAULT_MESSAGE_DELAY_LEVEL",
    "DELIVER_BATCH",
    "MAX_IDLE_WAIT",
    "SCHEDULE_GROUP",
    "SCHEDULE_TOPIC",
    "DelayLevelTable",
    "ScheduleMessageService",
    "ScheduleStore",
    "build_delivery_message",
    "rewrite_delayed_message",
]

logger = logging.getLogger(__name__)

SCHEDULE_TOPIC = "SCHEDULE_TOPIC_XXXX"
#: group name the service reads the schedule queues as (it never commits consumer offsets)
SCHEDULE_GROUP = "SCHEDULE_CONSUMER"
#: messages delivered per level in one :meth:`ScheduleMessageService.run_once`
DELIVER_BATCH = 256
#: records fetched from the store per read
READ_BATCH = 32
#: longest sleep (seconds) when nothing is known to be due; arrivals wake the service earlier
MAX_IDLE_WAIT = 5.0
#: pause (seconds) before retrying a level whose re-put failed
PUT_FAILURE_BACKOFF = 1.0
#: first delivery round after start (seconds), as RocketMQ's FIRST_DELAY_TIME
FIRST_DELAY = 1.0

#: read statuses after which ``next_begin_offset`` skips units without a readable record
_SKIPPABLE_STATUSES = frozenset({"OFFSET_FOUND_NULL", "NO_MATCHED_MESSAGE"})
_STORED_STATUSES = frozenset(
    {"PUT_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT", "SLAVE_NOT_AVAILABLE"}
)


@dataclass(frozen=True, slots=True)
class DelayLevelTable:
    """The delay of each level in **milliseconds**; level ``n`` is ``delays_ms[n - 1]``."""

    delays_ms: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.delays_ms:
            raise ValueError("messageDelayLevel must define at least one level")
        if any(d < 0 for d in self.delays_ms):
            raise ValueError("delay levels must not be negative")

    @classmethod
    def from_delays_ms(cls, delays_ms: Sequence[int]) -> DelayLevelTable:
        """A table from already-parsed delays in ms (e.g. ``StoreConfig.delay_levels_ms()``)."""
        return cls(tuple(delays_ms))

    @classmethod
    def parse(cls, text: str = DEFAULT_MESSAGE_DELAY_LEVEL) -> DelayLevelTable:
        """Parse a ``messageDelayLevel`` value such as ``"1s 5s 1m 2h 1d"``.

        Raises ValueError naming the offending token for anything but ``<digits><s|m|h|d>``
        tokens separated by whitespace (:func:`~rmq_core.common.delay_levels.parse_delay_levels`).
        """
        return cls(parse_delay_levels(text))

    def to_text(self) -> str:
        """The ``messageDelayLevel`` text of this table (largest exact unit per level)."""
        parts = []
        for delay in self.delays_ms:
            for unit in ("d", "h", "m", "s"):
                if delay % DELAY_UNIT_MS[unit] == 0:
                    parts.append(f"{delay // DELAY_UNIT_MS[unit]}{unit}")
                    break
            else:
                raise ValueError(f"delay {delay} ms is not a whole number of seconds")
        return " ".join(parts)

    @property
    def max_level(self) -> int:
        """The highest level (number of configured levels)."""
        return len(self.delays_ms)

    def clamp(self, level: int) -> int:
        """``level`` limited to ``max_level`` (callers only pass levels > 0)."""
        return min(level, self.max_level)

    def delay_ms(self, level: int) -> int:
        """Delay of ``level`` (1-based) in ms; raises ValueError outside 1..max_level."""
        if not 1 <= level <= self.max_level:
            raise ValueError(f"delay level {level} is outside 1..{self.max_level}")
        return self.delays_ms[level - 1]

    def delay_seconds(self, level: int) -> float:
        """Delay of ``level`` in seconds."""
        return self.delay_ms(level) / 1000.0

    def deliver_timestamp(self, level: int, store_timestamp_ms: int) -> int:
        """When a message stored at ``store_timestamp_ms`` with ``level`` is due (ms)."""
        return store_timestamp_ms + self.delay_ms(level)

    def correct_deliver_timestamp(self, level: int, deliver_ms: int, now_ms: int) -> int:
        """A due time further away than the level's delay (the clock went back) becomes now."""
        return now_ms if deliver_ms > now_ms + self.delay_ms(level) else deliver_ms

    @staticmethod
    def queue_id(level: int) -> int:
        """The schedule-topic queue of ``level``."""
        return level - 1

    @staticmethod
    def level_of_queue(queue_id: int) -> int:
        """The level whose messages wait in schedule-topic queue ``queue_id``."""
        return queue_id + 1


# --- put path ------------------------------------------------------------------------------


def rewrite_delayed_message(msg: MessageExtBrokerInner, table: DelayLevelTable) -> bool:
    """Redirect ``msg`` to the schedule topic when it asks for a delay; True if it did.

    Only NOT_TYPE and COMMIT messages with ``DELAY`` > 0 are redirected (a half message is
    delayed when it is committed). The message gets ``REAL_TOPIC``/``REAL_QID``, topic
    :data:`SCHEDULE_TOPIC` and queue ``level - 1``, ``DELAY`` clamped to the highest level;
    ``properties_string`` is re-encoded. The store writes the delivery timestamp
    (``storeTimestamp + delay``) as the consume-queue tags code of schedule-topic records.
    """
    transaction = MessageSysFlag.get_transaction_value(msg.sys_flag)
    if transaction not in (
        MessageSysFlag.TRANSACTION_NOT_TYPE,
        MessageSysFlag.TRANSACTION_COMMIT_TYPE,
    ):
        return False
    level = msg.delay_time_level
    if level <= 0:
        return False
    level = table.clamp(level)
    msg.delay_time_level = level
    msg.put_property(MessageConst.PROPERTY_REAL_TOPIC, msg.topic)
    msg.put_property(MessageConst.PROPERTY_REAL_QUEUE_ID, str(msg.queue_id))
    msg.topic = SCHEDULE_TOPIC
    msg.queue_id = table.queue_id(level)
    msg.properties_string = encode_properties(msg.properties)
    return True


def build_delivery_message(parked: MessageExt) -> MessageExtBrokerInner | None:
    """The message to store when ``parked`` (read from the schedule topic) is due.

    Topic and queue come from ``REAL_TOPIC``/``REAL_QID``; ``DELAY`` and the timer properties
    are removed, ``WAIT`` is false (the store hashes TAGS again). Returns None when the
    record lacks a usable REAL_TOPIC/REAL_QID (it cannot be delivered anywhere).
    """
    real_topic = parked.properties.get(MessageConst.PROPERTY_REAL_TOPIC)
    real_qid = parked.properties.get(MessageConst.PROPERTY_REAL_QUEUE_ID)
    if not real_topic or real_qid is None:
        return None
    try:
        queue_id = int(real_qid)
    except ValueError:
        return None
    properties = dict(parked.properties)
    for key in (
        MessageConst.PROPERTY_DELAY_TIME_LEVEL,
        MessageConst.PROPERTY_TIMER_DELIVER_MS,
        MessageConst.PROPERTY_TIMER_DELAY_SEC,
    ):
        properties.pop(key, None)
    properties[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] = "false"
    return MessageExtBrokerInner(
        topic=real_topic,
        body=parked.body,
        flag=parked.flag,
        properties=properties,
        queue_id=queue_id,
        sys_flag=parked.sys_flag,
        born_timestamp=parked.born_timestamp,
        born_host=parked.born_host,
        store_host=parked.store_host,
        reconsume_times=parked.reconsume_times,
        properties_string=encode_properties(properties),
    )


# --- delivery service ----------------------------------------------------------------------


class ScheduleStore(Protocol):
    """What the service needs of the message store (see :mod:`rmq_core.store`)."""

    def get_message(
        self,
        group: str,
        topic: str,
        queue_id: int,
        offset: int,
        max_count: int,
        message_filter: MessageFilter | None = None,
    ) -> GetMessageResult:
        """Records of a schedule queue (``status``, ``messages``, ``next_begin_offset``)."""

    def put_message(self, msg: MessageExtBrokerInner) -> PutMessageResult:
        """Store a due message under its real topic."""

    def get_min_offset_in_queue(self, topic: str, queue_id: int) -> int:
        """Smallest logical offset still readable."""

    def get_max_offset_in_queue(self, topic: str, queue_id: int) -> int:
        """Next logical offset to be written."""


@dataclass(slots=True)
class _LevelState:
    """Progress of one level: next offset to read and, if known, the due time (ms) there."""

    offset: int = 0
    head_due_ms: int | None = None
    retry_at_ms: int = 0


class ScheduleMessageService:
    """Delivers due delayed messages; progress persisted in ``delayOffset.json``.

    Tests drive it with :meth:`run_once`; a broker calls :meth:`load` (after the store has
    recovered), :meth:`start` on the event loop and :meth:`shutdown`.
    """

    def __init__(
        self,
        store: ScheduleStore,
        table: DelayLevelTable,
        path: Path | None = None,
        *,
        writer: ConfigWriter | None = None,
        clock: Callable[[], float] = time.time,
        first_delay: float = FIRST_DELAY,
    ) -> None:
        """``path`` is ``delayOffset.json`` (None: progress kept in memory only); ``clock``
        returns the wall clock in seconds; ``first_delay`` (s) precedes the first round."""
        self._store = store
        self.table = table
        self._path = path
        self._writer: ConfigWriter = writer or SyncConfigWriter()
        self._clock = clock
        self._first_delay = first_delay
        self._levels = {level: _LevelState() for level in range(1, table.max_level + 1)}
        self.data_version = DataVersion.now()
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.delivered = 0

    # --- progress ----------------------------------------------------------------------

    def load(self) -> None:
        """Read ``delayOffset.json`` (or its ``.bak``), then fit offsets to the queues."""
        if self._path is not None:
            try:
                data = load_json(self._path)
            except ValueError as exc:
                logger.error("%s is unreadable (%s); delay progress starts at 0", self._path, exc)
                data = None
            self._apply_offset_table(data)
        self.correct_offsets()

    def _apply_offset_table(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        self.data_version = data_version_of(data, self._path)
        table = data.get("offsetTable") or {}
        if not isinstance(table, dict):
            logger.error("%s: offsetTable is not an object; ignored", self._path)
            return
        for key, value in table.items():
            try:
                level, offset = int(key), int(value)
            except (TypeError, ValueError):
                logger.error("%s: bad delay offset entry %r: %r", self._path, key, value)
                continue
            if level in self._levels and offset >= 0:
                self._levels[level].offset = offset

    def correct_offsets(self) -> None:
        """Clamp each level's offset into ``[min, max]`` of its queue (files may be gone)."""
        for level, state in self._levels.items():
            qid = self.table.queue_id(level)
            low = self._store.get_min_offset_in_queue(SCHEDULE_TOPIC, qid)
            high = self._store.get_max_offset_in_queue(SCHEDULE_TOPIC, qid)
            corrected = min(max(state.offset, low), high)
            if corrected != state.offset:
                logger.warning(
                    "delay level %d: offset %d corrected to %d (queue holds %d..%d)",
                    level,
                    state.offset,
                    corrected,
                    low,
                    high,
                )
                state.offset = corrected
                state.head_due_ms = None
                self._dirty = True

    def offset_table(self) -> dict[int, int]:
        """``{level: next offset}`` for every level that has made progress."""
        return {level: s.offset for level, s in self._levels.items() if s.offset > 0}

    def encode(self) -> bytes:
        """The ``delayOffset.json`` content (also the GET_ALL_DELAY_OFFSET body)."""
        return fastjson.dumps(
            {"dataVersion": self.data_version.to_json(), "offsetTable": self.offset_table()}
        )

    def persist(self) -> None:
        """Hand the current progress to the writer."""
        self._dirty = False
        if self._path is not None:
            self._writer.write(self._path, self.encode())

    # --- delivery ----------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> float | None:
        """Deliver what is due at ``now`` (seconds, default the clock); persist progress.

        Returns the seconds until the next known due time (0 when a level still has due
        messages beyond this round's batch), or None when no level has anything waiting.
        """
        now_ms = int((self._clock() if now is None else now) * 1000)
        next_ms: int | None = None
        for level, state in self._levels.items():
            due = self._run_level(level, state, now_ms)
            if due is not None and (next_ms is None or due < next_ms):
                next_ms = due
        if self._dirty:
            self.data_version.next_version()
            self.persist()
        if next_ms is None:
            return None
        return max(0.0, (next_ms - now_ms) / 1000.0)

    def _run_level(self, level: int, state: _LevelState, now_ms: int) -> int | None:
        """Deliver due messages of one level; return when to look again (ms) or None."""
        if state.retry_at_ms > now_ms:
            return state.retry_at_ms
        if state.head_due_ms is not None:
            due = self.table.correct_deliver_timestamp(level, state.head_due_ms, now_ms)
            if due > now_ms:
                return due
        budget = DELIVER_BATCH
        qid = self.table.queue_id(level)
        while budget > 0:
            result = self._store.get_message(
                SCHEDULE_GROUP, SCHEDULE_TOPIC, qid, state.offset, min(READ_BATCH, budget)
            )
            status = result.status.name
            next_offset = result.next_begin_offset
            if status in ("OFFSET_TOO_SMALL", "OFFSET_OVERFLOW_BADLY"):
                self._move_offset(level, state, next_offset)
                budget -= 1
                continue
            if status in _SKIPPABLE_STATUSES and next_offset > state.offset:
                logger.warning(
                    "delay level %d: offsets %d..%d hold no readable record (%s); skipped",
                    level,
                    state.offset,
                    next_offset - 1,
                    status,
                )
                budget -= next_offset - state.offset
                self._advance(state, next_offset)
                continue
            if status != "FOUND" or not result.messages:
                state.head_due_ms = None
                return None
            try:
                for raw in result.messages:
                    outcome = self._handle_record(level, state, raw, now_ms)
                    if outcome is not None:
                        return outcome
                    budget -= 1
            finally:
                _release(result.messages)
            self._advance(state, next_offset)
        return now_ms

    def _handle_record(
        self, level: int, state: _LevelState, raw: bytes | memoryview, now_ms: int
    ) -> int | None:
        """Deliver one parked record if due. Returns a look-again time (ms) to stop the
        level's round (not due yet, or the put failed), None to go on with the next one."""
        try:
            parked, _ = decode_record(raw, 0, decompress=False)
        except (MessageFormatError, ValueError) as exc:
            logger.error("delay level %d: undecodable record at %d: %s", level, state.offset, exc)
            self._advance(state, state.offset + 1)
            return None
        due = self.table.correct_deliver_timestamp(
            level, self.table.deliver_timestamp(level, parked.store_timestamp), now_ms
        )
        if due > now_ms:
            state.head_due_ms = due
            return due
        state.head_due_ms = None
        delivery = build_delivery_message(parked)
        if delivery is None or delivery.topic == "RMQ_SYS_TRANS_HALF_TOPIC":
            logger.error(
                "delay level %d: dropping message %s without a deliverable REAL_TOPIC/REAL_QID",
                level,
                parked.msg_id,
            )
            self._advance(state, parked.queue_offset + 1)
            return None
        result = self._store.put_message(delivery)
        if result.status.name not in _STORED_STATUSES:
            logger.warning(
                "delay level %d: re-put of %s to %s failed (%s); retrying in %.1f s",
                level,
                parked.msg_id,
                delivery.topic,
                result.status.name,
                PUT_FAILURE_BACKOFF,
            )
            state.retry_at_ms = now_ms + int(PUT_FAILURE_BACKOFF * 1000)
            return state.retry_at_ms
        self.delivered += 1
        self._advance(state, parked.queue_offset + 1)
        return None

    def _advance(self, state: _LevelState, offset: int) -> None:
        if offset > state.offset:
            state.offset = offset
            self._dirty = True

    def _move_offset(self, level: int, state: _LevelState, offset: int) -> None:
        logger.warning("delay level %d: offset %d moved to %d", level, state.offset, offset)
        state.offset = offset
        state.head_due_ms = None
        self._dirty = True

    # --- running on the event loop ------------------------------------------------------

    def on_message_arrival(
        self,
        topic: str,
        queue_id: int,
        logic_offset: int,
        tags_code: int | None,
        store_timestamp_ms: int,
        properties: Mapping[str, str] | None,
    ) -> None:
        """Store arrival listener: wake the service for a new message in the schedule topic
        that may be due before the current sleep ends. Safe to call from any thread."""
        if topic != SCHEDULE_TOPIC:
            return
        self.wakeup()

    def wakeup(self) -> None:
        """Interrupt the current sleep (thread-safe)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def start(self) -> None:
        """Start the delivery task on the running event loop."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = self._loop.create_task(self._run(), name="schedule-message-service")

    async def shutdown(self) -> None:
        """Stop the task and write the progress (synchronously through the writer)."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            if self._wake is not None:
                self._wake.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.persist()

    async def _run(self) -> None:
        assert self._wake is not None
        wait: float | None = self._first_delay
        while not self._stopping:
            if wait is None or wait > 0:
                timeout = MAX_IDLE_WAIT if wait is None else min(wait, MAX_IDLE_WAIT)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            else:
                await asyncio.sleep(0)
            self._wake.clear()
            if self._stopping:
                return
            try:
                wait = self.run_once()
            except Exception:
                logger.exception("schedule delivery round failed; retrying")
                wait = PUT_FAILURE_BACKOFF


def _release(records: Any) -> None:
    """Release memoryviews into the commit log as soon as they were read."""
    for raw in records:
        if isinstance(raw, memoryview):
            raw.release()
