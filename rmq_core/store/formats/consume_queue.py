"""The consume-queue unit (reference §5.3).

A consume queue file is an array of 20-byte units; unit ``n`` of the queue (its logical offset)
lives at byte ``n * 20`` of the queue, in the file named by the 20-digit byte offset where the
file starts (``00000000000000000000``, ``00000000000006000000``, ...).

===  ================  ======  =============================================================
off  field             width   notes
===  ================  ======  =============================================================
  0  commitlogOffset   long 8  physical offset of the record
  8  size              int 4   the record's TOTALSIZE
 12  tagsCode          long 8  Java hashCode of TAGS (0 if none); delivery time in the schedule
===  ================  ======  =============================================================

A unit of all zero bytes has never been written (the end of the queue). Units before the first
message of a queue whose earlier files were never written (or were rebuilt) are filled with the
BLANK unit ``(0, 0x7FFFFFFF, 0)``, as RocketMQ's ``fillPreBlank`` does.
"""

from __future__ import annotations

import struct

__all__ = ["BLANK_UNIT", "CQ_UNIT", "CQ_UNIT_SIZE"]

CQ_UNIT = struct.Struct(">qiq")
CQ_UNIT_SIZE = CQ_UNIT.size
BLANK_UNIT = CQ_UNIT.pack(0, 0x7FFFFFFF, 0)
