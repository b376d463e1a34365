"""kafka-python's futures: :class:`Future` and :class:`FutureRecordMetadata`.

A future is resolved once, from any thread; ``get(timeout)`` blocks the caller (seconds).
Callbacks added before resolution run in the resolving thread, later ones at once in the
adding thread; ``f(*args, value, **kwargs)`` like kafka-python. A callback that raises is
logged and does not stop the others.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from rmq_integrations.kafka import errors

__all__ = ["Future", "FutureRecordMetadata"]

log = logging.getLogger(__name__)


class Future:
    """A result that arrives later: ``value`` on success, ``exception`` on failure."""

    error_on_callbacks = False

    def __init__(self) -> None:
        self.is_done = False
        self.value: Any = None
        self.exception: BaseException | None = None
        self._callbacks: list[Callable[[Any], Any]] = []
        self._errbacks: list[Callable[[Any], Any]] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    def succeeded(self) -> bool:
        return self.is_done and self.exception is None

    def failed(self) -> bool:
        return self.is_done and self.exception is not None

    def retriable(self) -> bool:
        return bool(getattr(self.exception, "retriable", False))

    def success(self, value: Any) -> Future:
        """Resolve with ``value`` and run the callbacks."""
        with self._lock:
            if self.is_done:
                raise errors.IllegalStateError("future is already done")
            self.value = value
            self.is_done = True
            callbacks = list(self._callbacks)
        self._done.set()
        for callback in callbacks:
            self._call(callback, value)
        return self

    def failure(self, exc: BaseException | type[BaseException]) -> Future:
        """Fail with ``exc`` and run the errbacks."""
        error = exc() if isinstance(exc, type) else exc
        with self._lock:
            if self.is_done:
                raise errors.IllegalStateError("future is already done")
            self.exception = error
            self.is_done = True
            errbacks = list(self._errbacks)
        self._done.set()
        for errback in errbacks:
            self._call(errback, error)
        return self

    def _call(self, fn: Callable[[Any], Any], arg: Any) -> None:
        try:
            fn(arg)
        except Exception:
            log.exception("error in future callback %r", fn)
            if self.error_on_callbacks:
                raise

    def add_callback(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Call ``f(*args, value, **kwargs)`` on success."""
        callback = functools.partial(f, *args, **kwargs) if args or kwargs else f
        with self._lock:
            if not self.is_done:
                self._callbacks.append(callback)
                return self
        if self.succeeded():
            self._call(callback, self.value)
        return self

    def add_errback(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Call ``f(*args, exception, **kwargs)`` on failure."""
        errback = functools.partial(f, *args, **kwargs) if args or kwargs else f
        with self._lock:
            if not self.is_done:
                self._errbacks.append(errback)
                return self
        if self.failed():
            self._call(errback, self.exception)
        return self

    def add_both(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        self.add_callback(f, *args, **kwargs)
        self.add_errback(f, *args, **kwargs)
        return self

    def chain(self, future: Future) -> Future:
        """Resolve ``future`` the same way as this one."""
        self.add_callback(future.success)
        self.add_errback(future.failure)
        return self

    def wait(self, timeout: float | None) -> bool:
        """Block up to ``timeout`` s (None: forever); True when done."""
        return self._done.wait(timeout)

    def get(self, timeout: float | None = None) -> Any:
        """The value, blocking up to ``timeout`` s; raises the failure or KafkaTimeoutError."""
        if not self._done.wait(timeout):
            raise errors.KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")
        if self.exception is not None:
            raise self.exception
        return self.value


class FutureRecordMetadata(Future):
    """The future :meth:`KafkaProducer.send` returns; resolves to a RecordMetadata."""
