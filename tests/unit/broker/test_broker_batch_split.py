"""SEND_BATCH_MESSAGE bodies: the uniform-layout split and the UNIQ_KEY check's fast path
return exactly what the entry-by-entry paths return."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

import pytest

import rmq_core.broker.processors.send as send_module
from rmq_core.broker.processors.send import SendMessageProcessor
from rmq_core.common.message_codec import MessageFormatError
from rmq_core.store.batch import BatchEntry
from rmq_core.store.commitlog import prop_value

_HEAD = struct.Struct(">iiiii")
_KEY = b"UNIQ_KEY\x01"


def _entry(body: bytes, props: bytes, flag: int = 0) -> bytes:
    total = _HEAD.size + len(body) + 2 + len(props)
    return _HEAD.pack(total, 0, 0, flag, len(body)) + body + struct.pack(">h", len(props)) + props


def _uniq(i: int) -> bytes:
    return _KEY + f"{i:032X}".encode() + b"\x02"


def _processor(max_message_size: int = 4 * 1024 * 1024) -> Any:
    ctx = SimpleNamespace(store_config=SimpleNamespace(max_message_size=max_message_size))
    processor = SimpleNamespace(ctx=ctx)
    processor._check_sizes = lambda body_length, properties: SendMessageProcessor._check_sizes(
        processor,  # type: ignore[arg-type]
        body_length,
        properties,
    )
    return processor


def _checked(entries: list[BatchEntry], max_message_size: int = 4 * 1024 * 1024) -> Any:
    return SendMessageProcessor._checked_entries(_processor(max_message_size), list(entries))


@pytest.mark.parametrize(
    "parts",
    [
        [(b"a" * 16, _uniq(i), i) for i in range(5)],  # uniform
        [(b"a" * (i + 1), _uniq(i), 0) for i in range(5)],  # bodies of different lengths
        [(b"", b"", 0), (b"", b"", 1)],  # empty bodies and properties
        [(b"x" * 8, _uniq(1) + b"TAGS\x01t\x02", 0), (b"y" * 8, _uniq(2), 0)],
    ],
)
def test_split_matches_entry_by_entry(parts: list[tuple[bytes, bytes, int]]) -> None:
    data = b"".join(_entry(body, props, flag) for body, props, flag in parts)
    expected = [(flag, body, props) for body, props, flag in parts]
    assert send_module._split_entries(data) == expected
    assert send_module._split_batch(data) == expected


def _assert_split_like_entry_by_entry(data: bytes) -> None:
    """``_split_batch`` (uniform fast path or not) refuses ``data`` exactly when the
    entry-by-entry split does, and otherwise returns the same entries."""
    try:
        expected: Any = send_module._split_entries(data)
    except MessageFormatError:
        with pytest.raises(MessageFormatError):
            send_module._split_batch(data)
        return
    assert send_module._split_batch(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        _entry(b"abcd", _uniq(1)) + _entry(b"abcd", _uniq(2))[:-3],  # truncated
        _HEAD.pack(30, 0, 0, 0, 4) + b"abcd" + b"\x00\x04" + b"wxyz",  # total says 30, is 30
        _HEAD.pack(31, 0, 0, 0, 4) + b"abcd" + b"\x00\x05" + b"wxyz\x02",  # total short by 0
        _HEAD.pack(26, 0, 0, 0, -1) + b"abcd" + b"\x00\x00",  # negative body length
        _HEAD.pack(26, 0, 0, 0, 4) + b"abcd" + b"\xff\xff",  # negative properties length
    ],
)
def test_split_refuses_or_accepts_like_entry_by_entry(data: bytes) -> None:
    _assert_split_like_entry_by_entry(data)


def _mutated(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + bytes([value]) + data[at + 1 :]


_THREE = b"".join(_entry(b"a" * 16, _uniq(i), i) for i in range(3))
_STEP = len(_THREE) // 3


@pytest.mark.parametrize(
    "data",
    [
        _entry(b"a" * 16, _uniq(0)) + _entry(b"a" * 17, _uniq(1)[:-1]),  # same total, other split
        _mutated(_THREE, 2 * _STEP + 3, 0x7F),  # the last entry's total
        _mutated(_THREE, _STEP + 19, 15),  # the second entry's body length
        _mutated(_THREE, _STEP + 20 + 16 + 1, 0),  # the second entry's properties length
        _mutated(_THREE, 20 + 16, 1),  # the first entry's properties length (high byte)
        _mutated(_THREE, _STEP + 12, 9),  # a flag differs: still uniform
    ],
)
def test_uniform_split_compares_every_entrys_lengths(data: bytes) -> None:
    _assert_split_like_entry_by_entry(data)


def test_uniform_layouts_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(send_module, "_LAYOUTS", {})
    for size in range(send_module._LAYOUTS_MAX + 5):
        send_module._split_batch(_entry(b"b" * size, b""))
    assert 0 < len(send_module._LAYOUTS) <= send_module._LAYOUTS_MAX


@pytest.mark.parametrize(
    "props",
    [
        [_uniq(i) for i in range(4)],  # key first in every entry (the fast path)
        [b"TAGS\x01t\x02" + _uniq(i) for i in range(4)],  # key at one place after another
        [_uniq(0), b"TAGS\x01t\x02" + _uniq(1)],  # key first, then not
        [b"TAGS\x01t\x02" + _uniq(0), _uniq(1)],  # key not first, then first
        [b"TAGS\x01t\x02" + _uniq(0), b"TAGS\x01tt\x02" + _uniq(1)],  # different places
        [_uniq(0), b"TAGS\x01t\x02"],  # one entry without a key
        [_uniq(0), _KEY + b"\x02"],  # one entry with an empty key
        [_uniq(0), _KEY + b"ABC"],  # one entry with an unterminated key
        [b"A\x01" + _uniq(0), b"A\x01" + _KEY + b"\x02" + _uniq(1)],  # first of two is empty
        [b"X" + _KEY + b"V\x02", b"X" + _KEY + b"V\x02"],  # only inside another name
    ],
)
def test_checked_entries_fast_path_matches_entry_by_entry(props: list[bytes]) -> None:
    entries: list[BatchEntry] = [(0, b"body", p) for p in props]
    checked = _checked(entries)
    for (_f, _b, before), (_f2, _b2, after) in zip(entries, checked, strict=True):
        assert prop_value(after, _KEY) is not None
        if prop_value(before, _KEY) is not None:
            assert after == before
        else:
            assert after != before


def test_checked_entries_refuse_a_long_body_on_the_fast_path() -> None:
    entries: list[BatchEntry] = [(0, b"x" * 10, _uniq(0)), (0, b"x" * 11, _uniq(1))]
    with pytest.raises(Exception, match="body size 11 exceeds"):
        _checked(entries, max_message_size=10)
    assert _checked(entries, max_message_size=11) == entries


@pytest.mark.parametrize(
    ("props", "fast"),
    [
        ([_uniq(i) for i in range(4)], True),  # key first and terminated in every entry
        ([_uniq(0)], True),
        ([_uniq(0) + b"TAGS\x01t\x02", _uniq(1) + b"TAGS\x01u\x02"], True),
        ([b"TAGS\x01t\x02" + _uniq(i) for i in range(3)], False),  # key not first
        ([_uniq(0), _KEY + b"\x02" + b"X" * 32], False),  # an empty value
        ([_uniq(0), _uniq(1)[:-1] + b"Z"], False),  # one unterminated
        ([_uniq(0), b"UNIQ_KEZ\x01" + _uniq(1)[9:]], False),  # one key misspelt
        ([_KEY + b"V\x02", _KEY + b"W\x02"], True),  # one-byte values
        ([_KEY + b"\x02", _KEY + b"\x02"], False),  # too short for a value
    ],
)
def test_uniform_key_check_agrees_with_the_entry_checks(props: list[bytes], fast: bool) -> None:
    data = b"".join(_entry(b"b" * 7, p) for p in props)
    layout = send_module._uniform_layout(data)
    assert layout is not None
    entries = send_module._unpack_uniform(data, layout)
    assert entries == send_module._split_entries(data)
    assert send_module._uniform_keyed(data, layout) is fast
    raw = [p for _flag, _body, p in entries]
    if fast:  # then the entry-by-entry checks hold as well and keep every entry as it is
        assert send_module._all_keyed(raw) and send_module._all_terminated(raw)
        assert _checked(list(entries)) == entries


def test_uniform_batch_over_the_body_limit_takes_the_checking_path() -> None:
    data = b"".join(_entry(b"b" * 11, _uniq(i)) for i in range(3))
    layout = send_module._uniform_layout(data)
    assert layout is not None
    processor = _processor(max_message_size=10)
    assert not SendMessageProcessor._uniform_checked(processor, data, layout)
    assert SendMessageProcessor._uniform_checked(_processor(11), data, layout)
