"""The dispatch's whole-batch paths give what the record-by-record paths give: index entries
of batches whose properties differ only in the UNIQ_KEY's last four characters (hashed all at
once), and of batches that almost qualify (one byte changed anywhere, separators or non-ASCII
bytes in a key tail, unequal lengths)."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rmq_core.store.index as index_module
from rmq_core.store.commitlog import prop_value, tag_hash, tags_codes
from rmq_core.store.index import IndexService, key_hash

_HEX = st.lists(st.sampled_from(b"0123456789ABCDEF"), min_size=4, max_size=4).map(bytes)
_ODD = st.lists(st.sampled_from([*b"09Az", 0x02, 0x01, 0x80, 0xC3]), min_size=4, max_size=4)
_TAILS = _HEX | _ODD.map(bytes) | st.binary(min_size=4, max_size=4)
_BEFORE = st.sampled_from([b"", b"TAGS\x01TagA\x02", b"\x02", b"WAIT\x01true\x02UNIQ_KEY\x01x\x02"])
_AFTER = st.sampled_from([b"", b"WAIT\x01true\x02", b"CLUSTER\x01DefaultCluster\x02"])
_HEADS = st.sampled_from([b"C0A8000100002A9F1B2C0A0B0C0D", b"", b"k", b"h\xc3\xa9ad", b"ABCD"])


def _loop_entries(
    topic: str, phys: int, sizes: list[int], props: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> list[tuple[int, int]]:
    """``batch_entries`` with the whole-batch path switched off (the record loop alone)."""
    with monkeypatch.context() as patch, tempfile.TemporaryDirectory() as directory:
        patch.setattr(index_module, "_UNIFORM_MIN", 1 << 30)
        return IndexService(directory, 8, 64).batch_entries(topic, phys, sizes, props, 0)


@settings(max_examples=300, deadline=None)
@given(
    before=_BEFORE,
    head=_HEADS,
    tails=st.lists(_HEX, min_size=8, max_size=40)
    | st.lists(_TAILS, min_size=8, max_size=40)
    | st.lists(_TAILS, min_size=1, max_size=7),
    after=_AFTER,
    change=st.none() | st.tuples(st.integers(0, 39), st.integers(0, 200), st.integers(0, 255)),
    longer=st.none() | st.integers(0, 39),
)
def test_batch_entries_equal_the_record_loop(
    before: bytes,
    head: bytes,
    tails: list[bytes],
    after: bytes,
    change: tuple[int, int, int] | None,
    longer: int | None,
) -> None:
    props = [before + b"UNIQ_KEY\x01" + head + tail + b"\x02" + after for tail in tails]
    if change is not None and change[0] < len(props):
        record, at, value = change
        raw = bytearray(props[record])
        raw[at % len(raw)] = value
        props[record] = bytes(raw)
    if longer is not None and longer < len(props):
        props[longer] += b"X\x01y\x02"
    sizes = [1100 + 3 * i for i in range(len(props))]
    with tempfile.TemporaryDirectory() as directory:
        entries = IndexService(directory, 8, 64).batch_entries("T", 5000, sizes, props, 0)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert entries == _loop_entries("T", 5000, sizes, props, monkeypatch)


def test_uniform_batch_hashes_equal_java_hashes_and_phys_follow_sizes() -> None:
    """Producer-style keys (a shared head, a counter in the last four characters, hashes of
    both signs and Integer.MIN_VALUE's neighbourhood) hashed all at once equal
    abs(Java hashCode of topic#key)."""
    keys = [f"C0A8000100002A9F1B2C0A0B0C0D{i:04X}" for i in range(0, 65536, 257)]
    props = [f"TAGS\x01TagA\x02UNIQ_KEY\x01{key}\x02".encode() for key in keys]
    sizes = [1000 + i for i in range(len(props))]
    with tempfile.TemporaryDirectory() as directory:
        service = IndexService(directory, 8, 64)
        entries = service.batch_entries("BenchTopic", 77, sizes, props, 0)
    phys = [77 + sum(sizes[:i]) for i in range(len(sizes))]
    assert entries == [
        (key_hash("BenchTopic", key), at) for key, at in zip(keys, phys, strict=True)
    ]


@pytest.mark.parametrize("count", [1, 7, 8, 64, 300])
def test_lane_hashes_match_the_scalar_formula(count: int) -> None:
    """:func:`_lane_hashes` equals ``_abs_java_hash`` of each lane's sum, including sums that
    land on 2^31 (Integer.MIN_VALUE: 0) and 2^32 - 1."""
    columns = [bytes((i * 37 + k * 11) % 128 for i in range(count)) for k in range(4)]
    for shifted in (0, 0x80000000 - 3937, 0x7FFFFFFF * 923521, 0xFFFFFFFF, 2**52 + 12345):
        got = index_module._lane_hashes(*columns, shifted)
        want = [
            index_module._abs_java_hash((shifted + index_module._tail_share(bytes(t))) & 0xFFFFFFFF)
            for t in zip(*columns, strict=True)
        ]
        assert list(got) == want
    edge = (0x80000000 - index_module._tail_share(b"AAAA")) * 1
    assert index_module._lane_hashes(b"A", b"A", b"A", b"A", edge) == (0,)


@pytest.mark.parametrize(
    "props",
    [
        [b"UNIQ_KEY\x01K%d\x02" % i for i in range(10)],
        [b"TAGS\x01TagA\x02UNIQ_KEY\x01K%d\x02" % i for i in range(10)],
        [b"UNIQ_KEY\x01K1\x02", b"UNIQ_KEY\x01K2\x02TAGS\x01B\x02", b"XTAGS\x01C\x02"],
        [b"", b"TAGS\x01\x02", b"TAGS\x01A\x02"],
    ],
)
def test_tags_codes_equal_each_strings_tag_hash(props: list[bytes]) -> None:
    """Batches without TAGS anywhere (zeros at once), with a leading TAGS, and mixed ones."""
    assert tags_codes(props) == [tag_hash(prop_value(raw, b"TAGS\x01")) for raw in props]
