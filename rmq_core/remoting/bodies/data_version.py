"""``DataVersion``: the change stamp of a broker metadata table (reference §3.2, §3.4).

JSON ``{"counter":12,"stateVersion":0,"timestamp":1700000000000}`` (timestamp in ms since the
epoch). Ordering compares ``stateVersion``, then ``counter``, then ``timestamp``
(:meth:`DataVersion.sort_key`). A broker bumps the stamp on every change of the table
(:meth:`DataVersion.next_version`); the NameServer compares the stamps brokers register with.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from rmq_core.remoting.bodies.fields import BodyError, as_int, dumps, load_object

__all__ = ["DataVersion", "decode_data_version", "encode_data_version"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class DataVersion:
    """A version stamp: ``counter``, ``state_version`` and ``timestamp`` (ms)."""

    counter: int = 0
    state_version: int = 0
    timestamp: int = 0

    @classmethod
    def now(cls) -> DataVersion:
        """A fresh stamp: counter 0, taken at the current time."""
        return cls(timestamp=_now_ms())

    def next_version(self) -> None:
        """Record one change: bump the counter and take the current time."""
        self.counter += 1
        self.timestamp = _now_ms()

    def sort_key(self) -> tuple[int, int, int]:
        """The comparison key: (stateVersion, counter, timestamp)."""
        return (self.state_version, self.counter, self.timestamp)

    def copy(self) -> DataVersion:
        """An independent copy."""
        return DataVersion(self.counter, self.state_version, self.timestamp)

    def to_json(self) -> dict[str, int]:
        """The JSON object (keys as fastjson sorts them)."""
        return {
            "counter": self.counter,
            "stateVersion": self.state_version,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, obj: object) -> DataVersion:
        """Read a decoded DataVersion object; missing members are 0, bad ones a BodyError."""
        if not isinstance(obj, Mapping):
            raise BodyError(f"DataVersion must be an object, got {type(obj).__name__}")
        return cls(
            counter=as_int(obj, "counter", 0),
            state_version=as_int(obj, "stateVersion", 0),
            timestamp=as_int(obj, "timestamp", 0),
        )


def decode_data_version(data: bytes) -> DataVersion:
    """Parse a DataVersion body (QUERY_DATA_VERSION); raises BodyError when malformed."""
    return DataVersion.from_json(load_object(data, "DataVersion"))


def encode_data_version(version: DataVersion) -> bytes:
    """``{"counter":..,"stateVersion":..,"timestamp":..}``."""
    return dumps(version.to_json())
