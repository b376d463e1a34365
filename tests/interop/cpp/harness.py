"""Shared plumbing of the C++-client drivers (``rocketmq==0.4.4``, ctypes over librocketmq.so).

Runs under ``.venv-interop/bin/python`` only (it must not import rmq). Mirrors
``../node/common.js``: options from flags and/or ``--json '<object>'`` (flags win), one JSON
object per line on stdout, a hard deadline, deterministic bodies. See ``../README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_home_to_remove: list[str] = []


def emit(event: str, **fields: Any) -> None:
    """Print one JSON line ``{"event": ..., "ts": ms, **fields}`` and flush it."""
    record = {"event": event, "ts": int(time.time() * 1000), **fields}
    sys.stdout.write(json.dumps(record, sort_keys=False) + "\n")
    sys.stdout.flush()


def finish(summary: dict[str, Any]) -> None:
    """Print the summary and leave at once.

    ``os._exit`` skips librocketmq's destructors, which may block on their threads.
    """
    emit("summary", **summary)
    for path in _home_to_remove:
        shutil.rmtree(path, ignore_errors=True)
    os._exit(EXIT_OK if summary.get("ok") else EXIT_FAILED)


def usage_error(message: str) -> None:
    emit("summary", ok=False, error=f"usage: {message}")
    os._exit(EXIT_USAGE)


def body_for(key: str, size: int) -> bytes:
    """(key + "|") repeated, cut to ``size`` bytes: the body of message ``key``."""
    unit = f"{key}|".encode()
    return (unit * (size // len(unit) + 1))[:size]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        usage_error(message)
        raise SystemExit(EXIT_USAGE)


def parse_options(
    add_arguments: Callable[[argparse.ArgumentParser], None],
    defaults: dict[str, Any],
    required: list[str],
) -> dict[str, Any]:
    """Merge defaults, ``--json`` and flags (in that order of precedence, flags last)."""
    parser = _Parser(description=__doc__)
    parser.add_argument("--json", help="a JSON object with the same keys as the long flags")
    add_arguments(parser)
    names = {action.dest for action in parser._actions} - {"help", "json"}
    args = parser.parse_args()
    values = dict(defaults)
    if args.json:
        try:
            from_json = json.loads(args.json)
        except json.JSONDecodeError as error:
            usage_error(f"--json is not valid JSON: {error}")
        if not isinstance(from_json, dict):
            usage_error("--json must be a JSON object")
        for key, value in from_json.items():
            dest = key.replace("-", "_")
            if dest not in names:
                usage_error(f"unknown key in --json: {key}")
            values[dest] = value
    for dest in names:
        value = getattr(args, dest)
        if value is not None:
            values[dest] = value
    for dest in required:
        if values.get(dest) in (None, ""):
            usage_error(f"--{dest.replace('_', '-')} is required")
    return values


def to_int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        usage_error(f"--{name} must be an integer >= {minimum}, got {value!r}")
        raise
    if number < minimum or (isinstance(value, float) and value != number):
        usage_error(f"--{name} must be an integer >= {minimum}, got {value!r}")
    return number


def to_float(name: str, value: Any, minimum: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        usage_error(f"--{name} must be a number >= {minimum}, got {value!r}")
        raise
    if not number >= minimum:
        usage_error(f"--{name} must be a number >= {minimum}, got {value!r}")
    return number


def to_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [item.strip() for item in str(value).split(",") if item.strip()]


def to_properties(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    properties = {}
    for entry in value if isinstance(value, list) else [value]:
        key, sep, val = str(entry).partition("=")
        if not sep or not key:
            usage_error(f"--property expects key=value, got {entry!r}")
        properties[key] = val
    return properties


def setup_home(home: str | None) -> str:
    """Point HOME at ``home`` or a fresh temp dir before librocketmq loads.

    The C++ client writes its logs to ``$HOME/logs/rocketmq-cpp/``. A temp dir made here is
    removed at exit.
    """
    if not home:
        home = tempfile.mkdtemp(prefix="rmq-interop-cpp-")
        _home_to_remove.append(home)
    os.makedirs(home, exist_ok=True)
    os.environ["HOME"] = home
    return home


def start_deadline(seconds: float, on_timeout: Callable[[], None]) -> None:
    """Call ``on_timeout`` (which must exit) after ``seconds``, from a daemon thread."""
    import threading

    timer = threading.Timer(seconds, on_timeout)
    timer.daemon = True
    timer.start()
