"""Errors of the Spring-style API; all are :class:`~rmq_core.ClientError` (misuse, bad data)."""

from __future__ import annotations

from rmq_core import ClientError

__all__ = ["ListenerDeclarationError", "MessageConversionError"]


class ListenerDeclarationError(ClientError):
    """A listener cannot be declared or registered as written (raised at declaration time)."""


class MessageConversionError(ClientError):
    """A payload cannot be turned into a body, or a body into the listener's parameter type.

    At declaration time it means no converter supports the handler's type hint; at consume
    time it is a consume failure: logged, signalled and the message retried.
    """
