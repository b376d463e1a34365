"""Java value semantics used by the SQL92 evaluator."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.filter.java_values import (
    JavaConversionError,
    JavaInt,
    JavaLong,
    compare,
    double_compare,
    java_trim,
    negate,
    parse_boolean,
    parse_double,
    parse_int,
    parse_long,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("+5", 5),
        ("-5", -5),
        ("007", 7),
        ("2147483647", 2**31 - 1),
        ("-2147483648", -(2**31)),
        ("\u0665", 5),
        ("0" * 5000 + "1", 1),
    ],
)
def test_parse_int_accepts_what_integer_value_of_accepts(text: str, value: int) -> None:
    parsed = parse_int(text)
    assert parsed == value and type(parsed) is JavaInt


@pytest.mark.parametrize(
    "text",
    ["", "+", "-", " 5", "5 ", "5.0", "1_000", "0x10", "2147483648", "-2147483649", "9" * 5000],
)
def test_parse_int_rejects_what_integer_value_of_rejects(text: str) -> None:
    with pytest.raises(JavaConversionError):
        parse_int(text)


def test_parse_long_range() -> None:
    assert parse_long("9223372036854775807") == 2**63 - 1
    assert type(parse_long("3000000000")) is JavaLong
    with pytest.raises(JavaConversionError):
        parse_long("9223372036854775808")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        (" 2.5 ", 2.5),
        ("\t-3e2\n", -300.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("2.5f", 2.5),
        ("2.5D", 2.5),
        ("0x1p1", 2.0),
        ("-0x1.8p1d", -3.0),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("1e400", math.inf),
        ("0x1p99999", math.inf),
    ],
)
def test_parse_double_accepts_java_syntax(text: str, value: float) -> None:
    assert parse_double(text) == value


def test_parse_double_nan() -> None:
    assert math.isnan(parse_double("NaN"))


@pytest.mark.parametrize(
    "text",
    ["", "inf", "infinity", "nan", "1_0", "\u0665", "1e", "e5", "0x1.8", "--1", "1.5ff", "abc"],
)
def test_parse_double_rejects_what_python_float_would_take(text: str) -> None:
    with pytest.raises(JavaConversionError):
        parse_double(text)


def test_parse_boolean_is_equals_ignore_case_true() -> None:
    assert parse_boolean("true") and parse_boolean("TRUE") and parse_boolean("tRuE")
    assert not parse_boolean("yes") and not parse_boolean(" true") and not parse_boolean("")


def test_java_trim_strips_control_characters_too() -> None:
    assert java_trim("\x00\x1f a b \x7f") == "a b \x7f"
    assert java_trim("  ") == ""


def test_double_compare_orders_nan_and_signed_zero_like_java() -> None:
    assert double_compare(math.nan, math.nan) == 0
    assert double_compare(math.nan, math.inf) == 1
    assert double_compare(-0.0, 0.0) == -1
    assert double_compare(1.0, 2.0) == -1


def test_compare_widens_numbers() -> None:
    assert compare(JavaInt(5), JavaLong(5)) == 0
    assert compare(JavaLong(5), JavaInt(6)) == -1
    assert compare(JavaInt(3), 2.5) == 1
    assert compare(2.5, JavaLong(3)) == -1
    # long -> double conversion loses precision exactly as in Java
    assert compare(JavaLong(2**53 + 1), float(2**53)) == 0


def test_compare_converts_strings_to_the_other_class() -> None:
    assert compare("10", JavaInt(10)) == 0
    assert compare(JavaLong(10), "9") == 1
    assert compare("2.5", 2.5) == 0
    assert compare("TRUE", True) == 0
    assert compare("yes", False) == 0
    with pytest.raises(JavaConversionError):
        compare("10.0", JavaInt(10))
    with pytest.raises(JavaConversionError):
        compare(True, "true")  # Java's (String) cast of a Boolean


def test_compare_of_classes_that_cannot_meet_is_minus_one() -> None:
    assert compare(JavaInt(1), True) == -1
    assert compare(True, JavaInt(1)) == -1
    assert compare(2.0, False) == -1


def test_compare_strings_by_utf16_code_units() -> None:
    assert compare("\uffff", "\U00010000") == 1  # Python's code-point order says -1
    assert compare("a", "b") == -1
    assert compare("b", "b") == 0


def test_negate_with_java_overflow() -> None:
    assert negate(JavaInt(-(2**31))) == -(2**31)
    assert type(negate(JavaInt(5))) is JavaInt
    assert negate(JavaLong(-(2**63))) == -(2**63)
    assert negate(2.5) == -2.5
    assert negate("5") is None
    assert negate(True) is None
    assert negate(None) is None


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_parse_int_round_trips_every_int32(value: int) -> None:
    assert parse_int(str(value)) == value


@given(st.floats(allow_nan=False))
def test_parse_double_round_trips_repr(value: float) -> None:
    text = repr(value).replace("inf", "Infinity")
    assert parse_double(text) == value
