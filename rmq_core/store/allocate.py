"""``AllocateService``: creates (and optionally pre-touches) the next commit-log segment ahead
of time, so the writer never creates a file on its own path.

The writer calls :meth:`AllocateService.request` for the segment after the one it starts
writing, and :meth:`AllocateService.take` when it needs it. ``take`` returns the prepared file,
waits for one being prepared, or (only if the service was never asked, which the commit log
avoids) creates it inline.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from rmq_core.store.mapped_file import MappedFile
from rmq_core.store.service import Service

__all__ = ["AllocateService"]

log = logging.getLogger(__name__)


class AllocateService(Service):
    """Pre-creates mapped files requested by path; ``warm`` pre-touches their pages."""

    def __init__(self, *, warm: bool = False) -> None:
        super().__init__("AllocateMappedFileService", 1.0)
        self._warm = warm
        self._lock = threading.Lock()
        self._pending: dict[str, _Request] = {}
        self._queue: collections.deque[str] = collections.deque()
        self.inline_creations = 0
        self.warmer: Callable[[], None] | None = None
        """Called after every pass (the commit log's ``warm_ahead``): woken by the writer when
        it nears the end of what was pre-faulted."""

    def request(self, path: str, file_size: int, file_from_offset: int) -> None:
        """Ask for ``path`` to be created in the background (no-op if already asked)."""
        with self._lock:
            if path in self._pending:
                return
            self._pending[path] = _Request(path, file_size, file_from_offset)
            self._queue.append(path)
        self.wakeup()

    def take(self, path: str, file_size: int, file_from_offset: int) -> MappedFile:
        """The mapped file for ``path``: prepared, being prepared (waited for) or made now."""
        with self._lock:
            entry = self._pending.pop(path, None)
        if entry is not None:
            self._serve(entry)  # no-op when the service already started it
            return entry.future.result()
        self.inline_creations += 1
        log.debug("allocating %s inline", path)
        return MappedFile(path, file_size, file_from_offset, create=True)

    def run_once(self, now: float) -> None:
        """Create every requested file not created yet, then run the :attr:`warmer`."""
        while True:
            with self._lock:
                if not self._queue:
                    break
                path = self._queue.popleft()
                entry = self._pending.get(path)
            if entry is not None:
                self._serve(entry)
        if self.warmer is not None and not self._stopped:
            self.warmer()

    def _serve(self, entry: _Request) -> None:
        with self._lock:
            if entry.started:
                return
            entry.started = True
        try:
            mapped = MappedFile(entry.path, entry.file_size, entry.file_from_offset, create=True)
            if self._warm:
                mapped.warm()
            entry.future.set_result(mapped)
        except BaseException as exc:
            entry.future.set_exception(exc)

    def on_shutdown(self) -> None:
        """Close and delete files prepared but never taken."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._queue.clear()
        for entry in pending.values():
            if entry.future.done() and entry.future.exception() is None:
                entry.future.result().destroy()


class _Request:
    __slots__ = ("file_from_offset", "file_size", "future", "path", "started")

    def __init__(self, path: str, file_size: int, file_from_offset: int) -> None:
        self.path = path
        self.file_size = file_size
        self.file_from_offset = file_from_offset
        self.future: Future[MappedFile] = Future()
        self.started = False
