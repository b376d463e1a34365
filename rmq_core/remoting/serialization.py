"""Header serialization of a :class:`RemotingCommand`: JSON (type 0) and ROCKETMQ (type 1).

JSON header (reference §1.3): a fastjson-style object with keys in alphabetical order::

    {"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":3,
     "serializeTypeCurrentRPC":"JSON","version":479}

``remark`` is omitted when ``None`` and ``extFields`` when empty (as Java omits null fields);
every extFields value is written as a JSON string. On decode any key order is accepted, unknown
keys are ignored, and extFields numbers/booleans become strings (``true`` -> ``"true"``).

ROCKETMQ header (reference §1.5), all integers big-endian and signed::

    short code | byte language | short version | int opaque | int flag |
    int remarkLen | remark (UTF-8) | int extLen | extLen bytes of map entries
    map entry: short keyLen | key (UTF-8) | int valLen | value (UTF-8)

A zero ``remarkLen`` decodes as ``None``. Codes outside the short range (the 5.x pop codes)
cannot be written in this form; :func:`encode_header` raises for them.

Any malformed header raises :class:`~rmq_core.errors.RemoteProtocolError`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, cast

from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting.codes import LanguageCode, SerializeType
from rmq_core.remoting.command import RemotingCommand

__all__ = ["decode_header", "encode_header"]

_FIXED = struct.Struct(">hbhii")  # code, language, version, opaque, flag: 13 bytes
_INT = struct.Struct(">i")
_SHORT = struct.Struct(">h")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_SHORT_MIN, _SHORT_MAX = -(2**15), 2**15 - 1

_LANGUAGE_BY_NAME = {member.name: member for member in LanguageCode}
_LANGUAGE_BY_VALUE = {member.value: member for member in LanguageCode}
_LANGUAGE_NAMES: dict[int, str] = {member.value: member.name for member in LanguageCode}
"""Wire name by language value (an IntEnum member looks its value up); others write OTHER."""
_OTHER_NAME = LanguageCode.OTHER.name
_STR_ONLY = frozenset((str,))
"""``_STR_ONLY.issuperset(map(type, values))``: every value a plain str (one C-level pass)."""

_json_encode_string = json.encoder.encode_basestring
# Prebuilt codecs: the C encoder/scanner without json.dumps/json.loads per-call set-up.
_EXT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_DECODER = json.JSONDecoder()
# ``JSONEncoder.encode`` makes a new C encoder per call and ``JSONDecoder.decode`` matches
# whitespace around the document: the C encoder is made once here (same arguments as
# ``_EXT_ENCODER`` uses) and a header is scanned directly, falling back to ``decode`` for
# anything but a bare document (whitespace around it, or an error to report).
_ExtChunks: TypeAlias = Callable[[dict[str, str], int], Sequence[str]]
_EXT_SAMPLE = {"key": 'v\u00e9 "q" \\ \n\x01\u2028', "other": ""}
"""Fields the prebuilt encoder must encode exactly as ``_EXT_ENCODER.encode`` (non-ASCII,
quotes, backslash, control characters) before it is used."""


def _portable_ext_chunks(fields: dict[str, str], _level: int) -> tuple[str]:
    """``fields`` as JSON by ``_EXT_ENCODER.encode``, as one chunk (the fallback)."""
    return (_EXT_ENCODER.encode(fields),)


def _ext_chunks(make_encoder: Callable[..., Any] | None) -> _ExtChunks:
    """The extFields encoder: the C encoder made by ``make_encoder`` (CPython's private
    ``json.encoder.c_make_encoder``) when it can be made with ``_EXT_ENCODER``'s arguments and
    encodes ``_EXT_SAMPLE`` exactly as ``_EXT_ENCODER.encode``; else :func:`_portable_ext_chunks`
    (no ``c_make_encoder``, another signature, or other output)."""
    if make_encoder is None:
        return _portable_ext_chunks
    try:
        encoder = make_encoder(
            None, _EXT_ENCODER.default, _json_encode_string, None, ":", ",", False, False, True
        )
        if "".join(encoder(_EXT_SAMPLE, 0)) == _EXT_ENCODER.encode(_EXT_SAMPLE):
            return cast(_ExtChunks, encoder)
    except (TypeError, ValueError):
        pass
    return _portable_ext_chunks


_EXT_CHUNKS = _ext_chunks(getattr(json.encoder, "c_make_encoder", None))
_SCAN: Callable[[str, int], tuple[Any, int]] = cast(Any, _DECODER).scan_once


def encode_header(cmd: RemotingCommand) -> bytes:
    """The header bytes of ``cmd`` in ``cmd.serialize_type``."""
    if cmd.serialize_type == SerializeType.ROCKETMQ:
        return _encode_rocketmq(cmd)
    return _encode_json(cmd)


def decode_header(data: bytes | memoryview, serialize_type: int) -> RemotingCommand:
    """Decode header bytes into a command without body; ``serialize_type`` is the high byte
    of HEADER_INFO. Raises :class:`RemoteProtocolError` on anything malformed."""
    if serialize_type == SerializeType.JSON:
        return _decode_json(data)
    if serialize_type == SerializeType.ROCKETMQ:
        return _decode_rocketmq(data)
    raise RemoteProtocolError(f"unknown serialize type {serialize_type}")


# --- JSON -------------------------------------------------------------------------------------


def _encode_json(cmd: RemotingCommand) -> bytes:
    """The JSON header: keys in alphabetical order, ``extFields`` omitted when empty,
    ``remark`` when None (one format per shape; ~2x faster than part by part)."""
    fields = cmd.ext_fields
    language = _LANGUAGE_NAMES.get(cmd.language, _OTHER_NAME)
    remark = cmd.remark
    tail = (
        f'"language":"{language}","opaque":{int(cmd.opaque)},'
        if remark is None
        else f'"language":"{language}","opaque":{int(cmd.opaque)},"remark":'
        f"{_json_encode_string(remark)},"
    )
    if not fields:
        text = (
            f'{{"code":{int(cmd.code)},"flag":{int(cmd.flag)},{tail}'
            f'"serializeTypeCurrentRPC":"JSON","version":{int(cmd.version)}}}'
        )
        return text.encode("utf-8")
    if not _STR_ONLY.issuperset(map(type, fields.values())):
        fields = _stringify(fields)
    text = (
        f'{{"code":{int(cmd.code)},"extFields":{"".join(_EXT_CHUNKS(fields, 0))},'
        f'"flag":{int(cmd.flag)},{tail}'
        f'"serializeTypeCurrentRPC":"JSON","version":{int(cmd.version)}}}'
    )
    return text.encode("utf-8")


def _stringify(fields: dict[str, Any]) -> dict[str, str]:
    """Guard for callers that put non-strings into ext_fields: peers need strings."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif value is not None:
            out[key] = str(value)
    return out


def _decode_json(data: bytes | memoryview) -> RemotingCommand:
    try:
        text = str(data, "utf-8")
        try:
            obj, end = _SCAN(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            obj = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise RemoteProtocolError(f"malformed JSON header: {exc}") from exc
    if not isinstance(obj, dict):
        raise RemoteProtocolError("malformed JSON header: not an object")
    if "code" not in obj:
        raise RemoteProtocolError("malformed JSON header: no 'code'")
    remark = obj.get("remark")
    if remark is not None and not isinstance(remark, str):
        raise RemoteProtocolError("malformed JSON header: 'remark' is not a string")
    fields = obj.get("extFields")
    if type(fields) is dict and _STR_ONLY.issuperset(map(type, fields.values())):
        ext_fields: dict[str, str] = fields  # the usual case: a fresh dict of strings, kept
    else:
        ext_fields = _json_ext_fields(fields)
    get = obj.get
    code, opaque, flag, version = obj["code"], get("opaque", 0), get("flag", 0), get("version", 0)
    if not (
        type(code) is int
        and type(opaque) is int
        and type(flag) is int
        and type(version) is int
        and _INT32_MIN <= code <= _INT32_MAX
        and _INT32_MIN <= opaque <= _INT32_MAX
        and _INT32_MIN <= flag <= _INT32_MAX
        and _INT32_MIN <= version <= _INT32_MAX
    ):  # anything but plain int32 values: checked and converted one by one
        code = _json_int(obj, "code", 0)
        opaque = _json_int(obj, "opaque", 0)
        flag = _json_int(obj, "flag", 0)
        version = _json_int(obj, "version", 0)
    language = obj.get("language")
    known = _LANGUAGE_BY_NAME.get(language) if type(language) is str else None
    return RemotingCommand(
        code,
        opaque,
        flag,
        known if known is not None else _json_language(language),
        version,
        remark,
        ext_fields,
        b"",
        SerializeType.JSON,
    )


def _json_int(obj: dict[str, Any], key: str, default: int) -> int:
    value = obj.get(key, default)
    if type(value) is int and _INT32_MIN <= value <= _INT32_MAX:
        return value
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        else:
            raise RemoteProtocolError(f"malformed JSON header: {key!r} is not an integer")
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise RemoteProtocolError(f"malformed JSON header: {key!r} out of int range")
    return value


def _json_language(value: object) -> LanguageCode:
    if isinstance(value, str):
        return _LANGUAGE_BY_NAME.get(value, LanguageCode.OTHER)
    if isinstance(value, int) and not isinstance(value, bool):
        return _LANGUAGE_BY_VALUE.get(value, LanguageCode.OTHER)
    return LanguageCode.JAVA


def _json_ext_fields(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RemoteProtocolError("malformed JSON header: 'extFields' is not an object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            out[key] = item
        elif item is None:
            continue
        elif isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            out[key] = str(item)
        else:
            out[key] = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    return out


# --- ROCKETMQ binary --------------------------------------------------------------------------


def _encode_rocketmq(cmd: RemotingCommand) -> bytes:
    code, version = int(cmd.code), int(cmd.version)
    if not _SHORT_MIN <= code <= _SHORT_MAX:
        raise RemoteProtocolError(f"code {code} does not fit a ROCKETMQ header; use JSON")
    if not _SHORT_MIN <= version <= _SHORT_MAX:
        raise RemoteProtocolError(f"version {version} does not fit a ROCKETMQ header")
    remark = cmd.remark.encode("utf-8") if cmd.remark else b""
    entries = bytearray()
    fields = cmd.ext_fields
    if not _STR_ONLY.issuperset(map(type, fields.values())):
        fields = _stringify(fields)
    for key, value in fields.items():
        key_bytes = key.encode("utf-8")
        if len(key_bytes) > _SHORT_MAX:
            raise RemoteProtocolError(f"extFields key too long for a ROCKETMQ header: {key[:40]}")
        value_bytes = value.encode("utf-8")
        entries += _SHORT.pack(len(key_bytes))
        entries += key_bytes
        entries += _INT.pack(len(value_bytes))
        entries += value_bytes
    return b"".join(
        (
            _FIXED.pack(code, int(cmd.language), version, _i32(cmd.opaque), _i32(cmd.flag)),
            _INT.pack(len(remark)),
            remark,
            _INT.pack(len(entries)),
            bytes(entries),
        )
    )


def _i32(value: int) -> int:
    """Java int semantics for opaque/flag: wrap into the signed 32-bit range."""
    value = int(value) & 0xFFFFFFFF
    return value - (1 << 32) if value > _INT32_MAX else value


def _decode_rocketmq(data: bytes | memoryview) -> RemotingCommand:
    view = memoryview(data)
    end = len(view)
    if end < _FIXED.size + 8:
        raise RemoteProtocolError(f"ROCKETMQ header too short: {end} bytes")
    code, language, version, opaque, flag = _FIXED.unpack_from(view, 0)
    pos = _FIXED.size
    remark_bytes, pos = _read_chunk(view, pos, _INT, "remark")
    ext_bytes, pos = _read_chunk(view, pos, _INT, "extFields")
    ext_fields = _decode_map(ext_bytes)
    return RemotingCommand(
        code=code,
        opaque=opaque,
        flag=flag,
        language=_LANGUAGE_BY_VALUE.get(language, LanguageCode.OTHER),
        version=version,
        remark=_utf8(remark_bytes, "remark") or None,
        ext_fields=ext_fields,
        serialize_type=SerializeType.ROCKETMQ,
    )


def _read_chunk(
    view: memoryview, pos: int, length_struct: struct.Struct, what: str
) -> tuple[memoryview, int]:
    if pos + length_struct.size > len(view):
        raise RemoteProtocolError(f"ROCKETMQ header: truncated {what} length")
    length = length_struct.unpack_from(view, pos)[0]
    pos += length_struct.size
    if length < 0 or pos + length > len(view):
        raise RemoteProtocolError(f"ROCKETMQ header: bad {what} length {length}")
    return view[pos : pos + length], pos + length


def _decode_map(view: memoryview) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(view):
        key, pos = _read_chunk(view, pos, _SHORT, "extFields key")
        value, pos = _read_chunk(view, pos, _INT, "extFields value")
        out[_utf8(key, "extFields key")] = _utf8(value, "extFields value")
    return out


def _utf8(data: memoryview, what: str) -> str:
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError(f"ROCKETMQ header: {what} is not UTF-8") from exc
