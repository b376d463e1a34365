"""``TransactionalMessageService``: half messages in, commits and rollbacks out (reference §5.9).

- :meth:`~TransactionalMessageService.prepare` turns a prepared send into its half message
  (the send processor stores it like any message, so the producer sees an ordinary send
  result whose ``queueOffset`` is the half-queue offset);
- :meth:`~TransactionalMessageService.end` applies END_TRANSACTION: it loads the half
  message at ``commitLogOffset``, checks it belongs to ``producerGroup`` and sits at
  ``tranStateTableOffset``, then stores the real message (COMMIT) and an op record (COMMIT
  and ROLLBACK).

Answers (an END_TRANSACTION from the Java client is oneway, so they matter only to callers
that ask for one; every outcome is logged):

==============================================  ===============================================
state 0 (UNKNOWN)                               SUCCESS, nothing done (the check service asks)
state other than 0, 8, 12                       INVALID_PARAMETER
no half message at ``commitLogOffset``          SYSTEM_ERROR "Find prepared transaction message
                                                failed" (ignored, nothing stored)
wrong producer group / queue offset             SYSTEM_ERROR naming the mismatch
transaction already resolved                    SUCCESS with a remark; ignored (no duplicate)
immunity over and not a check reply             ILLEGAL_OPERATION (604)
real message not stored                         the store's error code
==============================================  ===============================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from rmq_core.broker.context import BrokerContext
from rmq_core.broker.transaction.bridge import TransactionalMessageBridge
from rmq_core.broker.transaction.messages import (
    HalfMessageError,
    to_half_message,
    to_real_message,
    transaction_id,
)
from rmq_core.broker.transaction.resolved import ResolvedTransactions, state_name
from rmq_core.broker.transaction.settings import TransactionSettings
from rmq_core.common.message import MessageConst, MessageExt, MessageExtBrokerInner, MessageSysFlag
from rmq_core.remoting.codes import ResponseCode
from rmq_core.remoting.headers import EndTransactionRequestHeader

__all__ = ["EndOutcome", "TransactionalMessageService", "is_prepared_send"]

logger = logging.getLogger(__name__)

COMMIT = MessageSysFlag.TRANSACTION_COMMIT_TYPE
ROLLBACK = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE
NOT_TYPE = MessageSysFlag.TRANSACTION_NOT_TYPE

_STORE_CODES = {
    "SERVICE_NOT_AVAILABLE": ResponseCode.SERVICE_NOT_AVAILABLE,
    "MESSAGE_ILLEGAL": ResponseCode.MESSAGE_ILLEGAL,
    "PROPERTIES_SIZE_EXCEEDED": ResponseCode.MESSAGE_ILLEGAL,
}


def is_prepared_send(sys_flag: int, properties: dict[str, str]) -> bool:
    """True for a transactional (prepared) send: ``TRAN_MSG=true`` or PREPARED sysflag bits."""
    flag = properties.get(MessageConst.PROPERTY_TRANSACTION_PREPARED, "")
    if flag.lower() == "true":
        return True
    prepared = MessageSysFlag.TRANSACTION_PREPARED_TYPE
    return MessageSysFlag.get_transaction_value(sys_flag) == prepared


@dataclass(frozen=True, slots=True)
class EndOutcome:
    """The answer to one END_TRANSACTION: response code and remark."""

    code: int
    remark: str | None = None

    @property
    def ok(self) -> bool:
        """True for SUCCESS."""
        return self.code == ResponseCode.SUCCESS


class TransactionalMessageService:
    """Prepare and end transactions; shares the resolved-transaction table with the checker."""

    def __init__(
        self,
        ctx: BrokerContext,
        *,
        settings: Callable[[], TransactionSettings] = TransactionSettings,
        bridge: TransactionalMessageBridge | None = None,
        resolved: ResolvedTransactions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``settings`` returns the current settings; ``clock`` is wall-clock seconds."""
        self.ctx = ctx
        self.settings = settings
        self.bridge = bridge or TransactionalMessageBridge(ctx)
        self.resolved = resolved or ResolvedTransactions()
        self._clock = clock

    # --- half messages ---------------------------------------------------------------------

    @staticmethod
    def prepare(msg: MessageExtBrokerInner) -> None:
        """Rewrite a prepared message into its half message, in place (store it afterwards)."""
        to_half_message(msg)

    # --- END_TRANSACTION -------------------------------------------------------------------

    async def end(
        self, header: EndTransactionRequestHeader, remark: str | None = None, client: str = ""
    ) -> EndOutcome:
        """Apply an END_TRANSACTION (see the module docstring for every answer)."""
        state = header.commit_or_rollback
        origin = "check reply" if header.from_transaction_check else "producer"
        if state == NOT_TYPE:
            logger.info(
                "transaction %s of %s left open by %s %s (%s)",
                header.msg_id,
                header.producer_group,
                origin,
                client,
                remark or "state unknown",
            )
            return EndOutcome(ResponseCode.SUCCESS, "transaction state unknown; it will be checked")
        if state not in (COMMIT, ROLLBACK):
            return EndOutcome(
                ResponseCode.INVALID_PARAMETER,
                f"commitOrRollback must be 0, 8 or 12, got {state}",
            )
        half = self.bridge.look_half_message(header.commit_log_offset)
        problem = self._mismatch(half, header)
        if problem is not None:
            logger.warning(
                "END_TRANSACTION %s from %s %s ignored: %s",
                state_name(state),
                origin,
                client,
                problem,
            )
            return EndOutcome(ResponseCode.SYSTEM_ERROR, problem)
        assert half is not None
        return await self._resolve(half, state, header, origin, client)

    @staticmethod
    def _mismatch(half: MessageExt | None, header: EndTransactionRequestHeader) -> str | None:
        if half is None:
            return (
                "Find prepared transaction message failed: no half message at commit-log "
                f"offset {header.commit_log_offset}"
            )
        group = half.properties.get(MessageConst.PROPERTY_PRODUCER_GROUP)
        if group != header.producer_group:
            return (
                f"The producer group wrong: the half message belongs to {group!r}, "
                f"not {header.producer_group!r}"
            )
        if half.queue_offset != header.tran_state_table_offset:
            return (
                "The transaction state table offset wrong: the half message is at "
                f"{half.queue_offset}, not {header.tran_state_table_offset}"
            )
        return None

    def _immunity_over(self, half: MessageExt, header: EndTransactionRequestHeader) -> bool:
        if header.from_transaction_check:
            return False
        raw = half.properties.get(MessageConst.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS)
        if raw is None:
            return False
        try:
            immunity_ms = int(raw) * 1000
        except ValueError:
            return False
        now_ms = int(self._clock() * 1000)
        return now_ms - half.store_timestamp > immunity_ms

    async def _resolve(
        self,
        half: MessageExt,
        state: int,
        header: EndTransactionRequestHeader,
        origin: str,
        client: str,
    ) -> EndOutcome:
        txid = transaction_id(half) or header.msg_id
        known = self.resolved.get(txid)
        if known is not None:
            logger.info(
                "transaction %s already resolved (%s); %s %s from %s %s ignored",
                txid,
                state_name(known),
                state_name(state),
                header.msg_id,
                origin,
                client,
            )
            await self.bridge.put_op(half.queue_offset, half.queue_id)
            return EndOutcome(
                ResponseCode.SUCCESS,
                f"transaction {txid} is already resolved ({state_name(known)}); ignored",
            )
        if self._immunity_over(half, header):
            return EndOutcome(
                ResponseCode.ILLEGAL_OPERATION,
                f"transaction {txid}: the check immunity time is over, the broker is checking it",
            )
        self.resolved.record(txid, state)  # reserve before awaiting: no double commit
        if state == COMMIT:
            outcome = await self._commit(half)
            if not outcome.ok:
                self.resolved.forget(txid)
                return outcome
        if not await self.bridge.put_op(half.queue_offset, half.queue_id):
            logger.error("transaction %s: op record not stored; it may be checked again", txid)
        logger.debug("transaction %s %s by %s %s", txid, state_name(state), origin, client)
        return EndOutcome(ResponseCode.SUCCESS)

    async def _commit(self, half: MessageExt) -> EndOutcome:
        try:
            real = to_real_message(half)
        except HalfMessageError as exc:
            return EndOutcome(ResponseCode.SYSTEM_ERROR, str(exc))
        outcome = await self.bridge.put(real)
        if outcome.stored:
            return EndOutcome(ResponseCode.SUCCESS)
        code = _STORE_CODES.get(outcome.status, ResponseCode.SYSTEM_ERROR)
        return EndOutcome(code, f"storing the committed message failed: {outcome.status}")
