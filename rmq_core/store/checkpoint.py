"""``StoreCheckpoint``: the 4 KiB checkpoint file (layout :mod:`.formats.checkpoint`).

It bounds crash recovery: every commit-log record stored at or before
``min(physic, logics, index) - 3 s`` was flushed together with its consume-queue unit and
index entries. ``confirm_phy_offset`` is the commit-log end at the last clean shutdown.
A missing, short or implausible file is reported and ignored (recovery then scans it all).
"""

from __future__ import annotations

import logging
import os
import time

from rmq_core.store.formats.checkpoint import CHECKPOINT, CHECKPOINT_FILE_SIZE

__all__ = ["StoreCheckpoint"]

log = logging.getLogger(__name__)

_MAX_FUTURE_MS = 24 * 3600 * 1000


class StoreCheckpoint:
    """The checkpoint at ``path``; fields are milliseconds or byte offsets."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.physic_msg_timestamp = 0
        self.logics_msg_timestamp = 0
        self.index_msg_timestamp = 0
        self.master_flushed_offset = 0
        self.confirm_phy_offset = 0
        self.status = "missing"

    def load(self) -> str:
        """Read the file; return and remember its status: "ok", "missing" or "damaged"."""
        try:
            with open(self.path, "rb") as fh:
                data = fh.read(CHECKPOINT_FILE_SIZE + 1)
        except FileNotFoundError:
            self.status = "missing"
            return self.status
        fields = CHECKPOINT.unpack_from(data, 0) if len(data) >= CHECKPOINT.size else None
        now_ms = int(time.time() * 1000)
        if (
            fields is None
            or len(data) != CHECKPOINT_FILE_SIZE
            or any(v < 0 for v in fields)
            or any(v > now_ms + _MAX_FUTURE_MS for v in fields[:3])
            or data[CHECKPOINT.size :].count(0) != CHECKPOINT_FILE_SIZE - CHECKPOINT.size
        ):
            self.status = "damaged"
            return self.status
        (self.physic_msg_timestamp, self.logics_msg_timestamp, self.index_msg_timestamp,
         self.master_flushed_offset, self.confirm_phy_offset) = fields  # fmt: skip
        self.status = "ok"
        return self.status

    def min_timestamp(self, include_index: bool) -> int:
        """Store time (ms) up to which everything was flushed, less RocketMQ's 3 s margin."""
        least = min(self.physic_msg_timestamp, self.logics_msg_timestamp)
        if include_index:
            least = min(least, self.index_msg_timestamp)
        return max(least - 3000, 0)

    def flush(self) -> None:
        """Write the page and fdatasync it."""
        page = bytearray(CHECKPOINT_FILE_SIZE)
        CHECKPOINT.pack_into(page, 0, self.physic_msg_timestamp, self.logics_msg_timestamp,
                             self.index_msg_timestamp, self.master_flushed_offset,
                             self.confirm_phy_offset)  # fmt: skip
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, page, 0)
            os.ftruncate(fd, CHECKPOINT_FILE_SIZE)
            os.fdatasync(fd)
        finally:
            os.close(fd)
