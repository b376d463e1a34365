"""``Service``: a background thread with ``start``, ``shutdown``, ``wakeup`` and ``run_once``.

Every periodic job of the store (flushing, dispatching, allocating files, cleaning) is a
Service. The thread calls :meth:`Service.run_once` whenever it is woken or ``interval`` seconds
have passed; tests call ``run_once(now)`` directly without starting the thread. An exception
in ``run_once`` is logged and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod

__all__ = ["Service"]

log = logging.getLogger(__name__)


class Service(ABC):
    """Base class: subclasses implement :meth:`run_once`; ``interval`` is in seconds."""

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self.interval = interval
        self._event = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        """True once :meth:`shutdown` was called (until a new :meth:`start`)."""
        return self._stopped

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def wakeup(self) -> None:
        """Make the thread run :meth:`run_once` now (cheap when it is already awake)."""
        if not self._event.is_set():
            self._event.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current pass, then run :meth:`on_shutdown`."""
        self._stopped = True
        self._event.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("service %s did not stop within %.1fs", self.name, timeout)
        self.on_shutdown()

    def on_shutdown(self) -> None:  # noqa: B027 (an optional hook, empty by default)
        """Hook run once after the thread stopped (default: nothing)."""

    @abstractmethod
    def run_once(self, now: float) -> None:
        """Do one pass of the job; ``now`` is ``time.time()`` in seconds."""

    def wait_timeout(self) -> float:
        """Seconds the thread waits for :meth:`wakeup` before its next pass (default
        ``interval``); a subclass may wait longer while it knows nothing is pending."""
        return self.interval

    def _loop(self) -> None:
        while not self._stopped:
            self._event.wait(self.wait_timeout())
            self._event.clear()
            if self._stopped:
                break
            try:
                self.run_once(time.time())
            except Exception:
                log.exception("service %s failed; continuing", self.name)
