"""IndexFile layout (reference §5.4).

A file holds a 40-byte header, ``slot_num`` 4-byte hash slots and ``max_index`` 20-byte
entries; size = ``40 + slot_num*4 + max_index*20``. Its name is its creation time
``yyyyMMddHHmmssSSS``.

Header:

===  ================  ======
off  field             width
===  ================  ======
  0  beginTimestamp    long 8   store time (ms) of the first entry
  8  endTimestamp      long 8   store time (ms) of the newest entry
 16  beginPhyOffset    long 8   commit-log offset of the first entry's record
 24  endPhyOffset      long 8   commit-log offset of the newest entry's record
 32  hashSlotCount     int 4    slots in use
 36  indexCount        int 4    next entry number; starts at 1 (entry 0 is never used)
===  ================  ======

Slot ``k`` (at ``40 + 4k``) holds the number of the newest entry whose key hash falls in
``k = keyHash % slot_num``; 0 means empty. Entry ``n`` at ``40 + slot_num*4 + n*20``:

===  ==============  ======
off  field           width
===  ==============  ======
  0  keyHash         int 4   abs(Java hashCode of "topic#key"), 0 for INT_MIN
  4  phyOffset       long 8
 12  timeDiff        int 4   (storeTimestamp - beginTimestamp) // 1000, clamped to [0, INT_MAX]
 16  prevIndex       int 4   previous entry of the same slot (0 = end of chain)
===  ==============  ======
"""

from __future__ import annotations

import struct

__all__ = ["ENTRY", "HEADER", "SLOT", "file_size"]

HEADER = struct.Struct(">qqqqii")
SLOT = struct.Struct(">i")
ENTRY = struct.Struct(">iqii")


def file_size(slot_num: int, max_index: int) -> int:
    """Bytes of an index file with ``slot_num`` slots and ``max_index`` entries."""
    return HEADER.size + slot_num * SLOT.size + max_index * ENTRY.size
