"""``@rocketmq_transaction_listener`` and the adapter that hands such a listener to the client.

A transaction listener is a class (or instance) with::

    def execute_local_transaction(self, msg: Message, arg) -> RocketMQLocalTransactionState
    def check_local_transaction(self, msg: MessageExt) -> RocketMQLocalTransactionState

``execute_local_transaction`` runs after the half message is stored (``arg`` is what was given
to ``send_message_in_transaction``); ``check_local_transaction`` answers the broker when it
never heard the outcome (UNKNOWN, or a lost END_TRANSACTION). Returning COMMIT makes the
message visible, ROLLBACK drops it, UNKNOWN (or raising) leaves it to a later check. Both run
in client threads, inside the template's context (the app context under Flask).
``LocalTransactionState`` values (the client's names) are accepted as well. The template
sends through :class:`rmq_core.client.sync.TransactionProducer`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from rmq_core import Message, MessageExt
from rmq_core.client import LocalTransactionState
from rmq_core.client.sync import DEFAULT_LOCAL_TRANSACTION_TIMEOUT
from rmq_integrations.spring.errors import ListenerDeclarationError

__all__ = [
    "DEFAULT_LOCAL_TRANSACTION_TIMEOUT",
    "TRANSACTION_LISTENER_ATTRIBUTE",
    "RocketMQLocalTransactionState",
    "TransactionListenerAdapter",
    "rocketmq_transaction_listener",
]

TRANSACTION_LISTENER_ATTRIBUTE = "__rocketmq_transaction_listener__"

C = TypeVar("C", bound=type)


class RocketMQLocalTransactionState(enum.StrEnum):
    """rocketmq-spring's names for a local transaction's outcome."""

    COMMIT = "COMMIT"
    ROLLBACK = "ROLLBACK"
    UNKNOWN = "UNKNOWN"


_TO_CLIENT = {
    RocketMQLocalTransactionState.COMMIT: LocalTransactionState.COMMIT_MESSAGE,
    RocketMQLocalTransactionState.ROLLBACK: LocalTransactionState.ROLLBACK_MESSAGE,
    RocketMQLocalTransactionState.UNKNOWN: LocalTransactionState.UNKNOW,
}


def to_client_state(value: object) -> LocalTransactionState:
    """Map a listener's answer to the client's state; anything unrecognised is UNKNOW."""
    if isinstance(value, RocketMQLocalTransactionState):
        return _TO_CLIENT[value]
    if isinstance(value, LocalTransactionState):
        return value
    if isinstance(value, str):
        for enum_type in (RocketMQLocalTransactionState, LocalTransactionState):
            try:
                return to_client_state(enum_type(value))
            except ValueError:
                continue
    return LocalTransactionState.UNKNOW


def rocketmq_transaction_listener(cls: C | None = None) -> Any:
    """Mark a class as a transaction listener (``@rocketmq_transaction_listener`` or with
    parentheses). Raises ListenerDeclarationError when either method is missing."""

    def mark(target: C) -> C:
        if not isinstance(target, type):
            raise ListenerDeclarationError("@rocketmq_transaction_listener decorates a class")
        for method in ("execute_local_transaction", "check_local_transaction"):
            if not callable(getattr(target, method, None)):
                raise ListenerDeclarationError(
                    f"transaction listener {target.__qualname__} lacks {method}()"
                )
        setattr(target, TRANSACTION_LISTENER_ATTRIBUTE, True)
        return target

    return mark if cls is None else mark(cls)


class TransactionListenerAdapter:
    """Wraps a user listener for the client: maps states, enters ``context`` per call."""

    def __init__(
        self, listener: object, context: Callable[[], AbstractContextManager[Any]]
    ) -> None:
        if isinstance(listener, type):
            listener = listener()
        for method in ("execute_local_transaction", "check_local_transaction"):
            if not callable(getattr(listener, method, None)):
                raise ListenerDeclarationError(
                    f"transaction listener {type(listener).__qualname__} lacks {method}()"
                )
        self.listener = listener
        self._context = context

    def execute_local_transaction(self, msg: Message, arg: Any) -> LocalTransactionState:
        with self._context():
            return to_client_state(self.listener.execute_local_transaction(msg, arg))  # type: ignore[attr-defined]

    def check_local_transaction(self, msg: MessageExt) -> LocalTransactionState:
        with self._context():
            return to_client_state(self.listener.check_local_transaction(msg))  # type: ignore[attr-defined]
