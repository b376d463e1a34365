"""SQL92 selector parsing: RocketMQ's syntax and construction-time checks, error positions,
and robustness against arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmq_core.errors import FilterError
from rmq_core.filter.sql92 import MAX_DEPTH, MAX_NESTING, Sql92EvaluationError, compile_sql92

VALID = [
    "a = 1",
    "a > 1 AND b < 2 OR NOT c = 'x'",
    "a BETWEEN 1 AND 1",
    "a BETWEEN b AND 1",  # bounds not both literals: no order check
    "a BETWEEN 5 AND -1",  # a negated literal is not a literal for the check, as in Java
    "a IN ('x')",
    "(a) IN ('x')",
    "a NOT IN ('x', 'y')",
    "a IS NULL OR b IS NOT NULL",
    "a = 9223372036854775807",
    "a = 4.9e-324",
    "TRUE = TRUE",
    "'x' = TRUE",  # only a boolean literal on the LEFT is checked
    "((((a = 1))))",
    "+a = +1",
    "a",
    "NOT a",
    "TRUE",
    "NULL",
    "a CONTAINS 'x' AND b NOT STARTSWITH 'y' OR c ENDSWITH 'z'",
    "a = 1 -- trailing comment\n",
    "$x_1 = 'ok'",
]


@pytest.mark.parametrize("expression", VALID)
def test_valid_selectors_compile(expression: str) -> None:
    assert compile_sql92(expression).expression == expression


ERRORS = [
    ("", 0),
    ("   ", 3),
    ("a >", 3),
    ("a > 'x'", 4),  # strings cannot be ordered
    ("'x' < a", 0),
    ("a > TRUE", 4),
    ("a > NULL", 4),
    ("a > (b = 1)", 5),  # a condition cannot be ordered
    ("a > 1 > 2", 0),
    ("NOT a > 5", 0),  # (NOT a) > 5
    ("a > -9223372036854775808", 5),  # the literal is parsed before negation, as in Java
    ("a = NULL", 4),
    ("NULL = a", 0),
    ("a <> NULL", 5),
    ("TRUE = 'x'", 7),
    ("FALSE = 1", 8),
    ("a IN (1, 2)", 6),
    ("a IN ()", 6),
    ("a IN ('x',)", 10),
    ("a IN 'x'", 5),
    ("'x' IN ('x')", 0),
    ("5 IN ('5')", 0),
    ("5", 0),
    ("'abc'", 0),
    ("-a", 0),
    ("NOT 5", 4),
    ("a = 1 AND 5", 10),
    ("5 OR a = 1", 0),
    ("a = 1 b = 2", 6),  # RocketMQ ignores trailing tokens; we refuse them
    ("a = 1)", 5),
    ("(a = 1", 6),
    ("a = 1 AND", 9),
    ("a BETWEEN 5 AND 1", 10),
    ("a BETWEEN NULL AND 1", 10),
    ("a BETWEEN 1 AND NULL", 10),
    ("a BETWEEN 'a' AND 'b'", 10),
    ("a BETWEEN 1 OR 2", 12),
    ("a NOT BETWEEN 'a' AND 1", 14),
    ("a = 0.0", 4),  # below Double.MIN_VALUE, as RocketMQ rejects it
    ("a = 1e-400", 4),
    ("a = 1e400", 4),
    ("a = 9223372036854775808", 4),
    ("a = " + "9" * 5000, 4),
    ("a IS 5", 5),
    ("a IS NOT 5", 9),
    ("a NOT 5", 2),
    ("a == 1", 3),
    ("a != 1", 2),
    ("a = 05", 5),
    ("a CONTAINS b", 11),
    ("a NOT CONTAINS 5", 15),
    ("a = 'open", 4),
    ("a = 1 /* open", 6),
    ("a = 1 --no line break", 6),
    ("IN = 1", 0),
]


@pytest.mark.parametrize(("expression", "position"), ERRORS)
def test_invalid_selectors_raise_filter_error_at_the_bad_token(
    expression: str, position: int
) -> None:
    with pytest.raises(FilterError) as info:
        compile_sql92(expression)
    assert not isinstance(info.value, Sql92EvaluationError)
    assert info.value.position == position, str(info.value)
    assert info.value.expression == expression


def test_nesting_is_bounded() -> None:
    compile_sql92("(" * MAX_NESTING + "a = 1" + ")" * MAX_NESTING)
    with pytest.raises(FilterError, match="nested"):
        compile_sql92("(" * (MAX_NESTING + 1) + "a = 1" + ")" * (MAX_NESTING + 1))
    with pytest.raises(FilterError, match="nested"):
        compile_sql92("NOT " * 100_000 + "a")
    with pytest.raises(FilterError, match="nested"):
        compile_sql92("(" * 100_000)


def test_tree_depth_is_bounded() -> None:
    chain = "a = 1" + " = TRUE" * (MAX_DEPTH + 1)
    with pytest.raises(FilterError, match="deeper"):
        compile_sql92(chain)
    assert compile_sql92("a = 1" + " = TRUE" * 10).evaluate({"a": "1"})


def test_non_string_expression_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        compile_sql92(5)  # type: ignore[arg-type]


_FRAGMENTS = [
    "a",
    "b",
    "TAGS",
    "=",
    "<>",
    ">",
    ">=",
    "<",
    "<=",
    "(",
    ")",
    ",",
    "+",
    "-",
    "NOT",
    "AND",
    "OR",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "CONTAINS",
    "STARTSWITH",
    "ENDSWITH",
    "'x'",
    "'it''s'",
    "'5'",
    "1",
    "0",
    "2.5",
    "1e3",
    "5L",
    "2147483648",
    "--c\n",
    "/*c*/",
    "NaN",
]
_PROPERTIES = st.dictionaries(
    st.sampled_from(["a", "b", "TAGS"]),
    st.sampled_from(["", "x", "5", "-5", "2.5", "NaN", "true", "it's", "1e3", "2147483648"]),
)


@settings(max_examples=400)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_filter_error(text: str) -> None:
    try:
        compile_sql92(text)
    except FilterError as error:
        assert 0 <= error.position <= len(text)


@settings(max_examples=600)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=14), _PROPERTIES)
def test_token_soup_parses_or_fails_cleanly_and_evaluates_without_crashing(
    fragments: list[str], properties: dict[str, str]
) -> None:
    text = " ".join(fragments)
    try:
        selector = compile_sql92(text)
    except FilterError as error:
        assert 0 <= error.position <= len(text)
        return
    assert selector.evaluate(properties) in (True, False)
    try:
        assert selector.evaluate_value(properties) in (True, False, None)
    except Sql92EvaluationError:
        assert selector.evaluate(properties) is False
