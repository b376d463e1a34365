"""The dispatch's cheaper paths give what the general paths give: index entries of batches
whose properties differ only in the UNIQ_KEY's last four characters (hashed all at once) and of
batches that almost qualify (one byte changed anywhere, separators or non-ASCII bytes in a key
tail, unequal lengths); tags codes of batches without TAGS; ``prop_value``; single index entries
by ``IndexFile.put`` (and a ``select`` between its slot and header); the consume queue's
next-unit write; that the cheaper paths are taken; and a property given twice (its last
non-empty value counts, as in Java's properties map) alone and in batches."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rmq_core.store.index as index_module
from rmq_core.common.message import parse_properties
from rmq_core.store.commitlog import prop_value, requests_from_pending, tag_hash, tags_codes
from rmq_core.store.consume_queue import ConsumeQueue
from rmq_core.store.formats.consume_queue import CQ_UNIT_SIZE
from rmq_core.store.index import IndexService, key_hash

_HEX = st.lists(st.sampled_from(b"0123456789ABCDEF"), min_size=4, max_size=4).map(bytes)
_ODD = st.lists(st.sampled_from([*b"09Az", 0x02, 0x01, 0x7F, 0x80, 0xC3]), min_size=4, max_size=4)
_TAILS = _HEX | _ODD.map(bytes) | st.binary(min_size=4, max_size=4)
_BEFORE = st.sampled_from([b"", b"TAGS\x01TagA\x02", b"\x02", b"WAIT\x01true\x02UNIQ_KEY\x01x\x02"])
_AFTER = st.sampled_from([b"", b"WAIT\x01true\x02", b"CLUSTER\x01DefaultCluster\x02"])
_HEADS = st.sampled_from(
    [b"C0A8000100002A9F1B2C0A0B0C0D", b"", b"k", b"h\xc3\xa9ad", b"ABCD", b"~\x7f" * 20]
)
_PRODUCER_HEAD = b"C0A8000100002A9F1B2C0A0B0C0D"


def _props_with_change(
    before: bytes,
    head: bytes,
    tails: list[bytes],
    after: bytes,
    change: tuple[int, int, int] | None,
) -> list[bytes]:
    """One properties string per tail (``before`` + UNIQ_KEY of ``head`` + tail + ``after``),
    with ``change`` = (record, position, byte value) applied when its record exists."""
    props = [before + b"UNIQ_KEY\x01" + head + tail + b"\x02" + after for tail in tails]
    if change is not None and change[0] < len(props):
        record, at, value = change
        raw = bytearray(props[record])
        raw[at % len(raw)] = value
        props[record] = bytes(raw)
    return props


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
    props = _props_with_change(before, head, tails, after, change)
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


def _java_value(raw: bytes, name: str) -> bytes | None:
    """The value Java's ``string2messageProperties`` (rmq's ``parse_properties``) gives
    property ``name`` of ``raw``'s terminated part (a stored string ends with ``\\x02``):
    the last non-empty one."""
    value = parse_properties(raw[: raw.rfind(b"\x02") + 1].decode("latin-1")).get(name)
    return None if value is None else value.encode("latin-1")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"TAGS\x01", b"XTAGS\x01", b"A", b"\x02", b"\x01", b"v"]), max_size=12
    )
)
def test_prop_value_is_the_value_javas_properties_map_keeps(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    assert prop_value(raw, b"TAGS\x01") == _java_value(raw, "TAGS")


def _index_bytes_of_single_puts(directory: str) -> list[bytes]:
    """Index files after ``put_entries`` of one entry at a time: chains through one slot, a
    hash of 0, and files filling up (8 entries each)."""
    service = IndexService(directory, 4, 8)
    try:
        for i, hashed in enumerate([7, 11, 7, 3, 7, 0, 15, 2, 7, 9, 7, 7]):
            service.put_entries([(hashed, 1000 + 100 * i)], 1_700_000_000_000 + 1500 * i)
        return [bytes(index_file.mapped.mm) for index_file in service.files]
    finally:
        service.close()


def test_index_put_of_one_entry_writes_what_put_many_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = _index_bytes_of_single_puts(str(tmp_path / "put"))
    monkeypatch.setattr(
        index_module.IndexFile,
        "put",
        lambda self, hashed, phys, ts: self.put_many([(hashed, phys)], ts) == 1,
    )
    assert got == _index_bytes_of_single_puts(str(tmp_path / "put_many"))
    assert len(got) == 2


def test_put_in_last_file_writes_only_the_next_unit_of_a_file_with_room(tmp_path: Path) -> None:
    """True for the next unit of the last file and for a unit already present; False, with
    nothing written, without a file, past the last file's end, and at a gap."""
    cq = ConsumeQueue("T", 0, str(tmp_path / "cq"), 2 * CQ_UNIT_SIZE, str(tmp_path))
    try:
        assert not cq.put_in_last_file(100, 10, 5, 0)
        assert cq.max_offset == 0
        assert cq.put(100, 10, 5, 0)
        assert cq.put_in_last_file(110, 10, 6, 1)
        assert not cq.put_in_last_file(120, 10, 7, 2)  # the file is full
        assert cq.put_in_last_file(115, 5, 7, 1)  # already present (re-dispatch)
        assert cq.put(120, 10, 7, 2)
        assert not cq.put_in_last_file(140, 10, 8, 4)  # a gap: put fills it with blanks
        assert [cq.get_unit(i) for i in range(3)] == [(100, 10, 5), (110, 10, 6), (120, 10, 7)]
        assert cq.max_offset == 3
    finally:
        cq.queue.close()


@settings(max_examples=300, deadline=None)
@given(
    before=_BEFORE,
    head=_HEADS | st.just(b"ORDER-KE"),
    tails=st.lists(_TAILS | st.just(b"YS\x01A"), min_size=1, max_size=12),
    after=_AFTER | st.just(b"KEYS\x01a b\x02"),
    change=st.none() | st.tuples(st.integers(0, 11), st.integers(0, 200), st.integers(0, 255)),
    topics=st.lists(st.sampled_from(["T", "U"]), min_size=12, max_size=12),
)
def test_record_entries_of_consecutive_records_equal_the_record_loop(
    before: bytes,
    head: bytes,
    tails: list[bytes],
    after: bytes,
    change: tuple[int, int, int] | None,
    topics: list[str],
) -> None:
    """One record at a time, as single sends arrive: a string starting like the previous one
    up to its key's tail (the shortcut), one byte changed anywhere, a KEYS property after the
    key or formed across the head and the tail, another topic."""
    props = _props_with_change(before, head, tails, after, change)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as loop:
        service, reference = IndexService(one, 8, 64), IndexService(loop, 8, 64)
        for i, raw in enumerate(props):
            got = service.record_entries(topics[i], 5000 + 100 * i, 100, raw, 0)
            assert got == reference.batch_entries(topics[i], 5000 + 100 * i, [100], [raw], 0)


def test_select_between_an_entrys_slot_and_header_finds_the_whole_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``IndexFile.put`` advances the in-memory ``index_count`` before it writes the slot: a
    ``select`` on another thread right after the slot store (run here from inside it) finds
    the new entry and the older chain (with the count advanced after the slot, it found
    nothing)."""
    index_file = index_module.IndexFile(str(tmp_path / "i"), 4, 16, create=True)
    try:
        assert index_file.put(7, 100, 1_700_000_000_000)
        seen: list[list[int]] = []
        store_slot = index_module._pack_slot

        def store_slot_then_select(mm: bytearray, pos: int, n: int) -> None:
            store_slot(mm, pos, n)
            found: list[int] = []
            index_file.select(7, 0, 2**62, 32, found)
            seen.append(found)

        monkeypatch.setattr(index_module, "_pack_slot", store_slot_then_select)
        assert index_file.put(7, 200, 1_700_000_000_000)
        assert seen == [[200, 100]]
    finally:
        index_file.mapped.try_close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[IndexService]:
    """An empty index service (8 slots, 64 entries per file)."""
    index = IndexService(str(tmp_path / "index"), 8, 64)
    yield index
    index.close()


def _producer_props(counters: range, after: bytes = b"\x02WAIT\x01true\x02") -> list[bytes]:
    """A producer's properties strings: its key head, then a four-digit counter."""
    return [b"UNIQ_KEY\x01" + _PRODUCER_HEAD + b"%04X" % i + after for i in counters]


def test_a_uniform_batch_is_hashed_all_at_once(
    service: IndexService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole-batch path is taken (its lane hashing runs once for the 64 records), not
    the record loop; a batch that differs outside the key's tail is not."""
    lanes: list[int] = []
    lane_hashes = index_module._lane_hashes

    def counting(a: bytes, b: bytes, c: bytes, d: bytes, shifted: int) -> tuple[int, ...]:
        lanes.append(len(a))
        return lane_hashes(a, b, c, d, shifted)

    monkeypatch.setattr(index_module, "_lane_hashes", counting)
    props = _producer_props(range(64))
    entries = service.batch_entries("T", 0, [100] * 64, props, 0)
    assert lanes == [64]
    assert entries == [
        (key_hash("T", (_PRODUCER_HEAD + b"%04X" % i).decode()), 100 * i) for i in range(64)
    ]
    tagged = [b"TAGS\x01Tag%d\x02" % (i % 10) + raw for i, raw in enumerate(props)]
    service.batch_entries("T", 6400, [100] * 64, tagged, 0)
    assert lanes == [64]


def test_a_producers_next_single_key_skips_the_key_search(
    service: IndexService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One record at a time: the first key of a producer is looked for (its head hashed);
    the next ones, starting like it up to their last four characters, are not."""
    head_hashes: list[bytes] = []
    head_hash = IndexService._head_hash

    def counting(self: IndexService, topic: str, head: bytes) -> int:
        head_hashes.append(head)
        return head_hash(self, topic, head)

    monkeypatch.setattr(IndexService, "_head_hash", counting)
    for i, raw in enumerate(_producer_props(range(5))):
        entries = service.record_entries("T", 100 * i, 100, raw, 0)
        assert entries == [(key_hash("T", (_PRODUCER_HEAD + b"%04X" % i).decode()), 100 * i)]
    assert head_hashes == [_PRODUCER_HEAD]


_TWICE = [
    b"UNIQ_KEY\x01FIRST0000000001\x02UNIQ_KEY\x01SECOND000000001\x02",
    b"WAIT\x01true\x02UNIQ_KEY\x01FIRST0000000002\x02UNIQ_KEY\x01SECOND000000002\x02",
    b"UNIQ_KEY\x01FIRST0000000003\x02UNIQ_KEY\x01\x02",  # the last one empty: the first counts
    b"UNIQ_KEY\x01FIRST0000000004\x02KEYS\x01a b\x02UNIQ_KEY\x01SECOND000000004\x02",
    b"UNIQ_KEY\x01SAME00000000005\x02",
]


def _java_entries(topic: str, phys: int, size: int, raw: bytes) -> list[tuple[int, int]]:
    """The entries Java indexes for one record: its properties map's UNIQ_KEY, then KEYS."""
    keys = [_java_value(raw, "UNIQ_KEY"), *(_java_value(raw, "KEYS") or b"").split(b" ")]
    return [(key_hash(topic, key.decode()), phys) for key in keys if key]


@pytest.mark.parametrize("raw", _TWICE)
def test_a_record_parsed_back_from_the_log_has_javas_keys(raw: bytes) -> None:
    """The dispatcher's parse path (records not described by their writer) reads the same
    UNIQ_KEY and KEYS the described path indexes."""
    described = (500, 100, "T", 0, 0, 0, 1_700_000_000_000, [100], [raw])
    (request,) = requests_from_pending(described, [])
    uniq, keys = _java_value(raw, "UNIQ_KEY"), _java_value(raw, "KEYS")
    assert request.uniq_key == (uniq.decode() if uniq else None)
    assert request.keys == (keys.decode() if keys else None)


@pytest.mark.parametrize("raw", _TWICE)
def test_a_property_given_twice_indexes_javas_key_alone(service: IndexService, raw: bytes) -> None:
    want = _java_entries("T", 500, 100, raw)
    assert service.record_entries("T", 500, 100, raw, 0) == want
    assert service.batch_entries("T", 500, [100], [raw], 0) == want
    assert service.record_entries("T", 600, 100, raw, 0) == _java_entries("T", 600, 100, raw)


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("twice_at", [0, 1, 5, 63])
def test_a_property_given_twice_indexes_javas_key_in_batches(
    service: IndexService, uniform: bool, twice_at: int
) -> None:
    """A string with UNIQ_KEY twice inside a producer batch of equal-length strings (the
    whole-batch path's shape: the others end with a same-length property of another name) or
    of strings that differ in length, alone and record by record."""
    props = _producer_props(range(64), b"\x02")
    for i, raw in enumerate(props):
        name = b"UNIQ_KEY" if i == twice_at else b"NOT_UNIQ"
        other = b"" if uniform else b"X\x01" + b"x" * (i + 1) + b"\x02"
        props[i] = raw + name + b"\x01" + _PRODUCER_HEAD + b"FFFF\x02" + other
    sizes = [100 + i for i in range(64)]
    phys = [1000 + sum(sizes[:i]) for i in range(64)]
    records = list(zip(phys, sizes, props, strict=True))
    want = [e for at, size, raw in records for e in _java_entries("T", at, size, raw)]
    assert want[twice_at] == (key_hash("T", (_PRODUCER_HEAD + b"FFFF").decode()), phys[twice_at])
    assert service.batch_entries("T", 1000, sizes, props, 0) == want
    single = [e for at, size, raw in records for e in service.record_entries("T", at, size, raw, 0)]
    assert single == want


def test_tags_given_twice_give_the_last_values_code() -> None:
    """Tags codes of a batch with a leading TAGS (the shortcut for strings starting like the
    previous one) where one string gives TAGS again: each string's last non-empty value."""
    props = [b"TAGS\x01A\x02UNIQ_KEY\x01K%d\x02" % i for i in range(10)]
    props[4] += b"TAGS\x01B\x02"
    props[7] += b"TAGS\x01\x02"
    assert tags_codes(props) == [tag_hash(_java_value(raw, "TAGS")) for raw in props]
    assert tags_codes(props)[4] == tag_hash(b"B")
