"""Frame codec: golden vectors of reference §1.5a, splitting, limits, garbage."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmq_core.errors import FrameTooLargeError, RemoteProtocolError
from rmq_core.remoting.codec import DEFAULT_MAX_FRAME_LENGTH, FrameDecoder, encode_frame
from rmq_core.remoting.codes import LanguageCode, SerializeType
from rmq_core.remoting.command import RemotingCommand

JSON_HEADER = (
    b'{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":3,'
    b'"serializeTypeCurrentRPC":"JSON","version":479}'
)
JSON_FRAME = bytes.fromhex("00000087 00000083") + JSON_HEADER
ROCKETMQ_FRAME = bytes.fromhex(
    "0000002d 01000029 0069 00 01df 00000003 00000000 00000000 00000014 0005 746f706963"
    " 00000009 546f70696354657374"
)
GOLDEN = [(JSON_FRAME, SerializeType.JSON), (ROCKETMQ_FRAME, SerializeType.ROCKETMQ)]


def _expected(serialize_type: SerializeType) -> RemotingCommand:
    return RemotingCommand(
        code=105,
        opaque=3,
        flag=0,
        language=LanguageCode.JAVA,
        version=479,
        ext_fields={"topic": "TopicTest"},
        serialize_type=serialize_type,
    )


def test_golden_json_header_is_the_131_byte_text() -> None:
    assert len(JSON_HEADER) == 131
    assert len(ROCKETMQ_FRAME) == 49


@pytest.mark.parametrize(("frame", "serialize_type"), GOLDEN, ids=["json", "rocketmq"])
def test_golden_frame_whole(frame: bytes, serialize_type: SerializeType) -> None:
    [cmd] = FrameDecoder().feed(frame)
    assert cmd == _expected(serialize_type)
    assert encode_frame(cmd) == frame


@pytest.mark.parametrize(("frame", "serialize_type"), GOLDEN, ids=["json", "rocketmq"])
def test_golden_frame_split_at_every_offset(frame: bytes, serialize_type: SerializeType) -> None:
    for cut in range(len(frame) + 1):
        decoder = FrameDecoder()
        cmds = decoder.feed(frame[:cut]) + decoder.feed(frame[cut:])
        assert cmds == [_expected(serialize_type)], cut
        assert decoder.buffered == 0


@pytest.mark.parametrize(("frame", "serialize_type"), GOLDEN, ids=["json", "rocketmq"])
def test_golden_frame_one_byte_at_a_time(frame: bytes, serialize_type: SerializeType) -> None:
    decoder = FrameDecoder()
    cmds: list[RemotingCommand] = []
    for i in range(len(frame)):
        cmds += decoder.feed(frame[i : i + 1])
        if i < len(frame) - 1:
            assert cmds == []
    assert cmds == [_expected(serialize_type)]
    assert encode_frame(cmds[0]) == frame


def test_many_frames_in_one_feed_and_split_across_feeds() -> None:
    stream = (JSON_FRAME + ROCKETMQ_FRAME) * 5
    assert len(FrameDecoder().feed(stream)) == 10
    decoder = FrameDecoder()
    got: list[RemotingCommand] = []
    for start in range(0, len(stream), 37):
        got += decoder.feed(stream[start : start + 37])
    assert [c.serialize_type for c in got] == [SerializeType.JSON, SerializeType.ROCKETMQ] * 5


def test_body_travels_raw() -> None:
    cmd = RemotingCommand(code=10, opaque=7, ext_fields={"a": "g"}, body=b"\x00\xffbody")
    frame = encode_frame(cmd)
    assert frame.endswith(b"\x00\xffbody")
    assert FrameDecoder().feed(frame) == [cmd]


def test_too_large_frame_rejected_from_the_length_alone() -> None:
    decoder = FrameDecoder(max_frame_length=1024)
    with pytest.raises(FrameTooLargeError):
        decoder.feed(struct.pack(">i", 1021))  # 4 + 1021 > 1024
    assert decoder.buffered == 0
    with pytest.raises(FrameTooLargeError):  # the decoder stays failed
        decoder.feed(b"x")


def test_frame_at_the_limit_is_accepted() -> None:
    cmd = RemotingCommand(code=1, body=b"")
    header_len = len(encode_frame(cmd)) - 8
    body = b"b" * (1024 - 8 - header_len)
    frame = encode_frame(RemotingCommand(code=1, body=body))
    assert len(frame) == 1024
    assert FrameDecoder(max_frame_length=1024).feed(frame)[0].body == body


def test_default_limit_is_16_mib_and_checked_before_buffering() -> None:
    assert DEFAULT_MAX_FRAME_LENGTH == 16 * 1024 * 1024
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLargeError):
        decoder.feed(struct.pack(">iI", DEFAULT_MAX_FRAME_LENGTH, 0) + b"x" * 4096)
    assert decoder.buffered == 0


def test_partial_frame_buffers_only_its_own_bytes() -> None:
    decoder = FrameDecoder()
    big = encode_frame(RemotingCommand(code=1, body=b"z" * 100_000))
    decoder.feed(big[:50_000])
    assert decoder.buffered == 50_000
    [cmd] = decoder.feed(big[50_000:])
    assert len(cmd.body) == 100_000


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">iI", 3, 0),  # LENGTH below 4
        struct.pack(">i", -5),  # negative LENGTH
        struct.pack(">iI", 10, (7 << 24) | 2) + b"{}" + b"\0" * 4,  # unknown serialize type
        struct.pack(">iI", 10, 50),  # header longer than the frame
        struct.pack(">iI", 6, 2) + b"{x",  # malformed JSON
        struct.pack(">iI", 6, 2) + b"[]",  # JSON not an object
        struct.pack(">iI", 6, 2) + b"{}",  # no code
        struct.pack(">iI", 4 + 5, (1 << 24) | 5) + b"\0" * 5,  # ROCKETMQ header too short
    ],
)
def test_bad_frames_raise_protocol_errors(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        FrameDecoder().feed(data)
    decoder = FrameDecoder()
    with pytest.raises(RemoteProtocolError):  # also when fed one byte at a time
        for i in range(len(data)):
            decoder.feed(data[i : i + 1])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_decoder_never_crashes_on_random_bytes(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(max_frame_length=4096)
    try:
        for chunk in chunks:
            for cmd in decoder.feed(chunk):
                assert isinstance(cmd, RemotingCommand)
    except RemoteProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.sampled_from([0, 1]))
def test_decoder_never_crashes_on_random_headers(header: bytes, serialize_type: int) -> None:
    frame = struct.pack(">iI", 4 + len(header), (serialize_type << 24) | len(header)) + header
    with contextlib.suppress(RemoteProtocolError):
        FrameDecoder().feed(frame)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([JSON_FRAME, ROCKETMQ_FRAME]),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_decoder_never_crashes_on_mutated_golden_frames(
    frame: bytes, mutations: list[tuple[int, int]]
) -> None:
    data = bytearray(frame)
    for index, value in mutations:
        data[index % len(data)] = value
    with contextlib.suppress(RemoteProtocolError):
        FrameDecoder().feed(bytes(data))
