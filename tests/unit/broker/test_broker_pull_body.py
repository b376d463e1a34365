"""The pull answer's body: records joined, the commit-log views freed with the list."""

from __future__ import annotations

import mmap

from rmq_core.broker.processors.pull import _join_records


def test_join_records_empties_the_list_and_frees_the_views() -> None:
    segment = mmap.mmap(-1, 4096)
    segment[:6] = b"abcdef"
    view = memoryview(segment)
    records: list[memoryview | bytes] = [view[0:2], b"XY", view[4:6]]
    view.release()
    assert _join_records(records) == b"abXYef"
    assert records == []
    segment.close()  # raises BufferError while any view into the mapping is alive
