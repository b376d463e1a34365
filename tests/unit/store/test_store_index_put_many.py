"""Index writes: ``IndexFile.put_many`` keeps every entry findable while it runs (a key query
on another thread between two of its entries finds all the older matches), and the batch
path's key hashes equal Java's."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rmq_core.store.index as index_module
from rmq_core.store.index import IndexFile, IndexService, key_hash


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


_KEY_CHARS = st.sampled_from([*"AB09-_", "\u00e9", "\u4e2d"])
_KEYS = st.text(_KEY_CHARS, min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        st.tuples(_KEYS, st.lists(_KEYS, max_size=3), st.booleans(), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    head=_KEYS,
)
def test_batch_entries_hash_every_key_as_java_does(
    records: list[tuple[str, list[str], bool, bool]], head: str
) -> None:
    """UNIQ_KEY and KEYS hashes of a batch equal abs(Java hashCode of topic#key), for ASCII
    and non-ASCII keys, keys of four characters or fewer, and keys sharing a head with the
    previous one at another length."""
    with tempfile.TemporaryDirectory() as directory:
        service = IndexService(directory, 8, 64)
        props: list[bytes] = []
        expected: list[int] = []
        for tail, keys, shared_head, leading in records:
            uniq = head + tail if shared_head else tail
            text = f"UNIQ_KEY\x01{uniq}\x02" + (f"KEYS\x01{' '.join(keys)}\x02" if keys else "")
            props.append((text if leading else f"TAGS\x01t\x02{text}").encode())
            expected.append(key_hash("T", uniq))
            expected += [key_hash("T", key) for key in keys]
        entries = service.batch_entries("T", 0, [100] * len(props), props, 0)
        assert [hashed for hashed, _phys in entries] == expected
