"""Message queue selectors for ordered sends (``CL/producer/selector/*.java``).

A selector picks one queue of the topic's publish list for a message and a user argument;
messages sent with the same argument (an order id, say) land in the same queue and so keep
their order. Selection is deterministic for ``SelectMessageQueueByHash``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rmq_core.client.message_queue import MessageQueue
from rmq_core.errors import ClientError

__all__ = [
    "MessageQueueSelector",
    "SelectMessageQueueByHash",
    "SelectMessageQueueByRandom",
    "java_hash_code",
    "selector_from_callable",
]

_INT_MIN = -(2**31)


def _to_int32(value: int) -> int:
    """Wrap ``value`` to a signed 32-bit Java int."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def java_hash_code(arg: object) -> int:
    """Java's ``hashCode()`` for the argument types an ordered send uses.

    ``str`` → ``String.hashCode`` (over UTF-16 code units), ``bool`` → ``Boolean.hashCode``,
    ``int`` → ``Integer.hashCode`` when it fits in 32 bits else ``Long.hashCode``. Other
    objects fall back to ``hash()`` folded to 32 bits (stable only for stable ``__hash__``).
    """
    if isinstance(arg, bool):
        return 1231 if arg else 1237
    if isinstance(arg, int):
        if _INT_MIN <= arg < 2**31:
            return arg
        unsigned = arg & 0xFFFFFFFFFFFFFFFF
        return _to_int32(unsigned ^ (unsigned >> 32))
    if isinstance(arg, str):
        h = 0
        data = arg.encode("utf-16-be")
        for i in range(0, len(data), 2):
            h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
        return _to_int32(h)
    return _to_int32(hash(arg))


class MessageQueueSelector(Protocol):
    """Pick a queue from ``mqs`` (the publish list, never empty) for ``msg`` and ``arg``."""

    def select(self, mqs: Sequence[MessageQueue], msg: Any, arg: Any) -> MessageQueue: ...


class SelectMessageQueueByHash:
    """``abs(javaHash(arg) % len(mqs))``: Java's remainder keeps the sign of the dividend."""

    def select(self, mqs: Sequence[MessageQueue], msg: Any, arg: Any) -> MessageQueue:
        if not mqs:
            raise ClientError("select: no message queue to choose from")
        h = java_hash_code(arg)
        remainder = abs(h) % len(mqs)  # == abs(h % n) with Java's truncating %
        return mqs[remainder]


class SelectMessageQueueByRandom:
    """A uniformly random queue (no ordering guarantee; spreads load)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def select(self, mqs: Sequence[MessageQueue], msg: Any, arg: Any) -> MessageQueue:
        if not mqs:
            raise ClientError("select: no message queue to choose from")
        return mqs[self._rng.randrange(len(mqs))]


class _CallableSelector:
    def __init__(self, fn: Callable[[Sequence[MessageQueue], Any, Any], MessageQueue]) -> None:
        self._fn = fn

    def select(self, mqs: Sequence[MessageQueue], msg: Any, arg: Any) -> MessageQueue:
        return self._fn(mqs, msg, arg)


def selector_from_callable(
    fn: Callable[[Sequence[MessageQueue], Any, Any], MessageQueue],
) -> MessageQueueSelector:
    """Wrap a plain function ``fn(mqs, msg, arg) -> MessageQueue`` as a selector."""
    return _CallableSelector(fn)
