"""``MessageFilter``: how the store asks whether a record matches a subscription.

The store first asks with the consume-queue tags code (cheap, no commit-log read), then, for
units that pass, with the record's properties. ``properties`` is a lazy mapping that parses
the record's properties string only if the filter looks at it. A filter may declare
``needs_commit_log_properties = False`` (a tag-only subscription): the store then skips the
second question, and locating the properties in each record, altogether.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from rmq_core.common.message_codec import decode_properties

__all__ = ["LazyProperties", "MessageFilter"]


@runtime_checkable
class MessageFilter(Protocol):
    """Filter consulted by :meth:`MessageStore.get_message`."""

    def is_matched_by_consume_queue(self, tags_code: int | None) -> bool:
        """True when the unit's tags code may match."""
        ...

    def is_matched_by_commit_log(self, properties: Mapping[str, str] | None) -> bool:
        """True when the record (its properties) matches."""
        ...


class LazyProperties(Mapping[str, str]):
    """A read-only mapping over a properties string, parsed on first access."""

    __slots__ = ("_parsed", "_raw")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._parsed: dict[str, str] | None = None

    def _map(self) -> dict[str, str]:
        if self._parsed is None:
            self._parsed = decode_properties(self._raw)
        return self._parsed

    def __getitem__(self, key: str) -> str:
        return self._map()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())
