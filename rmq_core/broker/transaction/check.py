"""``TransactionCheckService``: asks producers about transactions left open (reference §5.9).

Every ``check_interval`` seconds one **round** runs per half queue:

1. progress = the committed offsets of group ``CID_RMQ_SYS_TRANS`` on the half queue and on
   its op queue (the queue minimum when none is committed yet);
2. op messages from the op progress are read (at most ``max_ops_per_round``) into
   ``removed: half offset -> op offset``; the transaction ids of those half messages are
   recorded as resolved (this refills the resolved table after a restart);
3. half messages from the half progress, in order (at most ``max_half_per_round``):

   - resolved by an op record, or whose transaction id is already resolved -> done;
   - checked ``check_max`` times already, or born longer ago than the file retention ->
     discarded into ``TRANS_CHECK_MAX_TIME_TOPIC``;
   - stored after the round began, or born less than ``timeout`` ago -> stop (everything
     after it is younger);
   - younger than its own ``CHECK_IMMUNITY_TIME_IN_SECONDS`` -> re-appended with its check
     count unchanged (it must not block the queue) and skipped;
   - otherwise the half message is **renewed** (re-appended with ``TRANSACTION_CHECK_TIMES``
     + 1) and CHECK_TRANSACTION_STATE is sent, oneway, for the renewed copy to one live
     producer connection of its ``PGROUP``;
4. the half progress moves past what was handled; the op progress moves past the contiguous
   run of op messages whose half messages are handled.

A producer that answers COMMIT/ROLLBACK sends END_TRANSACTION with ``fromTransactionCheck``;
one that answers UNKNOWN, or is gone, leaves the renewed copy to the next round. No live
producer in the group: the message still counts a check (as in RocketMQ), so a transaction
whose producers are all gone ends discarded after ``check_max`` rounds.

The service is an asyncio task on the broker's loop (store reads are short and bounded);
tests call :meth:`TransactionCheckService.run_once` directly with a chosen clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rmq_core.broker.context import BrokerContext
from rmq_core.broker.transaction.bridge import TransactionalMessageBridge
from rmq_core.broker.transaction.messages import (
    HALF_TOPIC,
    OP_HALF_TOPIC,
    HalfMessageError,
    check_immunity_ms,
    check_times,
    parse_op_body,
    real_queue,
    transaction_id,
)
from rmq_core.broker.transaction.resolved import RESOLVED_UNKNOWN, ResolvedTransactions
from rmq_core.broker.transaction.settings import TransactionSettings
from rmq_core.common.message import MessageConst, MessageExt
from rmq_core.common.message_codec import MessageFormatError, encode_record
from rmq_core.errors import RocketMQError
from rmq_core.remoting.codes import RequestCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import CheckTransactionStateRequestHeader

__all__ = ["CheckRoundReport", "TransactionCheckService", "check_request"]

logger = logging.getLogger(__name__)

_OP_BATCH = 32
_MAX_MISSING_HALF = 1


@dataclass(slots=True)
class CheckRoundReport:
    """What one round did, summed over the half queues."""

    checked: int = 0
    discarded: int = 0
    done: int = 0
    immune: int = 0
    no_producer: int = 0
    checked_ids: list[str] = field(default_factory=list)


def check_request(copy: MessageExt, broker_name: str) -> RemotingCommand:
    """The CHECK_TRANSACTION_STATE request for a renewed half message ``copy``.

    Header offsets are the copy's (the producer answers with them); the body is the copy
    encoded as a stored record with topic and queue id restored to the real ones.
    """
    topic, queue_id = real_queue(copy)
    uniq = copy.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    header = CheckTransactionStateRequestHeader(
        topic=topic,
        tran_state_table_offset=copy.queue_offset,
        commit_log_offset=copy.commitlog_offset,
        msg_id=uniq,
        transaction_id=transaction_id(copy) or uniq,
        offset_msg_id=copy.msg_id,
        bname=broker_name,
    )
    shown = MessageExt(
        topic=topic,
        body=copy.body,
        flag=copy.flag,
        properties=dict(copy.properties),
        queue_id=queue_id,
        queue_offset=copy.queue_offset,
        commitlog_offset=copy.commitlog_offset,
        sys_flag=copy.sys_flag,
        born_timestamp=copy.born_timestamp,
        born_host=copy.born_host,
        store_timestamp=copy.store_timestamp,
        store_host=copy.store_host,
        reconsume_times=copy.reconsume_times,
        prepared_transaction_offset=copy.prepared_transaction_offset,
    )
    return RemotingCommand.request(
        RequestCode.CHECK_TRANSACTION_STATE, header, body=encode_record(shown), oneway=True
    )


class _OpView:
    """Op messages of one queue read so far in a round (see the module docstring)."""

    def __init__(
        self,
        bridge: TransactionalMessageBridge,
        resolved: ResolvedTransactions,
        queue_id: int,
        half_progress: int,
        op_progress: int,
        limit: int,
    ) -> None:
        self.bridge = bridge
        self.resolved = resolved
        self.queue_id = queue_id
        self.half_progress = half_progress
        self.start = op_progress
        self.next_offset = op_progress
        self.removed: dict[int, int] = {}
        self.done_ops: set[int] = set()
        self.exhausted = False
        self._budget = limit

    def load_batch(self) -> None:
        """Read the next batch of op messages (sets ``exhausted`` at the end or the budget)."""
        if self.exhausted:
            return
        if self._budget <= 0:
            self.exhausted = True
            return
        batch = self.bridge.read_ops(self.queue_id, self.next_offset, min(_OP_BATCH, self._budget))
        if not batch.messages or batch.next_offset <= self.next_offset:
            self.exhausted = True
            return
        for op in batch.messages:
            self._budget -= 1
            for half_offset in parse_op_body(op.body):
                if half_offset < self.half_progress:
                    self.done_ops.add(op.queue_offset)
                else:
                    self.removed.setdefault(half_offset, op.queue_offset)
                    self._remember(half_offset)
        self.next_offset = batch.next_offset

    def load_all(self) -> None:
        """Read op messages until the queue or the budget is exhausted."""
        while not self.exhausted:
            self.load_batch()

    def _remember(self, half_offset: int) -> None:
        half = self.bridge.read_half(self.queue_id, half_offset)
        if half is not None:
            self.resolved.record(transaction_id(half), RESOLVED_UNKNOWN)

    def new_op_progress(self) -> int:
        """Op progress after the round: past the contiguous run of done op offsets."""
        progress = self.start
        while progress in self.done_ops:
            progress += 1
        return progress


class TransactionCheckService:
    """Periodic transaction check-backs (module docstring)."""

    def __init__(
        self,
        ctx: BrokerContext,
        resolved: ResolvedTransactions,
        *,
        settings: Callable[[], TransactionSettings] = TransactionSettings,
        bridge: TransactionalMessageBridge | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``resolved`` is shared with the END_TRANSACTION service; ``clock`` is wall-clock s."""
        self.ctx = ctx
        self.resolved = resolved
        self.settings = settings
        self.bridge = bridge or TransactionalMessageBridge(ctx)
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._round_lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic task on the running loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="trans-check")

    async def shutdown(self) -> None:
        """Stop the periodic task (a round in progress is cancelled between steps)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wakeup(self) -> None:
        """Run the next round now."""
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.settings().check_interval)
            self._wakeup.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("transaction check round failed")

    # --- one round -------------------------------------------------------------------------

    async def run_once(self, now: float | None = None) -> CheckRoundReport:
        """One round over every half queue; ``now`` in wall-clock seconds (default: clock)."""
        report = CheckRoundReport()
        async with self._round_lock:
            now_ms = int((self._clock() if now is None else now) * 1000)
            settings = self.settings()
            for queue_id in self.bridge.half_queue_ids():
                await self._check_queue(queue_id, now_ms, settings, report)
        if report.checked or report.discarded:
            logger.info(
                "transaction check: %d checked, %d discarded, %d done, %d without producer",
                report.checked,
                report.discarded,
                report.done,
                report.no_producer,
            )
        return report

    def _start_offsets(self, queue_id: int) -> tuple[int, int]:
        half_min, _half_max = self.bridge.half_queue_range(queue_id)
        half_progress = max(self.bridge.progress(HALF_TOPIC, queue_id), half_min)
        op_progress = self.bridge.progress(OP_HALF_TOPIC, queue_id)
        if op_progress < 0:
            op_progress = self.bridge.op_queue_min(queue_id)
        return half_progress, max(op_progress, self.bridge.op_queue_min(queue_id))

    async def _check_queue(
        self, queue_id: int, now_ms: int, settings: TransactionSettings, report: CheckRoundReport
    ) -> None:
        half_progress, op_progress = self._start_offsets(queue_id)
        _half_min, half_max = self.bridge.half_queue_range(queue_id)
        ops = _OpView(
            self.bridge,
            self.resolved,
            queue_id,
            half_progress,
            op_progress,
            settings.max_ops_per_round,
        )
        ops.load_all()
        offset = half_progress
        limit = half_progress + settings.max_half_per_round
        missing = 0
        while offset < min(half_max, limit):
            if offset in ops.removed:
                ops.done_ops.add(ops.removed.pop(offset))
                report.done += 1
                offset += 1
                continue
            half = self.bridge.read_half(queue_id, offset)
            if half is None:
                missing += 1
                if missing > _MAX_MISSING_HALF:
                    break
                offset += 1
                continue
            step = await self._handle(half, now_ms, settings, report)
            if step == _STOP:
                break
            offset += 1
        self.bridge.commit_progress(HALF_TOPIC, queue_id, offset)
        self.bridge.commit_progress(OP_HALF_TOPIC, queue_id, ops.new_op_progress())

    async def _handle(
        self,
        half: MessageExt,
        now_ms: int,
        settings: TransactionSettings,
        report: CheckRoundReport,
    ) -> int:
        """Decide about one half message no op record resolves; _NEXT or _STOP."""
        if self.resolved.get(transaction_id(half)) is not None:
            report.done += 1
            return _NEXT
        age = now_ms - half.born_timestamp
        if check_times(half) >= settings.check_max or age > settings.file_reserved_time * 1000:
            await self._discard(half, report)
            return _NEXT
        if half.store_timestamp >= now_ms:
            return _STOP
        if age >= 0:  # a producer clock ahead of ours (age < 0) means "check now", as in Java
            if age < settings.timeout_ms:
                return _STOP
            if age < check_immunity_ms(half, settings.timeout_ms):
                if await self.bridge.put_back(half, count_check=False) is None:
                    return _STOP
                report.immune += 1
                return _NEXT
        return await self._check(half, report)

    async def _discard(self, half: MessageExt, report: CheckRoundReport) -> None:
        logger.warning(
            "transaction %s of group %s discarded after %d checks",
            transaction_id(half),
            half.properties.get(MessageConst.PROPERTY_PRODUCER_GROUP),
            check_times(half),
        )
        await self.bridge.discard(half)
        report.discarded += 1

    async def _check(self, half: MessageExt, report: CheckRoundReport) -> int:
        copy = await self.bridge.put_back(half)
        if copy is None:
            return _STOP
        txid = transaction_id(copy) or ""
        report.checked += 1
        report.checked_ids.append(txid)
        group = copy.properties.get(MessageConst.PROPERTY_PRODUCER_GROUP, "")
        channel = self.ctx.producers.available_channel(group)
        if channel is None:
            report.no_producer += 1
            logger.info("transaction %s: no live producer of group %s to check", txid, group)
            return _NEXT
        try:
            request = check_request(copy, self.ctx.config.broker_name)
        except (HalfMessageError, MessageFormatError) as exc:
            logger.error("transaction %s cannot be checked: %s", txid, exc)
            return _NEXT
        try:
            await channel.connection.invoke_oneway(request)
        except (RocketMQError, OSError) as exc:
            logger.info("transaction %s: check to %s failed: %s", txid, channel.address, exc)
        return _NEXT


_NEXT = 0
_STOP = 1
