"""Consumer offsets of CLUSTERING groups and ``config/consumerOffset.json``.

File shape (reference §5.6): ``{"dataVersion":{...},"offsetTable":{"topic@group":{0:120,1:118}}}``
with fastjson's bare integer queue-id keys. Offsets are logical consume-queue offsets (the next
message to consume). The controller persists the table every ``flushConsumerOffsetInterval``
and at shutdown; commits only mark it dirty.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmq_core.broker.managers.persistence import (
    ConfigWriter,
    SyncConfigWriter,
    data_version_of,
    load_json,
    table_of,
)
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.data_version import DataVersion

__all__ = ["TOPIC_GROUP_SEPARATOR", "ConsumerOffsetManager"]

logger = logging.getLogger(__name__)

TOPIC_GROUP_SEPARATOR = "@"


def _key(topic: str, group: str) -> str:
    return f"{topic}{TOPIC_GROUP_SEPARATOR}{group}"


class ConsumerOffsetManager:
    """``(topic, group) -> {queue_id: offset}``; negative offsets are never stored."""

    def __init__(self, path: Path | None = None, writer: ConfigWriter | None = None) -> None:
        self._path = path
        self._writer: ConfigWriter = writer or SyncConfigWriter()
        self._table: dict[str, dict[int, int]] = {}
        self.data_version = DataVersion.now()
        self._dirty = False

    def load(self) -> None:
        """Read ``consumerOffset.json`` (or its ``.bak``); malformed entries are skipped.

        A missing file loads nothing; a damaged one (no usable copy, or a table that is not an
        object) raises ConfigError naming it.
        """
        if self._path is None:
            return
        data = load_json(self._path)
        if data is None:
            return
        table = table_of(data, "offsetTable", self._path)
        self.data_version = data_version_of(data, self._path)
        for key, queues in table.items():
            if not isinstance(key, str) or TOPIC_GROUP_SEPARATOR not in key:
                continue
            if not isinstance(queues, dict):
                continue
            parsed: dict[int, int] = {}
            for qid, offset in queues.items():
                try:
                    parsed[int(qid)] = int(offset)
                except (TypeError, ValueError):
                    logger.error("%s: bad offset %r:%r under %s", self._path, qid, offset, key)
            self._table[key] = parsed

    # --- commits and queries -----------------------------------------------------------

    def commit_offset(
        self, client_host: str, group: str, topic: str, queue_id: int, offset: int
    ) -> None:
        """Store ``offset`` for (group, topic, queue); a negative offset is ignored (ali-ons
        commits ``-1`` for "nothing consumed yet")."""
        if offset < 0:
            logger.debug("ignoring negative offset %d from %s for %s", offset, client_host, group)
            return
        queues = self._table.setdefault(_key(topic, group), {})
        if queues.get(queue_id) != offset:
            queues[queue_id] = offset
            self._dirty = True

    def query_offset(self, group: str, topic: str, queue_id: int) -> int:
        """The committed offset, or -1 when none is known."""
        queues = self._table.get(_key(topic, group))
        if queues is None:
            return -1
        return queues.get(queue_id, -1)

    def query_offsets(self, group: str, topic: str) -> dict[int, int]:
        """All committed offsets of (group, topic) by queue id."""
        return dict(self._table.get(_key(topic, group), {}))

    def topics_of_group(self, group: str) -> set[str]:
        """Topics for which ``group`` has committed offsets."""
        return {
            key.split(TOPIC_GROUP_SEPARATOR, 1)[0]
            for key in self._table
            if key.split(TOPIC_GROUP_SEPARATOR, 1)[1] == group
        }

    def groups_of_topic(self, topic: str) -> set[str]:
        """Groups that committed offsets for ``topic``."""
        return {
            key.split(TOPIC_GROUP_SEPARATOR, 1)[1]
            for key in self._table
            if key.split(TOPIC_GROUP_SEPARATOR, 1)[0] == topic
        }

    def remove_group(self, group: str) -> None:
        """Forget every offset of ``group`` (DELETE_SUBSCRIPTIONGROUP with cleanOffset)."""
        for key in [k for k in self._table if k.split(TOPIC_GROUP_SEPARATOR, 1)[1] == group]:
            del self._table[key]
            self._dirty = True

    def remove_topic(self, topic: str) -> None:
        """Forget every offset for ``topic`` (DELETE_TOPIC_IN_BROKER)."""
        for key in [k for k in self._table if k.split(TOPIC_GROUP_SEPARATOR, 1)[0] == topic]:
            del self._table[key]
            self._dirty = True

    def set_offsets(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Replace (group, topic)'s offsets (reset/clone operations)."""
        self._table[_key(topic, group)] = {q: o for q, o in offsets.items() if o >= 0}
        self._dirty = True

    # --- persistence -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """ConsumerOffsetSerializeWrapper (also the GET_ALL_CONSUMER_OFFSET body)."""
        return {
            "dataVersion": self.data_version.to_json(),
            "offsetTable": {
                key: {qid: self._table[key][qid] for qid in sorted(self._table[key])}
                for key in sorted(self._table)
            },
        }

    def encode(self) -> bytes:
        """The ``consumerOffset.json`` content (bare integer keys, as Java writes it)."""
        return fastjson.dumps(self.to_json())

    @property
    def dirty(self) -> bool:
        """True when offsets changed since the last :meth:`persist`."""
        return self._dirty

    def persist(self) -> None:
        """Write the file (through the configured writer) and clear the dirty flag."""
        if self._path is None:
            self._dirty = False
            return
        if self._dirty:
            self.data_version.next_version()
        self._dirty = False
        self._writer.write(self._path, self.encode())
