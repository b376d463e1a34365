"""Metadata files (topics.json, consumerOffset.json, ...): atomic writes with a ``.bak`` copy.

:func:`write_json_atomically` keeps the previous content in ``<file>.bak`` (as RocketMQ's
``MixAll.string2File`` does), writes a temporary file, fsyncs it, renames it over the target
and fsyncs the directory, so a crash leaves either the old or the new content.
:func:`read_json_with_backup` falls back to ``.bak`` when the file is missing, empty or
unparsable. "Missing" and "damaged" differ: None means neither copy holds anything (a first
start), while a copy that holds something no copy can replace raises
:class:`ConfigFileError`, so a caller never mistakes a damaged table for an empty one and
overwrites both copies with it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from rmq_core.errors import StoreError

__all__ = [
    "ConfigFileError",
    "read_json_with_backup",
    "read_text_with_backup",
    "write_json_atomically",
]

log = logging.getLogger(__name__)


def write_json_atomically(path: str, obj_or_text: Any) -> None:
    """Write ``obj_or_text`` (str written as is, anything else as JSON) to ``path``."""
    text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text, indent=1)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if os.path.exists(path):
        with open(path, "rb") as src:
            previous = src.read()
        _write_durably(path + ".bak", previous)
    _write_durably(path, text.encode())
    _fsync_dir(directory)


def _write_durably(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ConfigFileError(StoreError):
    """A metadata file (or its ``.bak``) holds content, but no copy can be read and parsed.

    ``path`` is the file; ``problems`` lists ``(copy, reason)`` for every damaged copy.
    """

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        details = "; ".join(f"{copy}: {reason}" for copy, reason in problems)
        super().__init__(
            f"{path} is damaged and has no usable backup ({details}); repair or remove it"
        )
        self.path = path
        self.problems = problems


def read_text_with_backup(path: str, parse: Callable[[str], Any] = json.loads) -> str | None:
    """Text of ``path`` if ``parse`` accepts it, else of ``path.bak`` if accepted.

    None when neither copy exists or holds anything but whitespace (nothing was ever saved).
    Raises :class:`ConfigFileError` when a copy holds content but no copy can be read and
    parsed (never treat a damaged table as an empty one).
    """
    problems: list[tuple[str, str]] = []
    for candidate in (path, path + ".bak"):
        try:
            with open(candidate, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cannot read %s: %s", candidate, exc)
            problems.append((candidate, f"cannot read: {exc}"))
            continue
        if not text.strip():
            log.warning("%s is empty", candidate)
            continue
        try:
            parse(text)
        except Exception as exc:
            log.warning("cannot parse %s: %s", candidate, exc)
            problems.append((candidate, f"cannot parse: {exc}"))
            continue
        if candidate != path:
            log.warning("using backup %s", candidate)
        return text
    if problems:
        raise ConfigFileError(path, problems)
    return None


def read_json_with_backup(path: str, loads: Callable[[str], Any] = json.loads) -> Any:
    """Parsed content of ``path`` (or of ``path.bak`` if that fails); None when neither copy
    holds anything. Raises :class:`ConfigFileError` when a copy holds something unusable and
    no copy parses.

    ``loads`` lets callers use a lenient parser (fastjson's bare integer keys).
    """
    text = read_text_with_backup(path, loads)
    return None if text is None else loads(text)
