"""Header serialization: JSON and ROCKETMQ both ways, Hypothesis round-trips."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting import serialization
from rmq_core.remoting.codec import FrameDecoder, encode_frame
from rmq_core.remoting.codes import LanguageCode, SerializeType
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.serialization import decode_header, encode_header

INT32 = st.integers(-(2**31), 2**31 - 1)
SHORT = st.integers(-(2**15), 2**15 - 1)
TEXT = st.text(max_size=30)


@st.composite
def commands(draw: st.DrawFn, serialize_type: SerializeType) -> RemotingCommand:
    short_form = serialize_type == SerializeType.ROCKETMQ
    remark = draw(st.none() | st.text(min_size=1 if short_form else 0, max_size=40))
    return RemotingCommand(
        code=draw(SHORT if short_form else INT32),
        opaque=draw(INT32),
        flag=draw(st.integers(0, 3)),
        language=draw(st.sampled_from(list(LanguageCode))),
        version=draw(SHORT if short_form else INT32),
        remark=remark,
        ext_fields=draw(st.dictionaries(TEXT, TEXT, max_size=6)),
        body=draw(st.binary(max_size=64)),
        serialize_type=serialize_type,
    )


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(SerializeType)).flatmap(commands))
def test_command_round_trips_through_frames(cmd: RemotingCommand) -> None:
    frame = encode_frame(cmd)
    [decoded] = FrameDecoder().feed(frame)
    assert decoded == cmd
    assert encode_frame(decoded) == frame


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(SerializeType)).flatmap(commands))
def test_header_round_trip_without_body(cmd: RemotingCommand) -> None:
    cmd.body = b""
    assert decode_header(encode_header(cmd), cmd.serialize_type) == cmd


def test_json_header_keys_sorted_and_values_strings() -> None:
    cmd = RemotingCommand(code=0, opaque=9, flag=1, remark="ok", ext_fields={"queueId": "3"})
    text = encode_header(cmd).decode()
    assert text == (
        '{"code":0,"extFields":{"queueId":"3"},"flag":1,"language":"JAVA","opaque":9,'
        '"remark":"ok","serializeTypeCurrentRPC":"JSON","version":401}'
    )
    obj = json.loads(text)
    assert list(obj) == sorted(obj)


def test_json_header_omits_null_remark_and_empty_ext_fields() -> None:
    obj = json.loads(encode_header(RemotingCommand(code=3)))
    assert "remark" not in obj
    assert "extFields" not in obj
    for key in ("code", "flag", "language", "opaque", "version", "serializeTypeCurrentRPC"):
        assert key in obj


def test_json_non_ascii_kept_as_utf8() -> None:
    cmd = RemotingCommand(code=1, remark="\u00e9\u4e2d", ext_fields={"k": "\u00fc"})
    data = encode_header(cmd)
    assert "\u4e2d".encode() in data
    assert decode_header(data, 0) == cmd


def test_json_decode_turns_numbers_and_booleans_into_strings() -> None:
    text = (
        b'{"opaque":4,"code":11,"language":"NODE_JS","extFields":{"queueId":0,"k":false,'
        b'"t":true,"f":1.5,"n":null,"s":"x","o":{"a":1}},"flag":0,"version":121,"extra":[1]}'
    )
    cmd = decode_header(text, SerializeType.JSON)
    assert cmd.ext_fields == {
        "queueId": "0",
        "k": "false",
        "t": "true",
        "f": "1.5",
        "s": "x",
        "o": '{"a":1}',
    }
    assert cmd.language == LanguageCode.NODE_JS
    assert (cmd.code, cmd.opaque, cmd.version) == (11, 4, 121)


def test_json_decode_cpp_header_with_empty_remark() -> None:
    text = (
        b'{"code":34,"extFields":{},"flag":0,"language":"CPP","opaque":0,"remark":"","version":63}'
    )
    cmd = decode_header(text, 0)
    assert cmd.language == LanguageCode.CPP
    assert cmd.remark == ""
    assert cmd.ext_fields == {}


def test_json_header_with_whitespace_around_it_decodes() -> None:
    cmd = decode_header(b' \n{"code":7, "opaque":2, "extFields":{"a":"b"}}\r\n ', 0)
    assert (cmd.code, cmd.opaque, cmd.ext_fields) == (7, 2, {"a": "b"})


def test_json_header_ints_given_as_strings_or_null_are_read_one_by_one() -> None:
    cmd = decode_header(b'{"code":"12","opaque":"-7","flag":null,"language":1}', 0)
    assert (cmd.code, cmd.opaque, cmd.flag, cmd.version) == (12, -7, 0, 0)
    assert cmd.language == LanguageCode.CPP


def test_json_header_of_an_unknown_language_value_names_other() -> None:
    text = encode_header(RemotingCommand(code=1, language=99, ext_fields={"k": "v"})).decode()
    assert '"language":"OTHER"' in text
    assert json.loads(text)["extFields"] == {"k": "v"}


def test_unknown_language_name_becomes_other() -> None:
    assert decode_header(b'{"code":1,"language":"COBOL"}', 0).language == LanguageCode.OTHER


@pytest.mark.parametrize(
    "text",
    [
        b'{"code":"x"}',
        b'{"code":true}',
        b'{"code":1,"opaque":99999999999}',
        b'{"code":1,"remark":5}',
        b'{"code":1,"extFields":[1]}',
        b"\xff\xfe",
        b"",
        b" ",
        b'{"code":1} x',
        b'{"code":1}{"code":2}',
        b"[1]",
    ],
)
def test_malformed_json_header(text: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_header(text, SerializeType.JSON)


def test_unknown_serialize_type() -> None:
    with pytest.raises(RemoteProtocolError, match="serialize type 5"):
        decode_header(b"{}", 5)


def test_rocketmq_cannot_carry_pop_codes() -> None:
    cmd = RemotingCommand(code=200050, serialize_type=SerializeType.ROCKETMQ)
    with pytest.raises(RemoteProtocolError, match="use JSON"):
        encode_header(cmd)
    cmd.serialize_type = SerializeType.JSON
    assert decode_header(encode_header(cmd), 0).code == 200050


def test_rocketmq_empty_remark_decodes_as_none() -> None:
    cmd = RemotingCommand(code=1, remark="", serialize_type=SerializeType.ROCKETMQ)
    assert decode_header(encode_header(cmd), 1).remark is None


@pytest.mark.parametrize(
    "header",
    [
        bytes(13) + b"\x00\x00\x00\x05ab" + bytes(4),  # remark longer than the header
        bytes(13) + bytes(4) + b"\x00\x00\x00\x09" + b"\x00\x05to",  # extLen past the end
        bytes(13) + bytes(4) + b"\x00\x00\x00\x04" + b"\x00\x09to",  # key past the map
        bytes(13) + b"\x00\x00\x00\x02\xff\xfe" + bytes(4),  # remark not UTF-8
    ],
)
def test_malformed_rocketmq_header(header: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_header(header, SerializeType.ROCKETMQ)


@pytest.mark.parametrize("serialize_type", list(SerializeType))
def test_non_string_ext_field_values_are_written_as_strings(serialize_type: SerializeType) -> None:
    cmd = RemotingCommand(code=0, serialize_type=serialize_type)
    cmd.ext_fields = {"queueId": 3, "k": True, "none": None}  # type: ignore[dict-item]
    decoded = decode_header(encode_header(cmd), serialize_type)
    assert decoded.ext_fields == {"queueId": "3", "k": "true"}


def _refuses_the_arguments(*args: Any) -> Any:
    raise TypeError(f"expected 5 arguments, got {len(args)}")


def _encodes_otherwise(*args: Any) -> Any:
    return lambda fields, level: ("{}",)


@pytest.mark.parametrize("make_encoder", [None, _refuses_the_arguments, _encodes_otherwise])
def test_ext_fields_encoder_falls_back_when_the_c_encoder_is_unusable(
    make_encoder: Callable[..., Any] | None,
) -> None:
    chunks = serialization._ext_chunks(make_encoder)
    assert chunks is serialization._portable_ext_chunks
    fields = {"topic": "T\u00e9", "q": '"\\\n'}
    assert "".join(chunks(fields, 0)) == json.dumps(
        fields, ensure_ascii=False, separators=(",", ":")
    )


def test_ext_fields_encoder_is_the_c_encoder_when_it_encodes_like_the_portable_one() -> None:
    make_encoder = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    chunks = serialization._ext_chunks(make_encoder)
    assert chunks is not serialization._portable_ext_chunks
    fields = {"topic": "T\u00e9", "q": '"\\\n\x00'}
    assert "".join(chunks(fields, 0)) == "".join(serialization._portable_ext_chunks(fields, 0))


def test_json_header_is_the_same_through_the_fallback_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cmd = RemotingCommand(code=10, opaque=7, remark="r\u00e9")
    cmd.ext_fields = {"topic": "T\u00e9", "q": '"\\\n\x01'}
    expected = encode_header(cmd)
    monkeypatch.setattr(serialization, "_EXT_CHUNKS", serialization._portable_ext_chunks)
    assert encode_header(cmd) == expected
    assert decode_header(expected, SerializeType.JSON).ext_fields == cmd.ext_fields
