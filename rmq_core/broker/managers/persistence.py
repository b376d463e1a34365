"""Where the managers' JSON files go: the file names of reference §5.1 and the writers.

A manager encodes its table on the event loop (``encode() -> bytes``) and hands the bytes to a
:class:`ConfigWriter`. :class:`SyncConfigWriter` writes at once (tests, shutdown);
:class:`ThreadedConfigWriter` writes on one background thread so no fsync runs on the event
loop, keeping only the newest content per path. Files are written atomically with a ``.bak`` of
the previous content by the store's ``config_file`` helpers; loading falls back to the ``.bak``.
A file whose copies are all damaged stops the broker (:func:`load_json` raises ConfigError)
instead of starting with an empty table that the next write would save over both copies.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from rmq_core.broker.config import ConfigError
from rmq_core.errors import RocketMQError
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.data_version import DataVersion
from rmq_core.store.config_file import (
    ConfigFileError,
    read_json_with_backup,
    write_json_atomically,
)

__all__ = [
    "CONSUMER_OFFSET_FILE",
    "DELAY_OFFSET_FILE",
    "SUBSCRIPTION_GROUP_FILE",
    "TOPICS_FILE",
    "ConfigWriter",
    "SyncConfigWriter",
    "ThreadedConfigWriter",
    "config_path",
    "data_version_of",
    "load_json",
    "table_of",
]

logger = logging.getLogger(__name__)

TOPICS_FILE = "topics.json"
CONSUMER_OFFSET_FILE = "consumerOffset.json"
SUBSCRIPTION_GROUP_FILE = "subscriptionGroup.json"
DELAY_OFFSET_FILE = "delayOffset.json"


def config_path(store_root: str | Path, name: str) -> Path:
    """``<storePathRootDir>/config/<name>``."""
    return Path(store_root) / "config" / name


class ConfigWriter(Protocol):
    """Something that persists ``data`` at ``path`` (atomically, keeping a ``.bak``)."""

    def write(self, path: Path, data: bytes) -> None:
        """Persist ``data`` at ``path`` now or soon; never raises for I/O errors."""


class SyncConfigWriter:
    """Writes immediately on the calling thread."""

    def write(self, path: Path, data: bytes) -> None:
        """Write now; I/O errors are logged, the in-memory table stays authoritative."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomically(str(path), data.decode("utf-8"))
        except OSError:
            logger.exception("could not persist %s", path)


class ThreadedConfigWriter:
    """Writes on one daemon thread; a newer write for the same path replaces a pending one."""

    def __init__(self) -> None:
        self._pending: dict[Path, bytes] = {}
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = False
        self._sync = SyncConfigWriter()
        self._thread = threading.Thread(target=self._run, name="broker-config-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def write(self, path: Path, data: bytes) -> None:
        """Queue ``data`` for ``path`` (written in the background)."""
        with self._cond:
            if self._stopped:
                self._sync.write(path, data)
                return
            self._pending[path] = data
            self._cond.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is written; False on timeout (seconds)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Write what is pending, then stop the thread; later writes happen synchronously."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            leftovers, self._pending = self._pending, {}
        for path, data in leftovers.items():
            self._sync.write(path, data)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopped)
                if not self._pending and self._stopped:
                    self._cond.notify_all()
                    return
                path, data = next(iter(self._pending.items()))
                del self._pending[path]
                self._busy = True
            try:
                self._sync.write(path, data)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


def load_json(path: Path) -> dict[Any, Any] | None:
    """Read a config file (falling back to its ``.bak``): its JSON object, or None when
    neither copy exists or holds anything (a first start).

    Raises ConfigError naming the file when a copy holds content but neither copy is a
    readable JSON object. Parsing is lenient (fastjson's bare numeric and object map keys).
    """
    try:
        data = read_json_with_backup(str(path), loads=_loads_object)
    except ConfigFileError as exc:
        raise ConfigError(f"cannot load broker metadata: {exc}") from exc
    return data if isinstance(data, dict) else None


def data_version_of(data: dict[Any, Any], path: Path | None) -> DataVersion:
    """The ``dataVersion`` of a loaded file; a fresh one (counter 0, now) when it is missing
    or malformed (logged: the version only orders changes, the table is still good)."""
    raw = data.get("dataVersion")
    if raw is None:
        return DataVersion.now()
    try:
        return DataVersion.from_json(raw)
    except RocketMQError as exc:
        logger.warning("%s: unusable dataVersion (%s); starting a new one", path, exc)
        return DataVersion.now()


def table_of(data: dict[Any, Any], key: str, path: Path) -> dict[Any, Any]:
    """``data[key]`` of a loaded config file (an absent or null table is empty).

    Raises ConfigError naming the file when the table is there but not an object: the file
    would otherwise load as empty and the next write would drop the whole table.
    """
    table = data.get(key)
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"cannot load broker metadata: {path}: {key} is not an object")
    return table


def _loads_object(text: str) -> dict[Any, Any]:
    data = fastjson.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    return data
