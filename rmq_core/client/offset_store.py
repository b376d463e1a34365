"""Consumer offset stores (``CL/consumer/store/*.java``, reference §6.4).

An offset is the next queue offset a group will consume: every message below it is done.
- :class:`RemoteBrokerOffsetStore` (CLUSTERING): offsets live on the broker hosting the queue;
  the store keeps the latest value in memory and pushes it with UPDATE_CONSUMER_OFFSET when
  :meth:`persist_all` runs (periodically and on shutdown).
- :class:`LocalFileOffsetStore` (BROADCASTING): offsets live in
  ``<dir>/<client id>/<group>/offsets.json`` in RocketMQ's own format
  (``{"offsetTable":{{"brokerName":…,"queueId":…,"topic":…}:offset}}``), written atomically:
  each write goes to a temp file of its own (``offsets.json.<random>.tmp``), is fsynced, and
  replaces the file; the previous file becomes ``offsets.json.bak``. Writes of one store are
  serialised by a lock, and ``persist(mq)`` reads, merges and writes in the worker thread, so
  concurrent ``persist``/``persist_all`` calls neither share a temp file nor lose an update.

``read_offset`` returns -1 when no offset is known and -2 when the store could not be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from rmq_core.client.message_queue import MessageQueue
from rmq_core.errors import RocketMQError
from rmq_core.remoting import fastjson

__all__ = [
    "LocalFileOffsetStore",
    "OffsetBackend",
    "OffsetStore",
    "ReadOffsetType",
    "RemoteBrokerOffsetStore",
    "dump_offset_table",
    "load_offset_table",
]

log = logging.getLogger(__name__)

OFFSET_NOT_FOUND = -1
OFFSET_READ_ERROR = -2


class ReadOffsetType(enum.Enum):
    """Where :meth:`OffsetStore.read_offset` looks."""

    READ_FROM_MEMORY = "READ_FROM_MEMORY"
    READ_FROM_STORE = "READ_FROM_STORE"
    MEMORY_FIRST_THEN_STORE = "MEMORY_FIRST_THEN_STORE"


class OffsetBackend(Protocol):
    """The broker calls a remote store needs (implemented by the client instance)."""

    async def query_consumer_offset(self, group: str, mq: MessageQueue) -> int | None:
        """The broker's offset for (group, mq), or None when it has none."""
        ...

    async def update_consumer_offset(
        self, group: str, mq: MessageQueue, offset: int, *, oneway: bool
    ) -> None: ...


class OffsetStore(Protocol):
    """What a consumer needs of an offset store."""

    def load(self) -> None: ...

    def update_offset(self, mq: MessageQueue, offset: int, *, increase_only: bool) -> None: ...

    async def read_offset(self, mq: MessageQueue, read_type: ReadOffsetType) -> int: ...

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None: ...

    async def persist(self, mq: MessageQueue) -> None: ...

    def remove_offset(self, mq: MessageQueue) -> None: ...

    def offsets(self) -> dict[MessageQueue, int]: ...


class _MemoryTable:
    """The in-memory part shared by both stores."""

    def __init__(self) -> None:
        self._table: dict[MessageQueue, int] = {}

    def update_offset(self, mq: MessageQueue, offset: int, *, increase_only: bool) -> None:
        """Set ``mq``'s offset; with ``increase_only`` never move it backwards."""
        current = self._table.get(mq)
        if current is None or not increase_only or offset > current:
            self._table[mq] = offset

    def remove_offset(self, mq: MessageQueue) -> None:
        self._table.pop(mq, None)

    def offsets(self) -> dict[MessageQueue, int]:
        """A copy of the in-memory table."""
        return dict(self._table)


class RemoteBrokerOffsetStore(_MemoryTable):
    """CLUSTERING offsets, stored on the broker of each queue."""

    def __init__(self, group: str, backend: OffsetBackend) -> None:
        super().__init__()
        self.group = group
        self._backend = backend

    def load(self) -> None:
        """Nothing to load: the broker is the store."""

    async def read_offset(self, mq: MessageQueue, read_type: ReadOffsetType) -> int:
        if read_type is not ReadOffsetType.READ_FROM_STORE:
            current = self._table.get(mq)
            if current is not None or read_type is ReadOffsetType.READ_FROM_MEMORY:
                return OFFSET_NOT_FOUND if current is None else current
        try:
            offset = await self._backend.query_consumer_offset(self.group, mq)
        except RocketMQError as exc:
            log.warning("query consumer offset of %s for %s failed: %s", mq, self.group, exc)
            return OFFSET_READ_ERROR
        if offset is None:
            return OFFSET_NOT_FOUND
        self.update_offset(mq, offset, increase_only=False)
        return offset

    async def persist(self, mq: MessageQueue) -> None:
        """Push ``mq``'s in-memory offset to its broker (and wait for the answer)."""
        offset = self._table.get(mq)
        if offset is not None:
            await self._backend.update_consumer_offset(self.group, mq, offset, oneway=False)

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        """Push the offsets of ``mqs`` (oneway); forget offsets of queues no longer owned."""
        wanted = set(mqs)
        for mq, offset in list(self._table.items()):
            if mq not in wanted:
                continue
            try:
                await self._backend.update_consumer_offset(self.group, mq, offset, oneway=True)
            except RocketMQError as exc:
                log.warning(
                    "persist offset %d of %s for %s failed: %s", offset, mq, self.group, exc
                )


def dump_offset_table(table: dict[MessageQueue, int]) -> bytes:
    """The fastjson text of ``OffsetSerializeWrapper``: MessageQueue keys as bare objects."""
    entries = ",".join(
        f"{json.dumps(mq.to_json(), separators=(',', ':'), sort_keys=True)}:{offset}"
        for mq, offset in sorted(table.items())
    )
    return ('{"offsetTable":{' + entries + "}}").encode("utf-8")


def load_offset_table(data: bytes) -> dict[MessageQueue, int]:
    """Parse :func:`dump_offset_table` output (or a Java client's offsets.json)."""
    parsed = fastjson.loads(data)
    table = parsed.get("offsetTable", {}) if isinstance(parsed, dict) else {}
    result: dict[MessageQueue, int] = {}
    for key, offset in table.items():
        raw = key.value if isinstance(key, fastjson.FrozenKey) else json.loads(key)
        result[MessageQueue.from_json(raw)] = int(offset)
    return result


class LocalFileOffsetStore(_MemoryTable):
    """BROADCASTING offsets, kept in a local JSON file per (client id, group)."""

    def __init__(self, base_dir: str | os.PathLike[str], client_id: str, group: str) -> None:
        super().__init__()
        safe_client = client_id.replace(os.sep, "_")
        self.path = Path(base_dir) / safe_client / group / "offsets.json"
        self.group = group
        self._write_lock = asyncio.Lock()

    def _read_file(self) -> dict[MessageQueue, int]:
        for candidate in (self.path, self.path.with_name(self.path.name + ".bak")):
            try:
                data = candidate.read_bytes()
            except FileNotFoundError:
                continue
            try:
                return load_offset_table(data)
            except (ValueError, KeyError, TypeError, RocketMQError) as exc:
                log.warning("offset file %s is unreadable (%s); trying the backup", candidate, exc)
        return {}

    def load(self) -> None:
        """Read the file (or its backup) into memory."""
        for mq, offset in self._read_file().items():
            self.update_offset(mq, offset, increase_only=False)

    async def read_offset(self, mq: MessageQueue, read_type: ReadOffsetType) -> int:
        if read_type is not ReadOffsetType.READ_FROM_STORE:
            current = self._table.get(mq)
            if current is not None or read_type is ReadOffsetType.READ_FROM_MEMORY:
                return OFFSET_NOT_FOUND if current is None else current
        offset = (await asyncio.to_thread(self._read_file)).get(mq)
        if offset is None:
            return OFFSET_NOT_FOUND
        self.update_offset(mq, offset, increase_only=False)
        return offset

    def _write(self, table: dict[MessageQueue, int], *, merge: bool) -> None:
        """Replace the file by ``table`` (``merge``: by the file's entries updated with it).

        Runs in a worker thread, under the store's write lock.
        """
        if merge:
            table = {**self._read_file(), **table}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(dump_offset_table(table))
                handle.flush()
                os.fsync(handle.fileno())
            if self.path.exists():
                os.replace(self.path, self.path.with_name(self.path.name + ".bak"))
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        """Write the offsets of ``mqs`` to the file (other queues are not kept)."""
        wanted = set(mqs)
        async with self._write_lock:  # offsets are read under the lock: the newest get written
            table = {mq: off for mq, off in self._table.items() if mq in wanted}
            if table:
                await asyncio.to_thread(self._write, table, merge=False)

    async def persist(self, mq: MessageQueue) -> None:
        """Write ``mq``'s offset, keeping the file's other entries."""
        async with self._write_lock:
            offset = self._table.get(mq)
            if offset is not None:
                await asyncio.to_thread(self._write, {mq: offset}, merge=True)
