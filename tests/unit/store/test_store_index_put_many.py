"""``IndexFile.put_many`` keeps every entry findable while it runs: a key query on another
thread between two of its entries (possible at any GIL switch) finds all the older matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rmq_core.store.index as index_module
from rmq_core.store.index import IndexFile


def test_select_during_put_many_finds_every_entry_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = IndexFile(str(tmp_path / "index"), 4, 64, create=True)
    try:
        same = [(7, 1000 + i) for i in range(3)]  # one hash: a chain through one slot
        assert index.put_many(same, 1_700_000_000_000) == 3
        seen: list[list[int]] = []
        pack_slot = index_module._pack_slot

        def pack_then_query(*args: Any) -> None:
            """Before each slot update, query as a reader on another thread could."""
            found: list[int] = []
            index.select(7, 0, 2**62, 100, found)
            seen.append(found)
            pack_slot(*args)

        monkeypatch.setattr(index_module, "_pack_slot", pack_then_query)
        more = [(7, 2000), (11, 2100), (7, 2200)]
        assert index.put_many(more, 1_700_000_000_000) == 3
        older = [1002, 1001, 1000]
        assert seen == [older, [2000, *older], [2000, *older]]
        found: list[int] = []
        index.select(7, 0, 2**62, 100, found)
        assert found == [2200, 2000, *older]
    finally:
        index.destroy()
