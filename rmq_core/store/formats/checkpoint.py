"""The checkpoint file (reference §5.5): one 4096-byte page of big-endian longs.

===  =====================  ======
off  field                  width
===  =====================  ======
  0  physicMsgTimestamp     long 8  store time (ms) of the newest flushed commit-log record
  8  logicsMsgTimestamp     long 8  store time of the newest flushed consume-queue unit
 16  indexMsgTimestamp      long 8  store time of the newest flushed index entry
 24  masterFlushedOffset    long 8  commit-log offset flushed (HA bookkeeping)
 32  confirmPhyOffset       long 8  commit-log end offset at the last clean shutdown
===  =====================  ======

The rest of the page is zero.
"""

from __future__ import annotations

import struct

__all__ = ["CHECKPOINT", "CHECKPOINT_FILE_SIZE"]

CHECKPOINT = struct.Struct(">qqqqq")
CHECKPOINT_FILE_SIZE = 4096
