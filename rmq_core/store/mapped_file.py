"""``MappedFile``: one fixed-size file of the store, memory-mapped read/write.

Invariants:
- ``0 <= flushed_position <= wrote_position <= file_size`` (bytes from the file start);
- a failed fdatasync is final (:attr:`MappedFile.flush_failed`): Linux may mark the dirty pages
  clean and forget the error, so a later successful sync would vouch for bytes that may be
  lost; every later :meth:`MappedFile.flush` raises instead;
- bytes below ``wrote_position`` are complete data; bytes above it are zero or garbage
  left by a crash, never served;
- the mmap can only be closed when no ``memoryview`` of it is alive (CPython raises
  ``BufferError``): :meth:`try_close` reports whether it could, and :meth:`destroy` deletes the
  file only after a successful close, so a reader holding a view is never pulled from under;
- an address is advised (:meth:`MappedFile.populate`, madvise with the GIL released) only while
  its mapping is open: ``_map_lock`` is held across the ``closed`` check and the madvise, and
  by :meth:`MappedFile.try_close` across the unmap, so the range can never belong to another
  mapping (a later ``mmap`` reusing the freed addresses) when the kernel acts on it. Whether
  the kernel knows MADV_POPULATE_WRITE is asked once, at import, on a page of our own: a later
  failure concerns that range only and never turns populate off.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
import sys
import threading
from collections.abc import Callable

try:
    import ctypes
except ImportError:  # a Python built without ctypes: no populate, zeros are written instead
    ctypes = None  # type: ignore[assignment]

__all__ = ["NOT_WARMING", "PAGE_SIZE", "MappedFile", "populate_supported"]

log = logging.getLogger(__name__)

PAGE_SIZE = 4096
NOT_WARMING = 1 << 62
"""``MappedFile.warming_from`` while no warm is running: past any write."""
_ZERO_CHUNK = bytes(1024 * 1024)
_MADV_POPULATE_WRITE = 23
"""Linux 5.14+: fault a range of a mapping in writable (allocating page-cache pages and
marking them dirty, as a store would) without changing a byte."""


def _load_madvise() -> Callable[[int, int, int], int] | None:
    """libc's ``madvise`` through ctypes (a foreign call releases the GIL), or None off Linux
    or without ctypes."""
    if ctypes is None or not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def _probe(madvise: Callable[[int, int, int], int] | None) -> Callable[[int, int, int], int] | None:
    """``madvise`` if the kernel takes MADV_POPULATE_WRITE on a private anonymous page (asked
    once, on a mapping of our own: a later EINVAL then means "not this range", never "not
    this kernel"), else None."""
    if madvise is None:
        return None
    probe = mmap.mmap(-1, PAGE_SIZE)
    try:
        view = ctypes.c_char.from_buffer(probe)
        ok = madvise(ctypes.addressof(view), PAGE_SIZE, _MADV_POPULATE_WRITE) == 0
        del view
    finally:
        probe.close()
    return madvise if ok else None


_madvise = _probe(_load_madvise())
"""``madvise(address, length, advice)``; None when unusable (no libc, or the kernel refused
MADV_POPULATE_WRITE on the probe): :meth:`MappedFile.populate` then answers False at once."""


def populate_supported() -> bool:
    """True when :meth:`MappedFile.populate` can work: Linux, ctypes, and a kernel that took
    MADV_POPULATE_WRITE on the import-time probe (decided once, never changed after)."""
    return _madvise is not None


def _address_of(mm: mmap.mmap) -> int:
    """The address of ``mm``'s first byte. The ctypes view made to read it is dropped at once:
    a live export would make ``mm.close()`` raise BufferError. Only called once
    :data:`_madvise` is set, so ctypes is there."""
    view = ctypes.c_char.from_buffer(mm)
    try:
        return ctypes.addressof(view)
    finally:
        del view


class MappedFile:
    """A file of ``file_size`` bytes starting at global offset ``file_from_offset``."""

    __slots__ = (
        "_address",
        "_closed",
        "_map_lock",
        "fd",
        "file_from_offset",
        "file_size",
        "flush_failed",
        "flushed_position",
        "mm",
        "name",
        "path",
        "store_timestamp",
        "warm_lock",
        "warmed_to",
        "warming_from",
        "wrote_position",
    )

    def __init__(self, path: str, file_size: int, file_from_offset: int, *, create: bool) -> None:
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        fd = os.open(path, flags, 0o644)
        try:
            actual = os.fstat(fd).st_size
            if actual < file_size:
                os.ftruncate(fd, file_size)
            self.mm = mmap.mmap(fd, file_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.path = path
        self.name = os.path.basename(path)
        self.file_size = file_size
        self.file_from_offset = file_from_offset
        self.wrote_position = 0
        self.flushed_position = 0
        self.store_timestamp = 0  # store time (ms) of the newest record written, for checkpoints
        self.flush_failed = False
        self._closed = False
        self.warmed_to = 0
        """Bytes below this are written or were pre-faulted by :meth:`warm` (ahead of the
        writer, see ``CommitLog.warm_ahead``)."""
        self.warming_from = NOT_WARMING
        """Start of the range :meth:`warm` is zeroing right now (``NOT_WARMING`` when idle): a
        writer reaching it waits for ``warm_lock``, which the warmer holds meanwhile."""
        self.warm_lock = threading.Lock()
        self._address = 0  # of the mapping's first byte, read on the first populate
        self._map_lock = threading.Lock()
        """Held by :meth:`populate` across its madvise and by :meth:`try_close` across the
        unmap: the address is never advised once it may belong to another mapping."""

    def __repr__(self) -> str:
        return f"MappedFile({self.path!r}, wrote={self.wrote_position})"

    @property
    def closed(self) -> bool:
        """True after a successful :meth:`try_close`."""
        return self._closed

    @property
    def is_full(self) -> bool:
        """True when nothing more can be appended."""
        return self.wrote_position >= self.file_size

    @property
    def end_offset(self) -> int:
        """Global offset just past the written bytes."""
        return self.file_from_offset + self.wrote_position

    def read(self, position: int, size: int) -> memoryview | None:
        """A view of ``size`` written bytes at ``position``, or None if not (or no longer) there.

        The view keeps the mmap open; drop it promptly.
        """
        if position < 0 or size < 0 or position + size > self.wrote_position:
            return None
        try:
            return memoryview(self.mm)[position : position + size]
        except ValueError:  # closed by cleanup
            return None

    def flush(self) -> bool:
        """fdatasync everything written so far; True if there was something to flush.

        Raises OSError if this fdatasync fails, and on every call after one failed.
        """
        if self.flush_failed:
            raise OSError(errno.EIO, f"an earlier fdatasync of {self.path} failed")
        target = self.wrote_position
        if target <= self.flushed_position or self._closed:
            return False
        try:
            os.fdatasync(self.fd)
        except OSError:
            self.flush_failed = True
            raise
        if target > self.flushed_position:
            self.flushed_position = target
        return True

    def dirty_pages(self) -> int:
        """Whole or partial 4 KiB pages written but not flushed."""
        return (self.wrote_position // PAGE_SIZE) - (self.flushed_position // PAGE_SIZE)

    def zero_from(self, position: int) -> None:
        """Write zeros from ``position`` to the end of the file (after truncation)."""
        pos = position
        while pos < self.file_size:
            n = min(len(_ZERO_CHUNK), self.file_size - pos)
            self.mm[pos : pos + n] = _ZERO_CHUNK[:n]
            pos += n

    def last_nonzero(self, position: int) -> int:
        """Offset just past the last non-zero byte at or after ``position`` (or ``position``)."""
        end = position
        pos = position
        while pos < self.file_size:
            n = min(len(_ZERO_CHUNK), self.file_size - pos)
            chunk = self.mm[pos : pos + n]
            stripped = len(chunk.rstrip(b"\x00"))
            if stripped:
                end = pos + stripped
            pos += n
        return end

    def warm(self, position: int = 0, end: int | None = None) -> None:
        """Pre-fault the pages from ``position`` to ``end`` (default: the file's end) by writing
        zeros through the file descriptor (the GIL is released meanwhile), so appends through
        the mmap find them in the page cache instead of taking a page fault, and a block
        allocation, per 4 KiB while holding the GIL. Only for bytes no record uses yet."""
        pos = position
        stop = self.file_size if end is None else min(end, self.file_size)
        while pos < stop:
            n = min(len(_ZERO_CHUNK), stop - pos)
            os.pwrite(self.fd, _ZERO_CHUNK[:n] if n < len(_ZERO_CHUNK) else _ZERO_CHUNK, pos)
            pos += n

    def populate(self, position: int, end: int) -> bool:
        """Fault the pages from ``position`` to ``end`` into this mapping writable
        (``MADV_POPULATE_WRITE``) with the GIL released, without changing a byte: stores into
        them then take no page fault (allocation and zeroing of new page-cache pages, or the
        write-protect fault after an fdatasync cleaned them, happen here instead). Safe beside
        a writer storing into the same range. The pages become dirty: the next flush writes
        the ones no record filled yet as they are (zeros).

        False, having done nothing, when unsupported (see :func:`populate_supported`),
        closed, or the range is empty; False too if the kernel refuses this range or fails
        part-way (e.g. out of memory): stores then fault as usual, and populate stays on.
        :meth:`try_close` waits for a populate in flight (module invariants).
        """
        madvise = _madvise
        if madvise is None:
            return False
        start = max(position, 0) // PAGE_SIZE * PAGE_SIZE
        stop = min(end, self.file_size)
        if start >= stop:
            return False
        with self._map_lock:
            if self._closed:
                return False
            if not self._address:
                self._address = _address_of(self.mm)
            return madvise(self._address + start, stop - start, _MADV_POPULATE_WRITE) == 0

    def mtime(self) -> float:
        """Last modification time of the file in seconds (0 if it is gone)."""
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return 0.0

    def try_close(self) -> bool:
        """Unmap and close; False (and nothing done) while a reader still holds a view."""
        with self._map_lock:
            if self._closed:
                return True
            try:
                self.mm.close()
            except BufferError:
                return False
            os.close(self.fd)
            self._closed = True
            return True

    def destroy(self) -> bool:
        """Close and delete the file; False (file kept) while a reader holds a view."""
        if not self.try_close():
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        log.debug("deleted %s", self.path)
        return True
