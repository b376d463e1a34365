"""``@rocketmq_transaction_listener`` and the blocking transactional producer behind the template.

A transaction listener is a class (or instance) with::

    def execute_local_transaction(self, msg: Message, arg) -> RocketMQLocalTransactionState
    def check_local_transaction(self, msg: MessageExt) -> RocketMQLocalTransactionState

``execute_local_transaction`` runs after the half message is stored (``arg`` is what was given
to ``send_message_in_transaction``); ``check_local_transaction`` answers the broker when it
never heard the outcome (UNKNOWN, or a lost END_TRANSACTION). Returning COMMIT makes the
message visible, ROLLBACK drops it, UNKNOWN (or raising) leaves it to a later check. Both run
in client threads, inside the template's context (the app context under Flask).
``LocalTransactionState`` values (the client's names) are accepted as well.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from rmq_core import Message, MessageExt
from rmq_core.client import (
    LocalTransactionState,
    ProducerConfig,
    TransactionProducer,
    TransactionSendResult,
)
from rmq_core.client.sync import Producer, run_sync
from rmq_integrations.spring.errors import ListenerDeclarationError

__all__ = [
    "TRANSACTION_LISTENER_ATTRIBUTE",
    "BlockingTransactionProducer",
    "RocketMQLocalTransactionState",
    "TransactionListenerAdapter",
    "rocketmq_transaction_listener",
]

TRANSACTION_LISTENER_ATTRIBUTE = "__rocketmq_transaction_listener__"
DEFAULT_LOCAL_TRANSACTION_TIMEOUT = 60.0  # s a blocking transactional send waits for the listener
CALL_MARGIN = 5.0  # s of slack on top of the client's own timeouts

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


class BlockingTransactionProducer(Producer):
    """The blocking :class:`~rmq_core.client.sync.Producer` over a
    :class:`~rmq_core.client.TransactionProducer`: every plain send of
    the facade plus :meth:`send_message_in_transaction`. Without a listener it is an ordinary
    producer (broker checks for its group are answered UNKNOWN)."""

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: ProducerConfig | None = None,
        **options: Any,
    ) -> None:
        self.async_producer: TransactionProducer = TransactionProducer(
            group, namesrv_addr, config=config, **options
        )

    def set_transaction_listener(self, listener: Any) -> None:
        self.async_producer.set_transaction_listener(listener)

    @property
    def has_transaction_listener(self) -> bool:
        return self.async_producer.listener is not None

    def send_message_in_transaction(
        self,
        msg: Message,
        arg: Any = None,
        *,
        timeout: float | None = None,
        local_transaction_timeout: float = DEFAULT_LOCAL_TRANSACTION_TIMEOUT,
    ) -> TransactionSendResult:
        """Half send, local transaction, END_TRANSACTION; blocks until all are done.

        ``timeout`` (s) bounds the half send; the whole call gives up (TimeoutError) after
        that plus ``local_transaction_timeout`` s. A transaction given up on is resolved by
        the broker's check later.
        """
        coro = self.async_producer.send_message_in_transaction(msg, arg, timeout=timeout)
        send_timeout = timeout or self.config.send_msg_timeout
        return run_sync(coro, send_timeout + local_transaction_timeout + CALL_MARGIN)
