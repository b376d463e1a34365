"""``CleanupService``: retention of commit-log files and of what points into them.

A commit-log file is deleted when it is older than ``file_reserved_time`` hours (by its
modification time) and either the hour of day is listed in ``delete_when`` (e.g. ``"04"`` or
``"04;16"``), a manual deletion was requested, or disk use passed ``disk_max_used_space_ratio``
percent. Above ``disk_space_clean_forcibly_ratio`` the oldest files go even if not expired.
The newest file is never deleted; at most ``delete_files_batch_max`` files go per pass.
Then consume-queue and index files wholly below the new minimum offset are deleted.
A file some reader still views is taken out of service but deleted only once released.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable

from rmq_core.store.commitlog import CommitLog
from rmq_core.store.config import StoreConfig
from rmq_core.store.service import Service

__all__ = ["CleanupService"]

log = logging.getLogger(__name__)


class CleanupService(Service):
    """Deletes expired commit-log files, then trims consume queues and index files."""

    def __init__(
        self,
        config: StoreConfig,
        commitlog: CommitLog,
        on_min_offset_changed: Callable[[int], None],
        retry_pending: Callable[[], None],
        disk_usage: Callable[[str], float] | None = None,
    ) -> None:
        super().__init__("CleanupService", config.clean_resource_interval)
        self.config = config
        self.commitlog = commitlog
        self.on_min_offset_changed = on_min_offset_changed
        self.retry_pending = retry_pending
        self.disk_usage = disk_usage or _disk_usage
        self.manual_delete_requests = 0
        self.delete_hours = {h.strip() for h in config.delete_when.split(";") if h.strip()}

    def request_delete(self) -> None:
        """Delete expired files on the next pass whatever the hour (deleteExpiredCommitLog)."""
        self.manual_delete_requests += 1
        self.wakeup()

    def run_once(self, now: float) -> None:
        """One retention pass at wall-clock time ``now`` (seconds)."""
        self.retry_pending()
        hour = time.strftime("%H", time.localtime(now))
        ratio = self.disk_usage(self.config.commit_log_dir)
        space_full = ratio * 100 > self.config.disk_max_used_space_ratio
        forcibly = ratio > self.config.disk_space_clean_forcibly_ratio
        manual = self.manual_delete_requests > 0
        if not (hour in self.delete_hours or space_full or manual):
            return
        if manual:
            self.manual_delete_requests -= 1
        if space_full:
            log.warning("disk use %.1f%% of %s; cleaning", ratio * 100, self.config.commit_log_dir)
        deleted = self.delete_expired(now, force=forcibly)
        if deleted:
            self.on_min_offset_changed(self.commitlog.min_offset)

    def delete_expired(self, now: float, *, force: bool = False) -> int:
        """Delete up to ``delete_files_batch_max`` expired (or, forced, oldest) files."""
        reserved = self.config.file_reserved_time * 3600
        files = self.commitlog.queue.files
        count = 0
        for mapped in files[:-1]:
            if count >= self.config.delete_files_batch_max:
                break
            if not force and mapped.mtime() + reserved > now:
                break
            count += 1
        if count:
            removed = self.commitlog.queue.remove_first(count)
            log.info("retention removed %d commit-log file(s): %s", len(removed),
                     ", ".join(m.name for m in removed))  # fmt: skip
        return count


def _disk_usage(path: str) -> float:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return 0.0
    return usage.used / usage.total if usage.total else 0.0
