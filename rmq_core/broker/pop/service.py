"""``PopService``: pop, acknowledge, re-hide and revive messages (RocketMQ 5 pop consumption).

Everything runs on the broker's event loop (the store has one writer).

- :meth:`PopService.pop` reads visible messages of a group from the group's pop retry topic
  ``%RETRY%<group>_<topic>`` first, then from the topic's queues (rotating the first queue),
  marks each one in flight until ``now + invisible_time`` and returns the stored records;
- :meth:`PopService.ack` forgets an in-flight message (the receipt handle must be current);
- :meth:`PopService.change_invisible` gives an in-flight message a new deadline and handle;
- :meth:`PopService.run_once` revives messages whose deadline passed: a copy with
  ``reconsumeTimes + 1`` goes to the pop retry topic, or to ``%DLQ%<group>`` once the message
  was already consumed ``retryMaxTimes`` (group setting, 16) times, exactly like a push
  consumer's send-back; then the original leaves the in-flight table.

After every change the group's consumer offset of the queue becomes the smallest unacknowledged
offset (see :mod:`rmq_core.broker.pop.state`). When the stored consumer offset differs from
what this service last wrote, someone else moved it (a push or pull consumer of the group
committed, group deleted, offsets reset by an admin): popping restarts from the stored offset,
or from the queue's start (``initMode`` MIN) or end (MAX) when there is none. In-flight
messages are kept across such a move: they are still acknowledged, revived or dead-lettered.

Persistence: the table is written to ``config/popState.json`` (through the broker's config
writer) at most every :data:`PERSIST_INTERVAL` seconds while it changes and at shutdown, and
loaded at start; entries whose deadline passed while the broker was down are revived at once.
A broker killed between two writes falls back to an older table: messages popped or
acknowledged since are delivered again (at least once), none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.broker import perm as permission
from rmq_core.broker import retry
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.managers.persistence import load_json
from rmq_core.broker.pop.long_polling import PopHoldService
from rmq_core.broker.pop.state import InFlight, PopKey, PopStateTable, QueueState
from rmq_core.broker.topic_validator import dlq_topic
from rmq_core.common.message_codec import MessageFormatError, decode_record
from rmq_core.remoting import fastjson
from rmq_core.remoting.pop_headers import (
    CONSUME_INIT_MODE_MAX,
    CONSUME_INIT_MODE_MIN,
    QueueOffsets,
    pop_retry_topic,
)
from rmq_core.store.results import GetMessageResult

__all__ = [
    "MAX_INVISIBLE_TIME_MS",
    "MAX_POP_BATCH",
    "PERSIST_INTERVAL",
    "POP_STATE_FILE",
    "REVIVE_BATCH",
    "PopBatch",
    "PopService",
]

logger = logging.getLogger(__name__)

POP_STATE_FILE = "popState.json"
MAX_POP_BATCH = 32
"""Most messages one POP_MESSAGE returns (RocketMQ's limit)."""
MAX_INVISIBLE_TIME_MS = 12 * 3600 * 1000
"""Longest invisible time a pop or change may ask for (12 h)."""
PERSIST_INTERVAL = 1.0
"""Seconds between writes of ``popState.json`` while it changes."""
REVIVE_BATCH = 256
"""Messages revived per :meth:`PopService.run_once` before yielding the loop."""
REVIVE_FAILURE_BACKOFF_MS = 1000
MAX_IDLE_WAIT = 1.0
"""Longest sleep (s) of the revive task when nothing is due sooner."""
_RECORD_PHYSICAL_OFFSET = slice(28, 36)
_ADVANCE_STATUSES = frozenset(
    {"FOUND", "NO_MATCHED_MESSAGE", "OFFSET_FOUND_NULL", "MESSAGE_WAS_REMOVING", "OFFSET_TOO_SMALL"}
)
_STORED = frozenset({"PUT_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT", "SLAVE_NOT_AVAILABLE"})


def now_ms() -> int:
    """Milliseconds since the epoch (the clock of pop times and deadlines)."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class PopBatch:
    """What one pop found: stored records (body order) and the per-queue offset info.

    ``watermarks`` maps each ``(topic, queue_id)`` the pop read to the queue's max offset taken
    *before* reading it: a parked pop compares them with the max offsets after its park to
    notice a message that arrived in between (see :mod:`rmq_core.broker.pop.long_polling`).
    """

    pop_time: int
    invisible_time: int
    records: list[bytes] = field(default_factory=list)
    start_offsets: list[QueueOffsets] = field(default_factory=list)
    msg_offsets: list[QueueOffsets] = field(default_factory=list)
    rest_num: int = 0
    watermarks: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Messages popped."""
        return len(self.records)


class PopService:
    """Pop state, revive task and long polling of one broker (see the module docstring)."""

    def __init__(self, ctx: BrokerContext) -> None:
        self.ctx = ctx
        self.table = PopStateTable()
        self.hold_service: PopHoldService | None = None
        self._rotation: dict[tuple[str, str], int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_persist = 0.0
        self.revived = 0
        self.dead_lettered = 0

    # --- lifecycle -------------------------------------------------------------------------

    def load(self) -> None:
        """Read ``popState.json`` (blocking) and re-commit each queue's smallest unacked
        offset so the consumer offsets agree with the loaded table."""
        path = self.ctx.config_path(POP_STATE_FILE)
        if path is None:
            return
        count = self.table.load_json(load_json(path) if path.exists() else None)
        if count:
            logger.info("loaded pop state of %d queues (%d in flight)", count, self._inflight())
        for key, state in self.table.items():
            self._write_commit(key, state)

    def _inflight(self) -> int:
        return self.table.inflight_count

    def start(self) -> None:
        """Start the revive/persist task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="broker-pop")

    async def shutdown(self) -> None:
        """Stop the task and write the table."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.hold_service is not None:
            self.hold_service.shutdown()
        self.persist()

    def persist(self) -> None:
        """Write ``popState.json`` now (through the config writer)."""
        path = self.ctx.config_path(POP_STATE_FILE)
        self.table.dirty = False
        if path is not None:
            self.ctx.writer.write(path, fastjson.dumps(self.table.to_json()))

    def prune(self) -> int:
        """Forget the states of topics the broker no longer has; returns how many."""
        topics = self.ctx.topics
        gone = [key for key, _ in self.table.items() if key[1] not in topics]
        for key in gone:
            self.table.drop(key)
        self._rotation = {k: v for k, v in self._rotation.items() if k[1] in topics}
        return len(gone)

    def wakeup(self) -> None:
        """Run the revive task now (a message was made visible again)."""
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.run_once()
            except Exception:
                logger.exception("pop revive round failed")
            if self.table.dirty and loop.time() - self._last_persist >= PERSIST_INTERVAL:
                self._last_persist = loop.time()
                self.prune()
                self.persist()
            wait = MAX_IDLE_WAIT
            deadline = self.table.next_deadline()
            if deadline is not None:
                wait = min(wait, max(0.0, (deadline - now_ms()) / 1000.0))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    # --- queue states ----------------------------------------------------------------------

    def _state(self, group: str, topic: str, queue_id: int, init_mode: int) -> QueueState:
        """The state of a queue: created when new, moved along when the stored offset moved."""
        key = (group, topic, queue_id)
        state = self.table.get(key)
        if state is None:
            stored = self.ctx.offsets.query_offset(group, topic, queue_id)
            state = self.table.create(key, self._start_offset(key, stored, init_mode))
            self._write_commit(key, state)
        else:
            self._commit(key, state, init_mode)
        return state

    def _start_offset(self, key: PopKey, stored: int, init_mode: int) -> int:
        """Where popping starts: the stored consumer offset, else the queue's start (``initMode``
        MIN) or end (MAX)."""
        _, topic, queue_id = key
        if stored >= 0:
            return stored
        if init_mode == CONSUME_INIT_MODE_MAX:
            return max(self.ctx.store.get_max_offset_in_queue(topic, queue_id), 0)
        return max(self.ctx.store.get_min_offset_in_queue(topic, queue_id), 0)

    def _follow(self, key: PopKey, state: QueueState, init_mode: int | None) -> bool:
        """Follow an outside move of the stored consumer offset (a push or pull consumer of
        the group committed, an admin reset it, the group was deleted): popping restarts from
        the stored offset; in-flight messages are kept (they are still acknowledged, revived or
        dead-lettered when their time is up) and those below it stop holding it back.

        Returns False when the offset was deleted and no ``init_mode`` is known (ack and
        revive paths): nothing may be committed until the next pop restarts the queue."""
        group, topic, queue_id = key
        stored = self.ctx.offsets.query_offset(group, topic, queue_id)
        if stored == state.committed:
            return True
        if stored < 0 and init_mode is None:
            return False
        start = self._start_offset(key, stored, CONSUME_INIT_MODE_MIN if init_mode is None
                                   else init_mode)  # fmt: skip
        logger.warning(
            "consumer offset of %s on %s-%d moved from %d to %d outside pop; popping restarts"
            " at %d, %d in-flight messages kept",
            group, topic, queue_id, state.committed, stored, start, len(state.inflight),
        )  # fmt: skip
        state.pop_offset = state.floor = start
        state.committed = stored
        self.table.dirty = True
        return True

    def _commit(self, key: PopKey, state: QueueState, init_mode: int | None = None) -> None:
        """Commit the queue's smallest unacknowledged offset, after following any outside move
        of the stored one (see :meth:`_follow`)."""
        if self._follow(key, state, init_mode):
            self._write_commit(key, state)

    def _write_commit(self, key: PopKey, state: QueueState) -> None:
        offset = state.min_unacked()
        if offset != state.committed:
            group, topic, queue_id = key
            self.ctx.offsets.commit_offset("pop", group, topic, queue_id, offset)
            state.committed = offset
            self.table.dirty = True

    # --- pop -------------------------------------------------------------------------------

    def pop(
        self,
        group: str,
        topic: str,
        queue_id: int,
        max_nums: int,
        invisible_time: int,
        message_filter: Any,
        init_mode: int,
        *,
        now: int | None = None,
    ) -> PopBatch:
        """Pop up to ``max_nums`` visible messages (``queue_id`` -1: any readable queue)."""
        pop_time = now_ms() if now is None else now
        batch = PopBatch(pop_time, invisible_time)
        for real_topic, retry_topic, queue_ids in self._targets(group, topic, queue_id):
            for qid in queue_ids:
                if batch.count < max_nums:
                    self._pop_queue(
                        batch, group, real_topic, retry_topic, qid, max_nums,
                        message_filter, init_mode,
                    )  # fmt: skip
                else:
                    state = self._state(group, real_topic, qid, init_mode)
                    batch.rest_num += self._rest(real_topic, qid, state)
        if batch.count:
            self.ctx.stats.record_get(batch.count)
        return batch

    def _targets(self, group: str, topic: str, queue_id: int) -> list[tuple[str, bool, list[int]]]:
        targets: list[tuple[str, bool, list[int]]] = []
        retry_name = pop_retry_topic(group, topic)
        retry_config = self.ctx.topics.select(retry_name)
        if retry_config is not None and permission.is_readable(retry_config.perm):
            targets.append((retry_name, True, list(range(retry_config.read_queue_nums))))
        if queue_id >= 0:
            targets.append((topic, False, [queue_id]))
            return targets
        config = self.ctx.topics.select(topic)
        count = config.read_queue_nums if config is not None else 0
        if count:
            first = self._rotation.get((group, topic), 0) % count
            self._rotation[(group, topic)] = first + 1
            targets.append((topic, False, [(first + i) % count for i in range(count)]))
        return targets

    def _pop_queue(
        self,
        batch: PopBatch,
        group: str,
        topic: str,
        retry_topic: bool,
        queue_id: int,
        max_nums: int,
        message_filter: Any,
        init_mode: int,
    ) -> None:
        key = (group, topic, queue_id)
        batch.watermarks[(topic, queue_id)] = self.ctx.store.get_max_offset_in_queue(
            topic, queue_id
        )
        state = self._state(group, topic, queue_id, init_mode)
        if state.full:
            batch.rest_num += self._rest(topic, queue_id, state)
            return
        start = state.pop_offset
        result = self.ctx.store.get_message(
            group, topic, queue_id, start, max_nums - batch.count, message_filter
        )
        status = result.status.name
        offsets: list[int] = []
        for record, offset in zip(result.messages, result.message_queue_offsets, strict=False):
            data = bytes(record)
            if isinstance(record, memoryview):
                record.release()
            physical = int.from_bytes(data[_RECORD_PHYSICAL_OFFSET], "big", signed=True)
            batch.records.append(data)
            offsets.append(offset)
            self.table.add(key, InFlight(offset, physical, batch.pop_time, batch.invisible_time))
        result.messages.clear()
        self._advance(key, state, status, result)
        self._commit(key, state)
        batch.rest_num += self._rest(topic, queue_id, state)
        if offsets:
            batch.start_offsets.append(QueueOffsets(retry_topic, queue_id, (start,)))
            batch.msg_offsets.append(QueueOffsets(retry_topic, queue_id, tuple(offsets)))

    def _advance(
        self, key: PopKey, state: QueueState, status: str, result: GetMessageResult
    ) -> None:
        """Move ``pop_offset`` as the store's answer says."""
        if status in _ADVANCE_STATUSES:
            if result.next_begin_offset > state.pop_offset or status == "OFFSET_TOO_SMALL":
                state.pop_offset = result.next_begin_offset
                self.table.dirty = True
        elif status == "OFFSET_OVERFLOW_BADLY" or (
            status == "NO_MESSAGE_IN_QUEUE" and state.pop_offset > 0
        ):
            end = self._confirmed_end(key, state, status, result)
            if end is not None:
                self._restart_truncated(key, state, end)

    def _confirmed_end(
        self, key: PopKey, state: QueueState, status: str, result: GetMessageResult
    ) -> int | None:
        """Where popping restarts when the store says the queue is shorter than ``pop_offset``,
        or None (position and in-flight messages kept) unless its min/max offsets confirm
        it: empty for NO_MESSAGE_IN_QUEUE, ending below ``pop_offset`` for an overflow."""
        _, topic, queue_id = key
        max_offset = self.ctx.store.get_max_offset_in_queue(topic, queue_id)
        if status == "NO_MESSAGE_IN_QUEUE":
            end = 0 if max_offset == 0 and result.max_offset == 0 else None
        else:
            end = result.next_begin_offset if max_offset < state.pop_offset else None
        if end is None:
            logger.warning("pop: store answered %s at %d of %s (max offset %d); position kept",
                           status, state.pop_offset, key, max_offset)  # fmt: skip
        return end

    def _restart_truncated(self, key: PopKey, state: QueueState, end: int) -> None:
        """Restart popping at ``end`` of a queue that was truncated or rebuilt. In-flight
        messages at or past ``end`` no longer exist in it (new messages will take their
        offsets): each is revived now from the commit log; one that cannot be is dropped with
        an error log."""
        stale = sorted(offset for offset in state.inflight if offset >= end)
        logger.warning("pop position %d of %s is past the queue end %d; %d in-flight revived",
                       state.pop_offset, key, end, len(stale))  # fmt: skip
        current = now_ms()
        for offset in stale:
            entry = state.inflight.get(offset)
            if entry is not None:
                self._revive(key, entry, current)
        lost = sorted(offset for offset in state.inflight if offset >= end)
        if lost:
            logger.error("pop: in-flight offsets %s of %s could not be revived after the queue "
                         "was truncated at %d; dropped", lost, key, end)  # fmt: skip
            for offset in lost:
                self.table.remove(key, offset)
        state.pop_offset = end
        state.floor = min(state.floor, end)
        self.table.dirty = True

    def _rest(self, topic: str, queue_id: int, state: QueueState) -> int:
        return max(0, self.ctx.store.get_max_offset_in_queue(topic, queue_id) - state.pop_offset)

    # --- ack / change ----------------------------------------------------------------------

    def ack(self, group: str, topic: str, queue_id: int, offset: int, pop_time: int) -> bool:
        """Acknowledge the message at ``offset`` popped at ``pop_time``; False when that
        handle is no longer current (acknowledged, re-hidden or revived already)."""
        key = (group, topic, queue_id)
        if self.table.find(key, offset, pop_time) is None:
            return False
        self.table.remove(key, offset)
        state = self.table.get(key)
        if state is not None:
            self._commit(key, state)
        return True

    def change_invisible(
        self,
        group: str,
        topic: str,
        queue_id: int,
        offset: int,
        pop_time: int,
        invisible_time: int,
        *,
        now: int | None = None,
    ) -> InFlight | None:
        """Hide the message ``invisible_time`` ms from now under a new handle (returned, its
        ``pop_time`` is now); None when the handle is no longer current. 0 makes the message
        visible again at once (it is revived by the next round)."""
        key = (group, topic, queue_id)
        entry = self.table.find(key, offset, pop_time)
        if entry is None:
            return None
        new_time = now_ms() if now is None else now
        if new_time <= entry.pop_time:
            new_time = entry.pop_time + 1  # every handle differs from the previous one
        self.table.rehide(key, entry, new_time, invisible_time)
        if invisible_time == 0:
            self.wakeup()
        return entry

    # --- revive ----------------------------------------------------------------------------

    def run_once(self, now: int | None = None) -> int:
        """Revive up to :data:`REVIVE_BATCH` expired messages; returns how many moved."""
        current = now_ms() if now is None else now
        moved = 0
        for key, entry in self.table.pop_expired(current, REVIVE_BATCH):
            if self._revive(key, entry, current):
                moved += 1
        return moved

    def _revive(self, key: PopKey, entry: InFlight, now: int) -> bool:
        group, topic, queue_id = key
        raw = self.ctx.store.select_one_message_by_offset(entry.commitlog_offset)
        if raw is None:
            logger.error(
                "pop: message %s-%d@%d of group %s is gone from the commit log; dropped",
                topic, queue_id, entry.offset, group,
            )  # fmt: skip
            self._forget(key, entry)
            return False
        try:
            original, _ = decode_record(raw, 0, decompress=False)
        except MessageFormatError as exc:
            logger.error("pop: unreadable record at %d (%s); dropped", entry.commitlog_offset, exc)
            self._forget(key, entry)
            return False
        group_config = self.ctx.groups.find_subscription_group_config(group)
        max_times = (
            group_config.retry_max_times
            if group_config is not None
            else retry.DEFAULT_MAX_RECONSUME_TIMES
        )
        dead = original.reconsume_times >= max_times
        target = dlq_topic(group) if dead else _retry_target(group, topic)
        self.ctx.topics.create_topic_in_send_message_back_method(
            target,
            retry.DLQ_NUMS_PER_GROUP if dead else 1,
            retry.DLQ_TOPIC_PERM if dead else retry.RETRY_TOPIC_PERM,
        )
        msg = retry.build_send_back_message(
            original, retry.RetryDecision(target, 0, dead), 0, self.ctx.broker_addr
        )
        result = self.ctx.store.put_message(msg)
        status = result.status.name
        if status not in _STORED:
            logger.warning("pop: revive of %s into %s failed (%s); retrying", original.msg_id,
                           target, status)  # fmt: skip
            self.table.defer(key, entry, now + REVIVE_FAILURE_BACKOFF_MS)
            return False
        self.ctx.stats.record_put(1)
        if dead:
            self.dead_lettered += 1
            logger.info("pop: message %s of group %s consumed %d times; moved to %s",
                        original.msg_id, group, original.reconsume_times, target)  # fmt: skip
        else:
            self.revived += 1
        self._forget(key, entry)
        return True

    def _forget(self, key: PopKey, entry: InFlight) -> None:
        self.table.remove(key, entry.offset)
        state = self.table.get(key)
        if state is not None:
            self._commit(key, state)

    # --- introspection ---------------------------------------------------------------------

    def runtime_info(self) -> Mapping[str, str]:
        """Counters for GET_BROKER_RUNTIME_INFO-style reporting."""
        held = self.hold_service.held_count if self.hold_service is not None else 0
        return {
            "popRequestHoldCount": str(held),
            "popInflightCount": str(self._inflight()),
            "popReviveCount": str(self.revived),
            "popDeadLetterCount": str(self.dead_lettered),
        }


def _retry_target(group: str, topic: str) -> str:
    """Where a revived message of ``topic`` goes: its group's pop retry topic (a message of
    the retry topic stays there)."""
    prefix = pop_retry_topic(group, "")
    return topic if topic.startswith(prefix) else pop_retry_topic(group, topic)
