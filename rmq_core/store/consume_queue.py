"""``ConsumeQueue``: the per-(topic, queue id) index of commit-log records.

Unit layout and file naming: :mod:`rmq_core.store.formats.consume_queue`. The queue is built
by the dispatcher from the commit log and can always be rebuilt from it.

Invariants:
- unit ``n`` (logical offset ``n``) lives at byte ``n * 20`` of the queue;
- units are contiguous from the first file's start; units before the queue's first real
  message in that file are BLANK units; an all-zero unit marks the end;
- ``max_physic_offset`` is the commit-log offset just past the newest unit's record;
- ``min_offset <= max_offset`` (logical), ``min_offset`` skips units whose records expired.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Sequence

from rmq_core.store.formats.consume_queue import BLANK_UNIT, CQ_UNIT, CQ_UNIT_SIZE
from rmq_core.store.mapped_file import MappedFile
from rmq_core.store.mapped_file_queue import MappedFileQueue
from rmq_core.store.report import RecoveryReport

__all__ = ["ConsumeQueue"]

log = logging.getLogger(__name__)

_BLANK_SIZE = 0x7FFFFFFF
_pack_unit = CQ_UNIT.pack
_pack_unit_into = CQ_UNIT.pack_into


class ConsumeQueue:
    """One consume queue in ``<root>/consumequeue/<topic>/<queue_id>/``."""

    def __init__(
        self, topic: str, queue_id: int, directory: str, file_size: int, store_root: str
    ) -> None:
        self.topic = topic
        self.queue_id = queue_id
        self.queue = MappedFileQueue(directory, file_size, root=store_root)
        self.file_size = file_size
        self.max_physic_offset = 0
        self.min_logic_offset = 0  # bytes

    # -- loading and recovery -------------------------------------------------------------
    def load(self, report: RecoveryReport) -> None:
        """Map the files and find the end (the first all-zero unit)."""
        self.queue.load(report)
        files = self.queue.files
        while files and _unit_is_zero(files[-1], 0) and len(files) > 1:
            files[-1].try_close()
            os.unlink(files[-1].path)
            files = files[:-1]
        self.queue.files = files
        if not files:
            return
        last = files[-1]
        lo, hi = 0, self.file_size // CQ_UNIT_SIZE
        while lo < hi:  # first zero unit in the last file
            mid = (lo + hi) // 2
            if _unit_is_zero(last, mid * CQ_UNIT_SIZE):
                hi = mid
            else:
                lo = mid + 1
        last.wrote_position = last.flushed_position = lo * CQ_UNIT_SIZE
        self.min_logic_offset = files[0].file_from_offset
        self._reset_max_physic_offset()

    def _reset_max_physic_offset(self) -> None:
        self.max_physic_offset = 0
        for index in range(self.max_offset - 1, self.min_offset - 1, -1):
            unit = self.get_unit(index)
            if unit is not None and unit[1] != _BLANK_SIZE:
                self.max_physic_offset = unit[0] + unit[1]
                return

    def truncate_units(self, count: int, report: RecoveryReport | None = None) -> None:
        """Keep only units below logical offset ``count``."""
        dropped = self.max_offset - count
        if dropped <= 0:
            return
        if report is not None:
            report.consume_queue_units_dropped += dropped
        self.queue.truncate(count * CQ_UNIT_SIZE, keep_dropped=False)
        if self.min_logic_offset > count * CQ_UNIT_SIZE:
            self.min_logic_offset = count * CQ_UNIT_SIZE
        self._reset_max_physic_offset()

    def truncate_dirty(self, phy_end: int, report: RecoveryReport | None = None) -> None:
        """Drop units whose records end past commit-log offset ``phy_end``."""
        count = self.max_offset
        while count > self.min_offset:
            unit = self.get_unit(count - 1)
            if unit is None or unit[1] == _BLANK_SIZE or unit[0] + unit[1] <= phy_end:
                break
            count -= 1
        self.truncate_units(count, report)

    def correct_min_offset(self, phy_min: int) -> None:
        """Move ``min_offset`` to the first unit whose record starts at or after ``phy_min``."""
        lo, hi = self.min_offset, self.max_offset
        while lo < hi:
            mid = (lo + hi) // 2
            unit = self.get_unit(mid)
            if unit is None or unit[1] == _BLANK_SIZE or unit[0] < phy_min:
                lo = mid + 1
            else:
                hi = mid
        self.min_logic_offset = max(self.min_logic_offset, lo * CQ_UNIT_SIZE)

    # -- offsets --------------------------------------------------------------------------
    @property
    def max_offset(self) -> int:
        """Next logical offset (number of units written)."""
        return self.queue.max_offset // CQ_UNIT_SIZE

    @property
    def min_offset(self) -> int:
        """First logical offset still readable."""
        return self.min_logic_offset // CQ_UNIT_SIZE

    # -- writing --------------------------------------------------------------------------
    def put(self, phys: int, size: int, tags_code: int, queue_offset: int) -> bool:
        """Append the unit for logical offset ``queue_offset``.

        A unit already present (re-dispatch) is skipped; a gap is filled with BLANK units and
        logged. Returns True if a unit was written.
        """
        if phys + size <= self.max_physic_offset:
            return False
        if self.put_in_last_file(phys, size, tags_code, queue_offset):
            return True  # (not already present, so written)
        expect = queue_offset * CQ_UNIT_SIZE
        current = self.queue.max_offset
        if not self.queue.files:
            mapped = self.queue.last_for_append(expect)
            if expect > mapped.file_from_offset:
                self._fill_blank(mapped, expect - mapped.file_from_offset)
            self.min_logic_offset = expect
            current = expect
        if expect < current:
            log.debug("consume queue %s-%d: unit %d already present", self.topic, self.queue_id,
                      queue_offset)  # fmt: skip
            return False
        if expect > current:
            log.warning("consume queue %s-%d: gap %d..%d filled with blanks", self.topic,
                        self.queue_id, current // CQ_UNIT_SIZE, queue_offset)  # fmt: skip
            while self.queue.max_offset < expect:
                mapped = self.queue.last_for_append()
                room = min(mapped.file_size, mapped.wrote_position + expect - self.queue.max_offset)
                self._fill_blank(mapped, room)
        mapped = self.queue.last_for_append()
        CQ_UNIT.pack_into(mapped.mm, mapped.wrote_position, phys, size, tags_code)
        mapped.wrote_position += CQ_UNIT_SIZE
        self.max_physic_offset = phys + size
        return True

    def put_in_last_file(self, phys: int, size: int, tags_code: int, queue_offset: int) -> bool:
        """:meth:`put` when it needs no new file, blank or search: True once the unit is
        written as the next unit of the last file (or was already present: re-dispatch);
        False, having touched nothing, for anything else (then :meth:`put`)."""
        if phys + size <= self.max_physic_offset:
            return True
        files = self.queue.files
        if not files:
            return False
        mapped = files[-1]
        wrote = mapped.wrote_position
        if (
            wrote >= self.file_size
            or mapped.file_from_offset + wrote != queue_offset * CQ_UNIT_SIZE
        ):
            return False
        _pack_unit_into(mapped.mm, wrote, phys, size, tags_code)
        mapped.wrote_position = wrote + CQ_UNIT_SIZE
        self.max_physic_offset = phys + size
        return True

    def put_many(
        self, phys: int, sizes: Sequence[int], tags_codes: Sequence[int], queue_offset: int
    ) -> None:
        """Append the units of consecutive records (the first at commit-log offset ``phys``
        with logical offset ``queue_offset``, one size and tags code each): one slice
        assignment when they follow the last unit in a file with room, else :meth:`put` each
        (skips, gaps and new files as :meth:`put`)."""
        count = len(sizes)
        if count == 1:
            self.put(phys, sizes[0], tags_codes[0], queue_offset)
            return
        files = self.queue.files
        if files and phys + sizes[0] > self.max_physic_offset:
            mapped = files[-1]
            wrote = mapped.wrote_position
            end = wrote + count * CQ_UNIT_SIZE
            if (
                end <= self.file_size
                and mapped.file_from_offset + wrote == queue_offset * CQ_UNIT_SIZE
            ):
                offsets = itertools.accumulate(sizes[:-1], initial=phys)
                mapped.mm[wrote:end] = b"".join(map(_pack_unit, offsets, sizes, tags_codes))
                mapped.wrote_position = end
                self.max_physic_offset = phys + sum(sizes)
                return
        for size, tags_code in zip(sizes, tags_codes, strict=True):
            self.put(phys, size, tags_code, queue_offset)
            phys += size
            queue_offset += 1

    def put_needs_new_file(self, phys: int, size: int, queue_offset: int) -> bool:
        """True when :meth:`put` of this unit would create a file (the queue has none yet, or
        the unit lies past the end of the last file); False when it writes into the last file
        or skips a unit already present."""
        if phys + size <= self.max_physic_offset:
            return False
        files = self.queue.files
        if not files:
            return True
        last = files[-1]
        return (queue_offset + 1) * CQ_UNIT_SIZE > last.file_from_offset + self.file_size

    @staticmethod
    def _fill_blank(mapped: MappedFile, until: int) -> None:
        pos = mapped.wrote_position
        count = (until - pos) // CQ_UNIT_SIZE
        if count > 0:
            mapped.mm[pos : pos + count * CQ_UNIT_SIZE] = BLANK_UNIT * count
            mapped.wrote_position = pos + count * CQ_UNIT_SIZE

    # -- reading --------------------------------------------------------------------------
    def get_unit(self, index: int) -> tuple[int, int, int] | None:
        """(commit-log offset, size, tags code) of logical offset ``index``, or None."""
        offset = index * CQ_UNIT_SIZE
        mapped = self.queue.find(offset)
        if mapped is None:
            return None
        pos = offset - mapped.file_from_offset
        if pos + CQ_UNIT_SIZE > mapped.wrote_position:
            return None
        try:
            phys, size, tags = CQ_UNIT.unpack_from(mapped.mm, pos)
        except ValueError:  # unmapped by cleanup
            return None
        return phys, size, tags

    def units_from(self, index: int, max_units: int) -> list[tuple[int, int, int]]:
        """Up to ``max_units`` units from ``index`` within one file (fewer at a file end)."""
        offset = index * CQ_UNIT_SIZE
        mapped = self.queue.find(offset)
        if mapped is None:
            return []
        pos = offset - mapped.file_from_offset
        end = min(mapped.wrote_position, pos + max_units * CQ_UNIT_SIZE)
        if end <= pos:
            return []
        try:
            data = mapped.mm[pos:end]
        except ValueError:
            return []
        return list(CQ_UNIT.iter_unpack(data))

    def offset_by_time(
        self, timestamp_ms: int, upper: bool, store_timestamp_at: Callable[[int], int | None]
    ) -> int:
        """Logical offset by store time (binary search; store times never decrease).

        Lower boundary: the first offset stored at or after ``timestamp_ms`` (``max_offset``
        if none). Upper boundary: the last offset stored at or before it (``min_offset`` if
        none).
        """
        lo, hi = self.min_offset, self.max_offset
        while lo < hi:
            mid = (lo + hi) // 2
            unit = self.get_unit(mid)
            ts = None if unit is None else store_timestamp_at(unit[0])
            if ts is None:
                lo = mid + 1  # expired or unreadable: treat as earlier
                continue
            if ts < timestamp_ms or (upper and ts == timestamp_ms):
                lo = mid + 1
            else:
                hi = mid
        if upper:
            return max(self.min_offset, lo - 1)
        return lo

    # -- maintenance ----------------------------------------------------------------------
    def flush(self) -> bool:
        """fdatasync unflushed units."""
        return self.queue.flush()

    def delete_expired(self, phy_min: int) -> int:
        """Remove files whose every record is below commit-log offset ``phy_min``."""
        count = 0
        files = self.queue.files
        for mapped in files[:-1]:
            last_pos = mapped.wrote_position - CQ_UNIT_SIZE
            if last_pos < 0:
                break
            phys, size, _tags = CQ_UNIT.unpack_from(mapped.mm, last_pos)
            if size != _BLANK_SIZE and phys + size > phy_min:
                break
            count += 1
        if count:
            self.queue.remove_first(count)
        self.correct_min_offset(phy_min)
        return count


def _unit_is_zero(mapped: MappedFile, pos: int) -> bool:
    return mapped.mm[pos : pos + CQ_UNIT_SIZE] == bytes(CQ_UNIT_SIZE)
