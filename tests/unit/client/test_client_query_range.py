"""MessageQuery takes seconds; the wire gets inclusive milliseconds rounded outwards."""

from __future__ import annotations

import pytest

from rmq_core.client.query import MAX_TIMESTAMP, _wire_range
from rmq_core.errors import ClientError


def test_seconds_become_wire_milliseconds() -> None:
    assert _wire_range(0.0, None) == (0, MAX_TIMESTAMP)
    assert _wire_range(1_700_000_000.5, 1_700_000_001.25) == (1_700_000_000_500, 1_700_000_001_250)
    assert _wire_range(1.0001, 1.0001) == (1000, 1001)  # sub-millisecond ends widen the range


@pytest.mark.parametrize(
    ("begin", "end"), [(-0.5, None), (float("inf"), None), (3.0, 2.0), (0.0, float("nan"))]
)
def test_bad_ranges(begin: float, end: float | None) -> None:
    with pytest.raises(ClientError):
        _wire_range(begin, end)
