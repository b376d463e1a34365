"""Java value semantics the SQL92 evaluator needs: typed numbers, parsing and comparison.

RocketMQ evaluates selectors over Java objects, and the outcome depends on their classes:
``Integer`` and ``Long`` parse different ranges, ``Double`` orders NaN above everything and
``-0.0`` below ``0.0``. A runtime value here is one of

=============  ===================================================
Python         Java
=============  ===================================================
``None``       ``null`` (missing property, ``NULL``, unknown)
``bool``       ``Boolean``
``str``        ``String`` (every message property)
``JavaInt``    ``Integer`` (an int subclass, always in int32 range)
``JavaLong``   ``Long`` (an int subclass, always in int64 range)
``float``      ``Double``
=============  ===================================================

:func:`compare` is ``ComparisonExpression.__compare`` with string conversion on (the only mode
RocketMQ's parser uses): a string meeting a number is parsed as that number's class, a string
meeting a boolean becomes ``Boolean.valueOf``; any other mix of classes compares as -1.
Parse failures raise :class:`JavaConversionError`, which the evaluator turns into "no match".
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
from typing import TypeAlias

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "LONG_MAX",
    "LONG_MIN",
    "JavaConversionError",
    "JavaInt",
    "JavaLong",
    "Value",
    "compare",
    "double_compare",
    "is_number",
    "java_trim",
    "negate",
    "parse_boolean",
    "parse_double",
    "parse_int",
    "parse_long",
]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

_DOUBLE_BITS = struct.Struct(">q")
_INTEGER_TEXT = re.compile(r"([+-]?)(\d+)")  # \d is any Unicode Nd digit, like Character.digit
_DOUBLE_TEXT = re.compile(
    r"""[+-]?(?:
        NaN | Infinity
      | (?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?
      | 0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+[fFdD]?
    )""",
    re.VERBOSE | re.ASCII,
)
_MAX_SIGNIFICANT_DIGITS = 19  # no int64 has more


class JavaConversionError(ValueError):
    """A value could not be converted as Java would (NumberFormatException, ClassCastException)."""


class JavaInt(int):
    """A Java ``Integer``: an int known to lie in the int32 range."""

    __slots__ = ()


class JavaLong(int):
    """A Java ``Long``: an int known to lie in the int64 range."""

    __slots__ = ()


Value: TypeAlias = bool | str | JavaInt | JavaLong | float | None


def is_number(value: object) -> bool:
    """True for the numeric classes (``Integer``, ``Long``, ``Double``), never for ``bool``."""
    return type(value) in (JavaInt, JavaLong, float)


def _parse_integer(text: str, low: int, high: int, java_name: str) -> int:
    match = _INTEGER_TEXT.fullmatch(text)
    if match is None:
        raise JavaConversionError(f"For input string: {text!r} ({java_name})")
    sign, digits = match.groups()
    if not digits.isascii():
        digits = "".join(str(unicodedata.decimal(ch)) for ch in digits)
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_SIGNIFICANT_DIGITS:
        raise JavaConversionError(f"For input string: {text!r} is out of {java_name} range")
    value = -int(digits) if sign == "-" else int(digits)
    if not low <= value <= high:
        raise JavaConversionError(f"For input string: {text!r} is out of {java_name} range")
    return value


def parse_int(text: str) -> JavaInt:
    """Java ``Integer.valueOf(String)``: optional sign, decimal digits, int32 range, no spaces."""
    return JavaInt(_parse_integer(text, INT_MIN, INT_MAX, "Integer"))


def parse_long(text: str) -> JavaLong:
    """Java ``Long.valueOf(String)``: as :func:`parse_int` with the int64 range."""
    return JavaLong(_parse_integer(text, LONG_MIN, LONG_MAX, "Long"))


def java_trim(text: str) -> str:
    """Java ``String.trim``: strip every character ``<= U+0020`` from both ends."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def parse_double(text: str) -> float:
    """Java ``Double.valueOf(String)``.

    Accepts surrounding characters ``<= U+0020``, a sign, ``NaN``, ``Infinity``, decimal and
    hexadecimal floating literals with an optional ``f``/``F``/``d``/``D`` suffix; ASCII digits
    only. Rejects what Python's ``float`` would also take (``inf``, ``1_0``, Unicode digits).
    """
    trimmed = java_trim(text)
    if _DOUBLE_TEXT.fullmatch(trimmed) is None:
        raise JavaConversionError(f"For input string: {text!r} (Double)")
    body = trimmed.rstrip("fFdD") if not trimmed.endswith(("NaN", "Infinity")) else trimmed
    unsigned = body.lstrip("+-")
    negative = body.startswith("-")
    if unsigned == "NaN":
        return math.nan
    if unsigned == "Infinity":
        return -math.inf if negative else math.inf
    if unsigned[:2] in ("0x", "0X"):
        try:
            return float.fromhex(body)
        except OverflowError:
            return -math.inf if negative else math.inf
    return float(body)


def parse_boolean(text: str) -> bool:
    """Java ``Boolean.valueOf(String)``: true exactly for ``"true"`` in any letter case."""
    return text.lower() == "true"


def _double_bits(value: float) -> int:
    if math.isnan(value):
        return 0x7FF8000000000000  # doubleToLongBits collapses every NaN to this one
    return int(_DOUBLE_BITS.unpack(struct.pack(">d", value))[0])


def double_compare(left: float, right: float) -> int:
    """Java ``Double.compare``: NaN equals NaN and is above +Infinity; ``-0.0 < 0.0``."""
    if left < right:
        return -1
    if left > right:
        return 1
    left_bits, right_bits = _double_bits(left), _double_bits(right)
    return (left_bits > right_bits) - (left_bits < right_bits)


def _compare_same_class(left: Value, right: Value) -> int:
    if type(left) is float:
        assert type(right) is float
        return double_compare(left, right)
    if type(left) is str:
        assert type(right) is str
        # String.compareTo orders by UTF-16 code unit; big-endian bytes keep that order.
        left_units = left.encode("utf-16-be", "surrogatepass")
        right_units = right.encode("utf-16-be", "surrogatepass")
        return (left_units > right_units) - (left_units < right_units)
    assert isinstance(left, int) and isinstance(right, int)
    return (left > right) - (left < right)


def _convert_from_string(text: str, target: type) -> Value:
    if target is bool:
        return parse_boolean(text)
    if target is JavaInt:
        return parse_int(text)
    if target is JavaLong:
        return parse_long(text)
    return parse_double(text)


def compare(left: Value, right: Value) -> int:
    """Java ``ComparisonExpression.__compare(left, right, true)``: the sign of left - right.

    Both values must be non-null. Widening follows Java (Integer→Long→Double); a string meets
    a number or boolean by being parsed as that class. Classes that cannot meet compare as
    -1 (so ``=`` is false and ``<`` is true), as in RocketMQ. Raises
    :class:`JavaConversionError` where Java throws.
    """
    left_class, right_class = type(left), type(right)
    if left_class is right_class:
        return _compare_same_class(left, right)
    if left_class is bool:
        if right_class is str:
            raise JavaConversionError("java.lang.Boolean cannot be cast to java.lang.String")
        return -1
    if left_class is str:
        if right_class in (bool, JavaInt, JavaLong, float):
            assert isinstance(left, str)
            return _compare_same_class(_convert_from_string(left, right_class), right)
        return -1
    if right_class is str:
        assert isinstance(right, str)
        return _compare_same_class(left, _convert_from_string(right, left_class))
    if right_class is bool:
        return -1
    # Two different numeric classes: Integer/Long widen to Long, anything with Double to Double.
    assert isinstance(left, int | float) and isinstance(right, int | float)
    if left_class is float or right_class is float:
        return double_compare(float(left), float(right))
    return (left > right) - (left < right)


def negate(value: Value) -> Value:
    """Java ``UnaryExpression.negate``: numbers negate with Java overflow, anything else is null."""
    if type(value) is JavaInt:
        return JavaInt(INT_MIN) if value == INT_MIN else JavaInt(-value)
    if type(value) is JavaLong:
        return JavaLong(LONG_MIN) if value == LONG_MIN else JavaLong(-value)
    if type(value) is float:
        return -value
    return None
