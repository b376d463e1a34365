"""``RecoveryReport``: what recovery found, kept and dropped; plus the quarantine helper.

Recovery never deletes data it cannot serve: files it cannot use (wrong size past repair,
gaps, segments after a hole) are moved under ``<root>/quarantine/`` with a time suffix, and
every drop is logged at WARNING and listed here.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

__all__ = ["Dropped", "RecoveryReport", "quarantine"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Dropped:
    """A range of bytes (or a whole file) recovery did not keep, and why."""

    what: str  # "commitlog", "consumequeue", "index", "checkpoint", "file"
    path: str
    start: int
    end: int
    reason: str


@dataclass(slots=True)
class RecoveryReport:
    """Outcome of one store start. Offsets are commit-log byte offsets."""

    abnormal_shutdown: bool = False
    checkpoint_status: str = "ok"  # "ok", "missing" or "damaged"
    scan_from: int = 0
    commitlog_min_offset: int = 0
    commitlog_max_offset: int = 0
    records_scanned: int = 0
    redispatched_from: int = 0
    consume_queue_units_dropped: int = 0
    index_entries_dropped: int = 0
    dropped: list[Dropped] = field(default_factory=list)
    unknown_files: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def lost_data(self) -> bool:
        """True when any commit-log bytes or files were dropped."""
        return any(d.what in ("commitlog", "file") for d in self.dropped)

    def drop(self, what: str, path: str, start: int, end: int, reason: str) -> None:
        """Record (and log) a dropped range."""
        self.dropped.append(Dropped(what, path, start, end, reason))
        log.warning("recovery dropped %s %s [%d, %d): %s", what, path, start, end, reason)

    def note(self, text: str) -> None:
        """Record (and log) a finding that lost nothing."""
        self.notes.append(text)
        log.warning("recovery: %s", text)

    def unknown(self, path: str) -> None:
        """Record (and log) a file recovery does not understand and left alone."""
        self.unknown_files.append(path)
        log.warning("recovery: ignoring unknown file %s", path)


def quarantine(path: str, root: str, report: RecoveryReport | None = None) -> str:
    """Move ``path`` under ``<root>/quarantine/`` keeping its relative path; return the target."""
    rel = os.path.relpath(path, root)
    if rel.startswith(".."):
        rel = os.path.basename(path)
    target = os.path.join(root, "quarantine", f"{rel}.{int(time.time() * 1000)}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.replace(path, target)
    if report is not None:
        report.quarantined.append(target)
    log.warning("moved %s to %s", path, target)
    return target
