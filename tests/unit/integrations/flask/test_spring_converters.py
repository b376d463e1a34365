"""Message converters: round trips for bytes/str/JSON/dataclasses, type-hint support, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from rmq_integrations.spring import (
    CompositeMessageConverter,
    JsonMessageConverter,
    MessageConversionError,
    default_converter,
)


@dataclass
class Line:
    sku: str
    quantity: int = 1


@dataclass
class Order:
    id: int
    customer: str
    lines: list[Line] = field(default_factory=list)
    note: str | None = None
    total: float = 0.0


@dataclass
class Node:
    name: str
    children: list[Node] = field(default_factory=list)


class Unsupported:
    pass


@dataclass
class HoldsUnsupported:
    thing: Unsupported


CONVERTER = default_converter()


@pytest.mark.parametrize(
    ("payload", "target"),
    [
        (b"\x00\xffraw", bytes),
        ("héllo wörld", str),
        ({"a": 1, "b": [1, 2.5, None, "x"]}, dict),
        ({"a": 1, "b": 2}, dict[str, int]),
        ([1, 2, 3], list[int]),
        ((1, "a"), tuple[int, str]),
        ((1, 2, 3), tuple[int, ...]),
        (42, int),
        (2.5, float),
        (True, bool),
        (Order(7, "ann", [Line("x", 2), Line("y")], "gift", 9.5), Order),
        (Order(8, "bob"), Order),
        (Node("root", [Node("a", [Node("b")])]), Node),
    ],
)
def test_round_trip(payload: Any, target: Any) -> None:
    body = CONVERTER.serialize(payload)
    assert isinstance(body, bytes)
    assert CONVERTER.can_deserialize(target)
    assert CONVERTER.deserialize(body, target) == payload


def test_json_is_compact_utf8() -> None:
    assert CONVERTER.serialize({"k": "é"}) == '{"k":"é"}'.encode()
    assert CONVERTER.serialize(Line("s")) == b'{"sku":"s","quantity":1}'


def test_bytearray_and_memoryview_are_bytes() -> None:
    assert CONVERTER.serialize(bytearray(b"ab")) == b"ab"
    assert CONVERTER.serialize(memoryview(b"cd")) == b"cd"


def test_int_is_a_valid_float_but_bool_is_not_an_int() -> None:
    assert CONVERTER.deserialize(b"3", float) == 3.0
    with pytest.raises(MessageConversionError, match="expected an integer"):
        CONVERTER.deserialize(b"true", int)


@pytest.mark.parametrize(
    "target",
    [Unsupported, HoldsUnsupported, set, dict[int, str], list[Unsupported], complex],
)
def test_unsupported_targets_are_refused(target: Any) -> None:
    assert not CONVERTER.can_deserialize(target)
    with pytest.raises(MessageConversionError, match="no message converter"):
        CONVERTER.deserialize(b"{}", target)


def test_unserializable_payloads() -> None:
    with pytest.raises(MessageConversionError, match="serialize a Unsupported"):
        CONVERTER.serialize(Unsupported())
    with pytest.raises(MessageConversionError, match="JSON"):
        CONVERTER.serialize({"x": Unsupported()})
    assert not CONVERTER.can_serialize(None)


@pytest.mark.parametrize(
    ("body", "target", "message"),
    [
        (b"{not json", dict, "not valid JSON"),
        (b"\xff\xfe", str, "not valid utf-8"),
        (b"\xff\xfe", dict, "not valid JSON"),
        (b"[1,2]", dict, r"\$ is list, expected an object"),
        (b'{"id": 1}', Order, "lacks the required field 'customer'"),
        (b'{"id": "1", "customer": "c"}', Order, r"\$.id is str, expected an integer"),
        (b'{"id": 1, "customer": "c", "lines": [{"sku": 5}]}', Order, r"lines\[0\].sku"),
        (b'{"id": 1, "customer": "c", "note": 3}', Order, r"\$.note"),
        (b"[1, 2, 3]", tuple[int, int], "has 3 items, expected 2"),
        (b'{"a": "x"}', dict[str, int], r"\$.a is str"),
    ],
)
def test_bad_bodies_raise_conversion_errors(body: bytes, target: Any, message: str) -> None:
    with pytest.raises(MessageConversionError, match=message):
        CONVERTER.deserialize(body, target)


def test_unknown_json_keys_are_ignored() -> None:
    assert CONVERTER.deserialize(b'{"sku": "a", "extra": 1}', Line) == Line("a")


class Upper:
    """A custom converter for one class; goes before the built-in ones."""

    def can_serialize(self, payload: object) -> bool:
        return isinstance(payload, Unsupported | str)

    def serialize(self, payload: object) -> bytes:
        return str(payload).upper().encode() if isinstance(payload, str) else b"UNSUPPORTED"

    def can_deserialize(self, target: Any) -> bool:
        return target is Unsupported

    def deserialize(self, body: bytes, target: Any) -> object:
        if body != b"UNSUPPORTED":
            raise MessageConversionError("not an Unsupported")
        return Unsupported()


def test_custom_converter_goes_first() -> None:
    converter = default_converter([Upper()])
    assert converter.serialize("abc") == b"ABC"
    assert converter.serialize(b"abc") == b"abc"
    assert converter.can_deserialize(Unsupported)
    assert isinstance(
        converter.deserialize(converter.serialize(Unsupported()), Unsupported), Unsupported
    )
    assert converter.deserialize(b"abc", str) == "abc"


def test_composite_needs_a_converter() -> None:
    with pytest.raises(ValueError):
        CompositeMessageConverter([])
    only_json = CompositeMessageConverter([JsonMessageConverter()])
    assert not only_json.can_deserialize(bytes)
