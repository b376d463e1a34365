"""A bounded memory of transactions that are already resolved.

RocketMQ resolves a transaction by its half message's offsets, and the check service
re-appends a half message (a new copy with new offsets) every time it checks it. A late
END_TRANSACTION for an older copy, or the producer answering two checks, would then commit the
same transaction twice. The broker remembers resolved transaction ids here and ignores a
second resolution, so consumers see each committed message once.

Entries are keyed by transaction id (the half message's UNIQ_KEY). The table keeps the
``capacity`` most recently recorded ids (least recently recorded are forgotten first); after a
restart the check service refills it from the op queue (see :mod:`.check`).
"""

from __future__ import annotations

from collections import OrderedDict

from rmq_core.common.message import MessageSysFlag

__all__ = ["DEFAULT_CAPACITY", "RESOLVED_UNKNOWN", "ResolvedTransactions", "state_name"]

DEFAULT_CAPACITY = 100_000
RESOLVED_UNKNOWN = -1
"""State of a transaction known to be resolved (an op record exists) without knowing how."""

_NAMES = {
    MessageSysFlag.TRANSACTION_COMMIT_TYPE: "COMMIT",
    MessageSysFlag.TRANSACTION_ROLLBACK_TYPE: "ROLLBACK",
    MessageSysFlag.TRANSACTION_NOT_TYPE: "UNKNOWN",
    RESOLVED_UNKNOWN: "RESOLVED",
}


def state_name(state: int) -> str:
    """``COMMIT``, ``ROLLBACK``, ``UNKNOWN`` (0) or ``RESOLVED`` (-1, how is unknown)."""
    return _NAMES.get(state, str(state))


class ResolvedTransactions:
    """``transaction id -> state`` (COMMIT 8, ROLLBACK 12 or RESOLVED_UNKNOWN), bounded."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._states: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, transaction_id: object) -> bool:
        return transaction_id in self._states

    def get(self, transaction_id: str | None) -> int | None:
        """The recorded state of ``transaction_id``, or None when unknown."""
        if not transaction_id:
            return None
        return self._states.get(transaction_id)

    def record(self, transaction_id: str | None, state: int) -> None:
        """Remember ``transaction_id`` as resolved with ``state``.

        A definite state (COMMIT/ROLLBACK) replaces RESOLVED_UNKNOWN, never the reverse.
        """
        if not transaction_id:
            return
        known = self._states.get(transaction_id)
        if known is not None and known != RESOLVED_UNKNOWN and state == RESOLVED_UNKNOWN:
            state = known
        self._states[transaction_id] = state
        self._states.move_to_end(transaction_id)
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)

    def forget(self, transaction_id: str | None) -> None:
        """Drop ``transaction_id`` (its resolution could not be stored after all)."""
        if transaction_id:
            self._states.pop(transaction_id, None)
