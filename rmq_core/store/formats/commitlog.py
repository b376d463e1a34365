"""CommitLog segment naming and the BLANK end-of-file record (reference §4.1, §5.2).

Segments are files of a fixed size named by their first global byte offset, zero-padded to 20
digits (``00000000000000000000``, ``00000000001073741824``, ...). A record never spans two
segments: when a record plus 8 bytes does not fit in the rest of a segment, the rest is filled
with a BLANK record and the record goes to the next segment.

BLANK record (8 bytes written; its TOTALSIZE covers the whole rest of the segment):

===  =========  =====  ==========================================
off  field      width  value
===  =========  =====  ==========================================
  0  TOTALSIZE  int 4  bytes from here to the end of the segment
  4  MAGICCODE  int 4  0xCBD43194 (-875286124)
===  =========  =====  ==========================================
"""

from __future__ import annotations

import struct

from rmq_core.common.message_codec import BLANK_MAGIC_CODE

__all__ = [
    "BLANK",
    "BLANK_MAGIC_CODE",
    "END_FILE_MIN_BLANK_LENGTH",
    "FILE_NAME_LENGTH",
    "RECORD_PREFIX",
    "file_name",
    "parse_file_name",
]

BLANK = struct.Struct(">ii")
END_FILE_MIN_BLANK_LENGTH = 8
FILE_NAME_LENGTH = 20
RECORD_PREFIX = struct.Struct(">ii")
"""TOTALSIZE and MAGICCODE, the first 8 bytes of every record."""


def file_name(offset: int) -> str:
    """The 20-digit file name of a segment (or consume-queue file) starting at ``offset``."""
    return f"{offset:020d}"


def parse_file_name(name: str) -> int | None:
    """The start offset a segment file name encodes, or None if ``name`` is not one."""
    if len(name) != FILE_NAME_LENGTH or not name.isdigit() or not name.isascii():
        return None
    return int(name)
