"""Recovery at start: find the commit log's true end, then make derived files agree with it.

Clean start (no ``abort`` file, checkpoint readable, every segment of the right size): trust
``confirmPhyOffset`` from the checkpoint after checking that no record starts there; nothing
is scanned.

After a crash (``abort`` present) or with a missing/damaged checkpoint: pick a safe point, the
newest segment whose first record was stored before the checkpoint's flushed timestamps (or the
first segment without a checkpoint), and scan forward validating every record (magic, lengths,
PHYSICALOFFSET, body CRC, the optional ``__CRC32#`` property, clean topic and properties). The
first record that fails ends the log: its bytes and everything after are dropped (later
segments are quarantined, not deleted) and reported. Records before the damage are all kept.

Then consume queues lose units past the end and are checked against the records they point
at; index files lose entries past the end; the dispatcher re-dispatches from the safe point
(or from the start when consume queues or index files are missing) so everything is rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rmq_core.store.checkpoint import StoreCheckpoint
from rmq_core.store.commitlog import INVALID, CommitLog, check_record
from rmq_core.store.consume_queue import ConsumeQueue
from rmq_core.store.index import IndexService
from rmq_core.store.mapped_file import MappedFile
from rmq_core.store.report import RecoveryReport

__all__ = ["recover_commitlog", "recover_consume_queues", "recover_index"]

log = logging.getLogger(__name__)

_BLANK_UNIT_SIZE = 0x7FFFFFFF


def recover_commitlog(
    commitlog: CommitLog,
    checkpoint: StoreCheckpoint,
    report: RecoveryReport,
    *,
    include_index: bool,
    check_crc: bool,
) -> int:
    """Load and trim the commit log; return the offset re-dispatch must start from."""
    queue = commitlog.queue
    findings = len(report.notes) + len(report.dropped)
    queue.load(report)
    if not queue.files:
        report.commitlog_min_offset = report.commitlog_max_offset = 0
        return 0
    repaired = len(report.notes) + len(report.dropped) > findings
    clean = not report.abnormal_shutdown and checkpoint.status == "ok" and not repaired
    if clean and _trust_checkpoint(commitlog, checkpoint.confirm_phy_offset, report):
        commitlog.last_store_timestamp = checkpoint.physic_msg_timestamp
        end = checkpoint.confirm_phy_offset
        report.scan_from = end
    else:
        if clean:
            report.note("checkpoint end offset does not match the commit log; scanning")
        start_index = _safe_file_index(commitlog, checkpoint, include_index)
        report.scan_from = queue.files[start_index].file_from_offset
        end, reason = _scan(commitlog, start_index, check_crc, report)
        queue.truncate(end, report, "commitlog", reason=reason)
    report.commitlog_min_offset = commitlog.min_offset
    report.commitlog_max_offset = commitlog.max_offset
    return report.scan_from


def _trust_checkpoint(commitlog: CommitLog, end: int, report: RecoveryReport) -> bool:
    queue = commitlog.queue
    files = queue.files
    first = files[0].file_from_offset
    last_end = files[-1].file_from_offset + queue.file_size
    if not first <= end <= last_end:
        return False
    holder = queue.find(end)
    if holder is not None:
        pos = end - holder.file_from_offset
        size, _req, _reason = check_record(holder.mm, pos, holder.file_size - pos,
                                           holder.file_from_offset, check_crc=False)  # fmt: skip
        if size != 0:
            return False
    for mapped in files:
        if mapped.file_from_offset > end and mapped.last_nonzero(0) > 0:
            return False
    kept: list[MappedFile] = []
    for mapped in files:
        if mapped.file_from_offset + queue.file_size <= end:
            kept.append(mapped)
        elif mapped.file_from_offset <= end:
            mapped.wrote_position = mapped.flushed_position = end - mapped.file_from_offset
            kept.append(mapped)
        else:
            mapped.destroy()
    queue.files = kept
    return True


def _safe_file_index(commitlog: CommitLog, checkpoint: StoreCheckpoint, include_index: bool) -> int:
    files = commitlog.queue.files
    if checkpoint.status != "ok":
        return 0
    limit = checkpoint.min_timestamp(include_index)
    for index in range(len(files) - 1, -1, -1):
        mapped = files[index]
        _size, request, _reason = check_record(mapped.mm, 0, mapped.file_size,
                                              mapped.file_from_offset, check_crc=False)  # fmt: skip
        if request is not None and request.store_timestamp <= limit:
            return index
    return 0


def _scan(
    commitlog: CommitLog, start_index: int, check_crc: bool, report: RecoveryReport
) -> tuple[int, str]:
    files = commitlog.queue.files
    levels = commitlog.delay_levels
    for mapped in files[start_index:]:
        pos = 0
        base = mapped.file_from_offset
        while True:
            limit = mapped.file_size - pos
            size, request, reason = check_record(
                mapped.mm,
                pos,
                limit,
                base,
                check_crc=check_crc,
                delay_levels=levels,
                require_prop_crc=commitlog.prop_crc,
            )
            if request is not None:
                report.records_scanned += 1
                commitlog.last_store_timestamp = max(
                    commitlog.last_store_timestamp, request.store_timestamp
                )
                pos += size
                continue
            if size > 0:  # BLANK: on to the next segment
                break
            if size == INVALID:
                return base + pos, f"damaged record: {reason}"
            return base + pos, "torn or unwritten tail"
    last = files[-1]
    return last.file_from_offset + last.file_size, "end"


def recover_consume_queues(
    queues: Iterable[ConsumeQueue], commitlog: CommitLog, report: RecoveryReport
) -> int:
    """Trim every consume queue to the commit log's end and check its newest units.

    Returns the commit-log offset re-dispatch must start from at the latest to refill units
    dropped because they did not match the log (the end offset when none were).
    """
    end = commitlog.max_offset
    refill_from = end
    for cq in queues:
        before = cq.max_offset
        cq.truncate_dirty(end, report)
        if _verify_tail(cq, commitlog, report) or cq.max_offset < before:
            refill_from = min(refill_from, cq.max_physic_offset)
        cq.correct_min_offset(commitlog.min_offset)
    return refill_from


def _verify_tail(cq: ConsumeQueue, commitlog: CommitLog, report: RecoveryReport) -> bool:
    dropped = False
    while cq.max_offset > cq.min_offset:
        index = cq.max_offset - 1
        unit = cq.get_unit(index)
        if unit is None or unit[1] == _BLANK_UNIT_SIZE or unit[0] < commitlog.min_offset:
            break
        phys, size, _tags = unit
        if _unit_matches(commitlog, phys, size, cq, index):
            break
        report.note(f"consume queue {cq.topic}-{cq.queue_id} unit {index} does not match the "
                    f"commit log; dropped")  # fmt: skip
        cq.truncate_units(index, report)
        dropped = True
    return dropped


def _unit_matches(commitlog: CommitLog, phys: int, size: int, cq: ConsumeQueue, index: int) -> bool:
    mapped = commitlog.queue.find(phys)
    if mapped is None:
        return False
    pos = phys - mapped.file_from_offset
    if pos + size > mapped.wrote_position:
        return False
    found, request, _reason = check_record(mapped.mm, pos, mapped.wrote_position - pos,
                                           mapped.file_from_offset, check_crc=False)  # fmt: skip
    return (
        request is not None
        and found == size
        and request.topic == cq.topic
        and request.queue_id == cq.queue_id
        and request.queue_offset == index
    )


def recover_index(index: IndexService, commitlog: CommitLog, report: RecoveryReport) -> None:
    """Load index files and drop entries past the commit log's end."""
    index.load(report)
    index.truncate(commitlog.max_offset, commitlog.store_timestamp_at, report)
