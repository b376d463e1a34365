"""The SQL92 selector tokenizer."""

from __future__ import annotations

import pytest

from rmq_core.errors import FilterError
from rmq_core.filter.sql92.lexer import TokenKind, tokenize

K = TokenKind


def kinds_and_texts(expression: str) -> list[tuple[TokenKind, str]]:
    return [(token.kind, token.text) for token in tokenize(expression)[:-1]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a=1", [(K.ID, "a"), (K.EQ, "="), (K.DECIMAL, "1")]),
        ("5Lx", [(K.DECIMAL, "5L"), (K.ID, "x")]),
        ("1.5e", [(K.FLOAT, "1.5"), (K.ID, "e")]),
        (
            "1e5 1E+5 1.e-2 .5 5.",
            [
                (K.FLOAT, "1e5"),
                (K.FLOAT, "1E+5"),
                (K.FLOAT, "1.e-2"),
                (K.FLOAT, ".5"),
                (K.FLOAT, "5."),
            ],
        ),
        ("05", [(K.DECIMAL, "0"), (K.DECIMAL, "5")]),
        ("ANDx and AnD", [(K.ID, "ANDx"), (K.AND, "and"), (K.AND, "AnD")]),
        (
            "startsWith EndsWith contains",
            [(K.STARTSWITH, "startsWith"), (K.ENDSWITH, "EndsWith"), (K.CONTAINS, "contains")],
        ),
        ("$a _b c1", [(K.ID, "$a"), (K.ID, "_b"), (K.ID, "c1")]),
        (
            "<>= <= >= < >",
            [(K.NE, "<>"), (K.EQ, "="), (K.LE, "<="), (K.GE, ">="), (K.LT, "<"), (K.GT, ">")],
        ),
        (
            "(a,b)+-",
            [
                (K.LPAREN, "("),
                (K.ID, "a"),
                (K.COMMA, ","),
                (K.ID, "b"),
                (K.RPAREN, ")"),
                (K.PLUS, "+"),
                (K.MINUS, "-"),
            ],
        ),
        ("a -- comment\r\nb", [(K.ID, "a"), (K.ID, "b")]),
        ("a /* x * / ** */ b", [(K.ID, "a"), (K.ID, "b")]),
        ("a--b", [(K.ID, "a"), (K.MINUS, "-"), (K.MINUS, "-"), (K.ID, "b")]),  # no line break
        ("\t\n\r\fa\f", [(K.ID, "a")]),
    ],
)
def test_tokens(expression: str, expected: list[tuple[TokenKind, str]]) -> None:
    assert kinds_and_texts(expression) == expected


def test_string_literal_value_and_escaped_quote() -> None:
    tokens = tokenize("'it''s' '' 'a\nb'")
    assert [t.value for t in tokens[:-1]] == ["it's", "", "a\nb"]
    assert [t.position for t in tokens] == [0, 8, 11, 16]


def test_positions_and_final_eof() -> None:
    tokens = tokenize("  a >= 10 ")
    assert [(t.kind, t.position) for t in tokens] == [
        (K.ID, 2),
        (K.GE, 4),
        (K.DECIMAL, 7),
        (K.EOF, 10),
    ]


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("a = 'open", 4),
        ("a /* open", 2),
        ("a ! b", 2),
        ("a = .", 4),
        ("a\u00a0", 1),
        ("é", 0),
        ("a = 1 / 2", 6),
        ("a\vb", 1),
    ],
)
def test_lexical_errors_carry_the_position(expression: str, position: int) -> None:
    with pytest.raises(FilterError) as info:
        tokenize(expression)
    assert info.value.position == position
    assert f"at position {position}" in str(info.value)
