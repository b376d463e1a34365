"""JSON bodies as Java's fastjson 1.2.x reads and writes them (reference §1.9).

fastjson writes maps whose key type is not ``String`` with *unquoted* keys::

    {"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}}           numeric keys
    {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:12}}     object keys

:func:`loads` accepts standard JSON and these forms: a bare number key becomes an ``int`` (or a
``float``), a bare object key a :class:`FrozenKey`, a bare identifier key a ``str``; quoted keys
stay strings (``"0"`` stays ``"0"``). Standard JSON takes the C fast path of :mod:`json`; only
text that it rejects goes through the lenient parser. Malformed text raises
:class:`FastjsonDecodeError` (a :class:`~rmq_core.errors.RemoteProtocolError`).

:func:`dumps` writes compact UTF-8 JSON the way Java does: object keys sorted (strings in
code-point order, numbers numerically), ``int`` keys bare (``{0:"a"}``) and :class:`FrozenKey`
keys as bare objects, unless ``bare_non_string_keys=False`` asks for the quoted forms (``"0"``
and the object's JSON inside a string). Non-ASCII characters are written as UTF-8 unless
``ensure_ascii=True``. NaN and infinities become ``null``; bytes become base64 strings; plain
enums their name.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from rmq_core.errors import RemoteProtocolError

__all__ = ["FastjsonDecodeError", "FrozenKey", "dumps", "loads"]

MAX_DEPTH = 200
"""Deepest nesting :func:`loads` accepts (objects and arrays)."""


class FastjsonDecodeError(RemoteProtocolError, ValueError):
    """A body that is not JSON even by fastjson's lenient rules; ``position`` is the offset
    (in characters) where parsing stopped."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


class FrozenKey:
    """A hashable wrapper of a decoded JSON object used as a map key (e.g. a MessageQueue).

    ``value`` is the decoded object (normally a ``dict``). Two keys are equal when their values
    are equal; the hash is computed once from a frozen copy.
    """

    __slots__ = ("_hash", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._hash = hash(_freeze(value))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrozenKey) and bool(self.value == other.value)

    def __repr__(self) -> str:
        return f"FrozenKey({self.value!r})"


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return frozenset((_freeze(k), _freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


# --- loads ------------------------------------------------------------------------------------


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse a fastjson body; see the module docstring for the accepted key forms."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FastjsonDecodeError("body is not UTF-8", exc.start) from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise FastjsonDecodeError("nesting too deep", 0) from exc
    except ValueError:
        pass
    try:
        return _Parser(text).parse()
    except RecursionError as exc:
        raise FastjsonDecodeError("nesting too deep", 0) from exc


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_LITERALS = {"true": True, "false": False, "null": None}
# json.decoder.scanstring is the C string scanner (typeshed does not declare it).
_scanstring: Callable[[str, int], tuple[str, int]] = vars(json.decoder)["scanstring"]


class _Parser:
    """Recursive-descent parser over ``text``; ``pos`` is the next character to read."""

    __slots__ = ("depth", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def parse(self) -> Any:
        value = self._value()
        self._skip()
        if self.pos != len(self.text):
            self._fail("extra data after the value")
        return value

    def _fail(self, message: str) -> Any:
        raise FastjsonDecodeError(message, self.pos)

    def _skip(self) -> None:
        match = _WS.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos

    def _peek(self) -> str:
        self._skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _value(self) -> Any:
        char = self._peek()
        if char == "{":
            return self._object()
        if char == "[":
            return self._array()
        if char == '"':
            return self._string()
        if char == "-" or char.isdigit():
            return self._number()
        for word, value in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        return self._fail("expected a value")

    def _string(self) -> str:
        try:
            value, self.pos = _scanstring(self.text, self.pos + 1)
        except ValueError as exc:
            raise FastjsonDecodeError(f"bad string: {exc}", self.pos) from exc
        return value

    def _number(self) -> int | float:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            return self._fail("bad number")  # type: ignore[no-any-return]
        self.pos = match.end()
        if match.group(1) or match.group(2):
            return float(match.group())
        return int(match.group())

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._fail("nesting too deep")
        self.pos += 1

    def _object(self) -> dict[Any, Any]:
        self._enter()
        out: dict[Any, Any] = {}
        if self._peek() == "}":
            self.pos += 1
            self.depth -= 1
            return out
        while True:
            key = self._key()
            if self._peek() != ":":
                self._fail("expected ':'")
            self.pos += 1
            out[key] = self._value()
            char = self._peek()
            self.pos += 1
            if char == "}":
                self.depth -= 1
                return out
            if char != ",":
                self.pos -= 1
                self._fail("expected ',' or '}'")

    def _key(self) -> Any:
        char = self._peek()
        if char == '"':
            return self._string()
        if char == "-" or char.isdigit():
            return self._number()
        if char == "{":
            return FrozenKey(self._object())
        match = _IDENT.match(self.text, self.pos)
        if match is None:
            return self._fail("expected a key")
        self.pos = match.end()
        return _LITERALS.get(match.group(), match.group())

    def _array(self) -> list[Any]:
        self._enter()
        out: list[Any] = []
        if self._peek() == "]":
            self.pos += 1
            self.depth -= 1
            return out
        while True:
            out.append(self._value())
            char = self._peek()
            self.pos += 1
            if char == "]":
                self.depth -= 1
                return out
            if char != ",":
                self.pos -= 1
                self._fail("expected ',' or ']'")


# --- dumps ------------------------------------------------------------------------------------


def dumps(obj: Any, *, bare_non_string_keys: bool = True, ensure_ascii: bool = False) -> bytes:
    """Compact JSON bytes of ``obj`` as fastjson writes it; see the module docstring."""
    encoder = _Encoder(bare_non_string_keys=bare_non_string_keys, ensure_ascii=ensure_ascii)
    out: list[str] = []
    encoder.write(obj, out)
    return "".join(out).encode("utf-8")


class _Encoder:
    __slots__ = ("bare", "string")

    def __init__(self, *, bare_non_string_keys: bool, ensure_ascii: bool) -> None:
        self.bare = bare_non_string_keys
        self.string: Callable[[str], str] = (
            json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
        )

    def write(self, obj: Any, out: list[str]) -> None:
        if isinstance(obj, str):
            out.append(self.string(obj))
        elif obj is None or isinstance(obj, bool):
            out.append("null" if obj is None else ("true" if obj else "false"))
        elif isinstance(obj, int):
            out.append(str(int(obj)))
        elif isinstance(obj, float):
            out.append(repr(obj) if math.isfinite(obj) else "null")
        elif isinstance(obj, Mapping):
            self._write_object(obj, out)
        elif isinstance(obj, list | tuple):
            self._write_array(obj, out)
        elif isinstance(obj, set | frozenset):
            self._write_array(_sorted_if_possible(obj), out)
        elif isinstance(obj, FrozenKey):
            self.write(obj.value, out)
        elif isinstance(obj, bytes | bytearray | memoryview):
            out.append(self.string(base64.b64encode(bytes(obj)).decode("ascii")))
        elif isinstance(obj, enum.Enum):
            out.append(self.string(obj.name))
        else:
            raise TypeError(f"cannot write {type(obj).__name__} as JSON")

    def _write_array(self, items: Any, out: list[str]) -> None:
        out.append("[")
        first = True
        for item in items:
            if not first:
                out.append(",")
            first = False
            self.write(item, out)
        out.append("]")

    def _write_object(self, obj: Mapping[Any, Any], out: list[str]) -> None:
        keys = [(self._key_text(key), key) for key in obj]
        keys.sort(key=_key_order)
        out.append("{")
        first = True
        for text, key in keys:
            if not first:
                out.append(",")
            first = False
            out.append(text)
            out.append(":")
            self.write(obj[key], out)
        out.append("}")

    def _key_text(self, key: Any) -> str:
        if isinstance(key, str):
            return self.string(key)
        if isinstance(key, enum.Enum) and not isinstance(key, int):
            return self.string(key.name)
        if isinstance(key, bool | int | float | FrozenKey) or key is None:
            part: list[str] = []
            self.write(key, part)
            text = "".join(part)
            return text if self.bare else self.string(text)
        raise TypeError(f"cannot write a {type(key).__name__} map key")


def _key_order(item: tuple[str, Any]) -> tuple[int, Any]:
    """Strings first (code-point order), then numbers (numerically), then the rest by text."""
    text, key = item
    if isinstance(key, str) or (isinstance(key, enum.Enum) and not isinstance(key, int)):
        return (0, key if isinstance(key, str) else key.name)
    if isinstance(key, int | float) and not isinstance(key, bool):
        return (1, key)
    return (2, text)


def _sorted_if_possible(items: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return list(items)
