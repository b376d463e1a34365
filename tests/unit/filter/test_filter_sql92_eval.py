"""SQL92 selectors against message properties: a table of RocketMQ's (Java) outcomes.

Each row is (expression, properties, expected) where expected is True, False, None (UNKNOWN)
or ERROR (RocketMQ throws while evaluating; the broker then does not deliver the message).
A message is delivered only when the selector evaluates to exactly True.
"""

from __future__ import annotations

import pytest

from rmq_core.filter.sql92 import Sql92EvaluationError, compile_sql92

ERROR = "error"

CASES: list[tuple[str, dict[str, str], object]] = [
    # = and <> with a number: the property is parsed as that number's class
    ("a = 10", {"a": "10"}, True),
    ("a = 10", {"a": "010"}, True),
    ("a = 10", {"a": "+10"}, True),
    ("a = 10", {"a": "11"}, False),
    ("a = 10", {"a": "10.0"}, ERROR),  # Integer.valueOf("10.0") throws
    ("a = 10", {"a": " 10"}, ERROR),  # Integer.valueOf does not trim
    ("a = 10", {"a": "abc"}, ERROR),
    ("a = 10.0", {"a": "10"}, True),
    ("a = 10.0", {"a": " 10 "}, True),  # Double.valueOf trims
    ("a = 5L", {"a": "5"}, True),
    ("a = 1.5E1", {"a": "15"}, True),
    ("a = 2.5", {"a": "2.5f"}, True),
    ("a = -5", {"a": "-5"}, True),
    ("- 5 = a", {"a": "-5"}, True),
    ("a = --5", {"a": "5"}, True),  # '--' with no line break after it: two minus signs
    ("a = 5", {"a": "3000000000"}, ERROR),  # out of Integer range
    ("a = 3000000000", {"a": "3000000000"}, True),  # Long literal, Long.valueOf
    ("a = 9007199254740993", {"a": "9007199254740993"}, True),
    # null handling: asymmetric, exactly as RocketMQ's ComparisonExpression
    ("a = 10", {}, None),
    ("10 = a", {}, False),
    ("a <> 10", {}, None),
    ("10 <> a", {}, True),
    ("a = b", {}, True),
    ("a <> b", {}, False),
    ("a = b", {"a": "x"}, False),
    ("a = b", {"b": "x"}, None),
    # strings
    ("a = 'x'", {"a": "x"}, True),
    ("a = 'x'", {"a": "X"}, False),
    ("a <> 'x'", {"a": "y"}, True),
    ("a = 'it''s'", {"a": "it's"}, True),
    ("a = b", {"a": "x", "b": "x"}, True),
    ("'x' = 'x'", {}, True),
    # ordering
    ("a > 5", {"a": "10"}, True),
    ("a > 5", {"a": "5"}, False),
    ("a >= 5", {"a": "5"}, True),
    ("a < 5", {"a": "-7"}, True),
    ("a <= 5", {"a": "6"}, False),
    ("a > 5", {}, None),
    ("a > 5", {"a": "abc"}, ERROR),
    ("a > 5", {"a": "5.5"}, ERROR),
    ("a > 5.0", {"a": "5.5"}, True),
    ("a > 2.5", {"a": "3"}, True),
    ("a > 2147483648", {"a": "3000000000"}, True),
    ("a >= -2147483648", {"a": "-2147483648"}, True),
    ("a > b", {"a": "10", "b": "9"}, True),  # two strings: both parsed as doubles
    ("a > b", {"a": "10", "b": "9.5e0"}, True),
    ("a < b", {"a": "-0.0", "b": "0.0"}, True),  # Double.compare
    ("a > b", {"a": "x", "b": "9"}, ERROR),
    ("a > b", {"a": "10"}, None),
    ("a > 1.5", {"a": "NaN"}, True),  # NaN orders above everything in Double.compare
    ("a = 1.5", {"a": "NaN"}, False),
    ("a < 1.5", {"a": "NaN"}, False),
    ("a > 1.0", {"a": "0x1p1"}, True),
    ("a > 1.0", {"a": "1e400"}, True),
    ("a > 1.0", {"a": "Infinity"}, True),
    ("a > 1.0", {"a": "inf"}, ERROR),
    ("-a > 5", {"a": "-10"}, None),  # negating a string is NULL
    # BETWEEN
    ("a BETWEEN 1 AND 10", {"a": "10"}, True),
    ("a BETWEEN 1 AND 10", {"a": "1"}, True),
    ("a BETWEEN 1 AND 10", {"a": "0"}, False),
    ("a BETWEEN 1 AND 10", {}, None),
    ("a BETWEEN 1 AND 2.5", {"a": "2"}, True),
    ("a BETWEEN 1 AND 2.5", {"a": "2.2"}, ERROR),  # a >= 1 parses "2.2" as Integer
    ("a BETWEEN 1.0 AND 2.5", {"a": "2.2"}, True),
    ("a NOT BETWEEN 1 AND 10", {"a": "11"}, True),
    ("a NOT BETWEEN 1 AND 10", {"a": "5"}, False),
    ("a NOT BETWEEN 1 AND 10", {}, None),
    ("a between -5 and -1", {"a": "-3"}, True),
    # IN
    ("a IN ('x', 'y')", {"a": "x"}, True),
    ("a IN ('x', 'y')", {"a": "z"}, False),
    ("a IN ('x', 'y')", {}, None),
    ("a NOT IN ('x', 'y')", {"a": "z"}, True),
    ("a NOT IN ('x', 'y')", {"a": "y"}, False),
    ("a NOT IN ('x', 'y')", {}, None),
    ("a IN ('1','2','3','4','5','6')", {"a": "6"}, True),
    ("TAGS IN ('TagA', 'TagB')", {"TAGS": "TagB"}, True),
    # IS [NOT] NULL
    ("a IS NULL", {}, True),
    ("a IS NULL", {"a": ""}, False),
    ("a IS NOT NULL", {"a": ""}, True),
    ("a IS NOT NULL", {}, False),
    ("5 IS NULL", {}, False),
    ("a = 1 IS NULL", {}, True),  # (a = 1) IS NULL: the comparison is UNKNOWN
    ("a = 1 IS NULL", {"a": "2"}, False),
    # CONTAINS / STARTSWITH / ENDSWITH: never NULL
    ("a CONTAINS 'bc'", {"a": "abcd"}, True),
    ("a CONTAINS 'bc'", {"a": "xyz"}, False),
    ("a CONTAINS 'bc'", {}, False),
    ("a NOT CONTAINS 'bc'", {}, False),
    ("a NOT CONTAINS 'bc'", {"a": "xyz"}, True),
    ("NOT (a CONTAINS 'bc')", {}, True),
    ("a CONTAINS ''", {"a": "abc"}, False),
    ("a NOT CONTAINS ''", {"a": "abc"}, False),
    ("a STARTSWITH 'ab'", {"a": "abc"}, True),
    ("a STARTSWITH 'bc'", {"a": "abc"}, False),
    ("a ENDSWITH 'bc'", {"a": "abc"}, True),
    ("a NOT STARTSWITH 'b'", {"a": "abc"}, True),
    ("a NOT ENDSWITH 'c'", {"a": "abc"}, False),
    ("5 CONTAINS '5'", {}, False),  # not a string
    ("'abc' CONTAINS 'b'", {}, True),
    # booleans
    ("TRUE", {}, True),
    ("FALSE", {}, False),
    ("NULL", {}, None),
    ("a = TRUE", {"a": "TrUe"}, True),
    ("a = TRUE", {"a": "yes"}, False),
    ("a = FALSE", {"a": "yes"}, True),  # Boolean.valueOf("yes") is false
    ("TRUE = a", {"a": "true"}, ERROR),  # Java casts the Boolean to String
    ("1 = TRUE", {}, False),
    ("a = 1 = TRUE", {"a": "1"}, True),
    ("(a = 1) = (b = 2)", {}, True),  # NULL = NULL
    ("a", {"a": "true"}, False),  # a property as a condition is never a Boolean
    ("a", {}, None),
    ("NOT a", {"a": "x"}, True),
    ("NOT a", {}, None),
    ("NOT a = 5", {"a": "5"}, False),  # parsed as (NOT a) = 5, as in RocketMQ
    # AND / OR / NOT: three-valued, left to right, short-circuit
    ("a = 1 AND b = 2", {"a": "1", "b": "2"}, True),
    ("a = 1 AND b = 2", {"a": "2", "b": "x"}, False),  # stops before the bad b
    ("a = 1 AND b = 2", {"b": "2"}, None),
    ("a = 1 AND b = 2", {"b": "3"}, False),
    ("a = 1 OR b = 2", {"a": "1", "b": "x"}, True),  # stops before the bad b
    ("a = 1 OR b = 2", {"a": "x", "b": "2"}, ERROR),  # a fails first
    ("a = 1 OR b = 2", {"b": "2"}, True),
    ("a = 1 OR b = 2", {"b": "3"}, None),
    ("a = 1 OR b = 2 OR c = 3", {"c": "3"}, True),
    ("NOT (a = 1)", {}, None),
    ("NOT (a = 1)", {"a": "2"}, True),
    ("NOT NOT (a = 1)", {"a": "1"}, True),
    ("a = 1 OR b = 2 AND c = 3", {"a": "1", "b": "0"}, True),  # AND binds tighter
    ("(a = 1 OR b = 2) AND c = 3", {"a": "1", "b": "0"}, None),
    # comments, case, spacing
    ("a = 1 -- note\n", {"a": "1"}, True),
    ("/* c */ a = 1 /* d */", {"a": "1"}, True),
    ("a between 1 and 3 or b is not null", {"b": "x"}, True),
    ("a>1AND a<3", {"a": "2"}, True),
    # a realistic subscription over user and system properties
    (
        "region = 'eu' AND price >= 10.5 AND TAGS IN ('TagA', 'TagB') AND KEYS IS NOT NULL",
        {"region": "eu", "price": "12", "TAGS": "TagA", "KEYS": "k1"},
        True,
    ),
    (
        "region = 'eu' AND price >= 10.5 AND TAGS IN ('TagA', 'TagB') AND KEYS IS NOT NULL",
        {"region": "eu", "price": "9", "TAGS": "TagA", "KEYS": "k1"},
        False,
    ),
]


@pytest.mark.parametrize(("expression", "properties", "expected"), CASES)
def test_selector_outcome(expression: str, properties: dict[str, str], expected: object) -> None:
    selector = compile_sql92(expression)
    if expected is ERROR:
        with pytest.raises(Sql92EvaluationError):
            selector.evaluate_value(properties)
        assert selector.evaluate(properties) is False
    else:
        assert selector.evaluate_value(properties) is expected
        assert selector.evaluate(properties) is (expected is True)


def test_none_properties_behave_as_empty() -> None:
    assert compile_sql92("a IS NULL").evaluate(None)
    assert not compile_sql92("a = 1").evaluate(None)


def test_evaluation_error_names_the_failing_comparison() -> None:
    with pytest.raises(Sql92EvaluationError) as info:
        compile_sql92("b = 1 AND a > 5").evaluate_value({"b": "1", "a": "x"})
    assert info.value.position == 10


def test_compiled_selectors_are_cached_and_reusable() -> None:
    first = compile_sql92("a > 1")
    assert compile_sql92("a > 1") is first
    assert [first.evaluate({"a": str(n)}) for n in range(3)] == [False, False, True]
    assert repr(first) == "Sql92Expression('a > 1')"


def test_long_flat_conjunction_evaluates_without_recursion() -> None:
    expression = " AND ".join(f"p{i} = '{i}'" for i in range(2000))
    properties = {f"p{i}": str(i) for i in range(2000)}
    selector = compile_sql92(expression)
    assert selector.evaluate(properties)
    properties["p1999"] = "no"
    assert not selector.evaluate(properties)
