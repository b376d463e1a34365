"""Record bodies (pull, query, admin): records joined, the commit-log views freed with the list."""

from __future__ import annotations

import mmap

import pytest

from rmq_core.broker.processors import common
from rmq_core.broker.processors.common import drain_records


@pytest.mark.parametrize("freed_at_once", [True, False])
def test_drain_records_empties_the_list_and_frees_the_views(
    freed_at_once: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # False: the explicit release a runtime without refcounting (PyPy) needs.
    monkeypatch.setattr(common, "_FREED_AT_ONCE", freed_at_once)
    segment = mmap.mmap(-1, 4096)
    segment[:6] = b"abcdef"
    view = memoryview(segment)
    records: list[memoryview | bytes] = [view[0:2], b"XY", view[4:6]]
    view.release()
    assert drain_records(records) == b"abXYef"
    assert records == []
    segment.close()  # raises BufferError while any view into the mapping is alive
