"""The NameServer's namespaced key/value configuration (PUT/GET/DELETE_KV_CONFIG).

:class:`KVConfigTable` is pure state: ``namespace -> key -> value``, all strings.
:func:`load_kv_config` / :func:`save_kv_config` read and write RocketMQ's ``kvConfig.json``
layout (reference §5.1)::

    {"configTable":{"ORDER_TOPIC_CONFIG":{"TopicA":"broker-a:4"}}}

Saving writes a temporary file, fsyncs it, keeps the previous file as ``<path>.bak`` and
renames into place, so a crash leaves either the old or the new content; loading falls back
to the ``.bak`` when the main file is unreadable. Call the save off the event loop.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from rmq_core.errors import RocketMQError

__all__ = [
    "NAMESPACE_ORDER_TOPIC_CONFIG",
    "KVConfigError",
    "KVConfigTable",
    "load_kv_config",
    "save_kv_config",
]

logger = logging.getLogger(__name__)

NAMESPACE_ORDER_TOPIC_CONFIG = "ORDER_TOPIC_CONFIG"
"""Namespace whose ``topic -> "brokerA:4;brokerB:4"`` entries become ``orderTopicConf``."""


class KVConfigError(RocketMQError):
    """A kvConfig.json file that cannot be read or has the wrong shape."""


class KVConfigTable:
    """``namespace -> key -> value``; empty namespaces are dropped."""

    def __init__(self, table: dict[str, dict[str, str]] | None = None) -> None:
        self._table: dict[str, dict[str, str]] = {}
        for namespace, entries in (table or {}).items():
            for key, value in entries.items():
                self.put(namespace, key, value)

    def put(self, namespace: str, key: str, value: str) -> None:
        """Set ``key`` in ``namespace`` (replacing any previous value)."""
        self._table.setdefault(namespace, {})[key] = value

    def get(self, namespace: str, key: str) -> str | None:
        """The value of ``key`` in ``namespace``, or None."""
        return self._table.get(namespace, {}).get(key)

    def delete(self, namespace: str, key: str) -> bool:
        """Remove ``key``; returns whether it existed."""
        entries = self._table.get(namespace)
        if entries is None or key not in entries:
            return False
        del entries[key]
        if not entries:
            del self._table[namespace]
        return True

    def namespace(self, namespace: str) -> dict[str, str]:
        """A copy of every entry of ``namespace`` (empty when unknown)."""
        return dict(self._table.get(namespace, {}))

    def snapshot(self) -> dict[str, dict[str, str]]:
        """A deep copy of the whole table, safe to hand to another thread."""
        return {ns: dict(entries) for ns, entries in self._table.items()}


def _to_json(snapshot: dict[str, dict[str, str]]) -> str:
    return json.dumps({"configTable": snapshot}, sort_keys=True, indent=2)


def _parse(text: str, path: Path) -> KVConfigTable:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise KVConfigError(f"{path}: not JSON: {exc}") from exc
    table = doc.get("configTable", {}) if isinstance(doc, dict) else None
    if not isinstance(table, dict) or not all(
        isinstance(ns, str)
        and isinstance(entries, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in entries.items())
        for ns, entries in table.items()
    ):
        raise KVConfigError(f"{path}: configTable must map namespace -> key -> string value")
    return KVConfigTable(table)


def load_kv_config(path: Path) -> KVConfigTable:
    """Read ``path`` (or its ``.bak`` when the main file is unreadable); empty if neither exists.

    Raises :class:`KVConfigError` when neither file holds a valid table.
    """
    backup = path.with_name(path.name + ".bak")
    errors: list[str] = []
    for candidate in (path, backup):
        try:
            text = candidate.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(f"{candidate}: {exc}")
            continue
        try:
            return _parse(text, candidate)
        except KVConfigError as exc:
            logger.warning("cannot use %s: %s", candidate, exc)
            errors.append(str(exc))
    if errors:
        raise KVConfigError("; ".join(errors))
    return KVConfigTable()


def save_kv_config(path: Path, snapshot: dict[str, dict[str, str]]) -> None:
    """Write ``snapshot`` to ``path`` atomically, keeping the previous file as ``.bak``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(_to_json(snapshot))
        f.flush()
        os.fsync(f.fileno())
    if path.exists():
        shutil.copyfile(path, path.with_name(path.name + ".bak"))
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
