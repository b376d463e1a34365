"""``DataVersion``: the change counter of a metadata table (reference §3.2).

JSON ``{"counter":12,"stateVersion":0,"timestamp":1700000000000}`` (timestamp in ms). Ordering
compares stateVersion, then counter, then timestamp. Every change of the table calls
:meth:`DataVersion.next_version`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DataVersion"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class DataVersion:
    """A mutable version stamp: ``timestamp`` (ms), ``counter``, ``state_version``."""

    timestamp: int = field(default_factory=_now_ms)
    counter: int = 0
    state_version: int = 0

    def next_version(self) -> None:
        """Record one change: bump the counter and take the current time."""
        self.counter += 1
        self.timestamp = _now_ms()

    def to_json(self) -> dict[str, int]:
        """The JSON object as fastjson writes it (keys sorted)."""
        return {
            "counter": self.counter,
            "stateVersion": self.state_version,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, data: Any) -> DataVersion:
        """Read a DataVersion object; missing or malformed members become defaults."""
        if not isinstance(data, dict):
            return cls()
        return cls(
            timestamp=_as_int(data.get("timestamp"), _now_ms()),
            counter=_as_int(data.get("counter"), 0),
            state_version=_as_int(data.get("stateVersion"), 0),
        )

    def copy(self) -> DataVersion:
        """An independent copy."""
        return DataVersion(self.timestamp, self.counter, self.state_version)

    def sort_key(self) -> tuple[int, int, int]:
        """The comparison key: (stateVersion, counter, timestamp)."""
        return (self.state_version, self.counter, self.timestamp)


def _as_int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default
