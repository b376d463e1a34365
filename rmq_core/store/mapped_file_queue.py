"""``MappedFileQueue``: the ordered, contiguous files of one log (commit log or consume queue).

File ``i`` starts at global offset ``first.file_from_offset + i * file_size`` and is named by
that offset (20 digits). Only the last file is written to. The list is replaced, never
mutated in place, so readers on other threads can index a snapshot without locks.
"""

from __future__ import annotations

import contextlib
import logging
import os

from rmq_core.store.allocate import AllocateService
from rmq_core.store.formats.commitlog import file_name, parse_file_name
from rmq_core.store.mapped_file import MappedFile
from rmq_core.store.report import RecoveryReport, quarantine

__all__ = ["MappedFileQueue"]

log = logging.getLogger(__name__)


class MappedFileQueue:
    """Files of ``file_size`` bytes in ``directory``; ``allocator`` pre-creates the next one."""

    def __init__(
        self,
        directory: str,
        file_size: int,
        *,
        allocator: AllocateService | None = None,
        root: str | None = None,
    ) -> None:
        self.directory = directory
        self.file_size = file_size
        self.allocator = allocator
        self.root = root or directory
        self.files: list[MappedFile] = []
        self.pending_destroy: list[MappedFile] = []

    # -- loading --------------------------------------------------------------------------
    def load(self, report: RecoveryReport | None = None) -> None:
        """Map every segment file in the directory (all as fully written; recovery trims).

        Files with foreign names are left alone and reported; a short file is extended with
        zeros; a file too large, out of sequence or after a gap is quarantined with every
        later file (the log must stay contiguous).
        """
        report = report if report is not None else RecoveryReport()
        os.makedirs(self.directory, exist_ok=True)
        named: list[tuple[int, str]] = []
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            offset = parse_file_name(name)
            if offset is None or not os.path.isfile(path):
                report.unknown(path)
                continue
            named.append((offset, path))
        named.sort()
        files: list[MappedFile] = []
        for index, (offset, path) in enumerate(named):
            problem = self._check(offset, path, files)
            if problem is not None:
                for _off, later in named[index:]:
                    size = os.path.getsize(later)
                    report.drop("file", later, 0, size, problem if later == path else
                                f"follows unusable file {os.path.basename(path)}")  # fmt: skip
                    quarantine(later, self.root, report)
                break
            size = os.path.getsize(path)
            if size < self.file_size:
                report.note(f"{path} is {size} bytes, extended to {self.file_size}")
            mapped = MappedFile(path, self.file_size, offset, create=False)
            mapped.wrote_position = mapped.flushed_position = self.file_size
            files.append(mapped)
        self.files = files

    def _check(self, offset: int, path: str, files: list[MappedFile]) -> str | None:
        size = os.path.getsize(path)
        if size > self.file_size:
            return f"size {size} is larger than the configured {self.file_size}"
        if offset % self.file_size:
            return f"start offset {offset} is not a multiple of the file size {self.file_size}"
        if files and offset != files[-1].file_from_offset + self.file_size:
            return f"gap before offset {offset}"
        return None

    # -- queries --------------------------------------------------------------------------
    @property
    def first(self) -> MappedFile | None:
        """The oldest file, or None."""
        files = self.files
        return files[0] if files else None

    @property
    def last(self) -> MappedFile | None:
        """The newest file, or None."""
        files = self.files
        return files[-1] if files else None

    @property
    def min_offset(self) -> int:
        """Start offset of the oldest file (0 when empty)."""
        files = self.files
        return files[0].file_from_offset if files else 0

    @property
    def max_offset(self) -> int:
        """Offset just past the last written byte (0 when empty)."""
        files = self.files
        return files[-1].end_offset if files else 0

    def find(self, offset: int) -> MappedFile | None:
        """The file holding global ``offset``, or None."""
        files = self.files
        if not files:
            return None
        index = (offset - files[0].file_from_offset) // self.file_size
        if 0 <= index < len(files):
            mapped = files[index]
            if mapped.file_from_offset <= offset < mapped.file_from_offset + self.file_size:
                return mapped
        return None

    # -- writing --------------------------------------------------------------------------
    def path_for(self, offset: int) -> str:
        """Path of the file starting at ``offset``."""
        return os.path.join(self.directory, file_name(offset))

    def last_for_append(self, start_offset: int = 0) -> MappedFile:
        """The file to append to, creating the next one when the last is full.

        ``start_offset`` is where the first file starts when the queue is empty (rounded down
        to a file boundary).
        """
        files = self.files
        if files and not files[-1].is_full:
            return files[-1]
        if files:
            offset = files[-1].file_from_offset + self.file_size
        else:
            offset = start_offset - start_offset % self.file_size
            os.makedirs(self.directory, exist_ok=True)
        path = self.path_for(offset)
        if self.allocator is not None:
            mapped = self.allocator.take(path, self.file_size, offset)
            self.allocator.request(
                self.path_for(offset + self.file_size), self.file_size, offset + self.file_size
            )
        else:
            mapped = MappedFile(path, self.file_size, offset, create=True)
        self.files = [*files, mapped]
        return mapped

    def flush(self) -> bool:
        """fdatasync every file with unflushed bytes; True if anything was synced."""
        synced = False
        for mapped in self.files:
            if mapped.flushed_position < mapped.wrote_position:
                synced = mapped.flush() or synced
        return synced

    @property
    def flushed_offset(self) -> int:
        """Global offset below which every written byte is on disk: the flushed position of
        the first file with unflushed bytes, else of the last file. Reads only flushed
        positions for the answer, so bytes a writer appends meanwhile never count."""
        files = self.files
        for mapped in files:
            if mapped.flushed_position < mapped.wrote_position:
                return mapped.file_from_offset + mapped.flushed_position
        return files[-1].file_from_offset + files[-1].flushed_position if files else 0

    def dirty_pages(self) -> int:
        """Pages written but not yet flushed, over all files."""
        return sum(m.dirty_pages() for m in self.files if m.flushed_position < m.wrote_position)

    def truncate(
        self,
        offset: int,
        report: RecoveryReport | None = None,
        what: str = "",
        *,
        reason: str = "after the end",
        keep_dropped: bool = True,
    ) -> None:
        """Make ``offset`` the end: zero the rest of its file, drop later files.

        Later files hold no usable data: it follows the damage, and the log must be a prefix.
        With ``keep_dropped`` later files holding data are quarantined instead of deleted.
        """
        kept: list[MappedFile] = []
        for mapped in self.files:
            start = mapped.file_from_offset
            if start + self.file_size <= offset:
                kept.append(mapped)
            elif start <= offset:
                pos = offset - start
                end = mapped.last_nonzero(pos)
                if end > pos and report is not None:
                    report.drop(what or "file", mapped.path, offset, start + end, reason)
                mapped.zero_from(pos)
                mapped.wrote_position = mapped.flushed_position = pos
                kept.append(mapped)
            else:
                end = mapped.last_nonzero(0)
                mapped.try_close()
                if end > 0 and keep_dropped:
                    if report is not None:
                        report.drop(what or "file", mapped.path, start, start + end,
                                    "after the end")  # fmt: skip
                    quarantine(mapped.path, self.root, report)
                else:
                    os.unlink(mapped.path)
        self.files = kept

    # -- deleting -------------------------------------------------------------------------
    def remove_first(self, count: int) -> list[MappedFile]:
        """Take the ``count`` oldest files out of the queue (not the last one); they go to
        :attr:`pending_destroy` and are deleted by :meth:`destroy_pending` once no reader
        holds them."""
        files = self.files
        count = min(count, len(files) - 1)
        if count <= 0:
            return []
        removed = files[:count]
        self.files = files[count:]
        self.pending_destroy.extend(removed)
        self.destroy_pending()
        return removed

    def destroy_pending(self) -> int:
        """Delete removed files no reader holds any more; return how many are still held."""
        still: list[MappedFile] = []
        for mapped in self.pending_destroy:
            if not mapped.destroy():
                still.append(mapped)
        if still:
            log.info("%d removed file(s) in %s still held by readers", len(still), self.directory)
        self.pending_destroy = still
        return len(still)

    def close(self) -> None:
        """Unmap every file (files still viewed by readers stay mapped until collected)."""
        for mapped in [*self.files, *self.pending_destroy]:
            if not mapped.try_close():
                log.warning("%s still viewed by a reader at close", mapped.path)
        self.files = []
        self.pending_destroy = []

    def move_to(self, directory: str) -> None:
        """Rename the queue's directory to ``directory`` (same file system; its parent must
        exist). Mapped files and descriptors stay valid, so a thread still using them is not
        disturbed, and the old path is free for a new queue at once. A queue without a
        directory yet (no file) only changes where its files will go."""
        if os.path.isdir(self.directory):
            os.rename(self.directory, directory)
        self.directory = directory
        for mapped in [*self.files, *self.pending_destroy]:
            mapped.path = os.path.join(directory, mapped.name)

    def destroy_all(self) -> int:
        """Delete every file no reader holds (the rest wait in :attr:`pending_destroy`) and the
        directory once empty; return how many files are still held."""
        self.pending_destroy.extend(self.files)
        self.files = []
        held = self.destroy_pending()
        if not held:
            with contextlib.suppress(OSError):
                os.rmdir(self.directory)
        return held
