"""Tokenizer for RocketMQ's SQL92 selector language (``SelectorParser.jj``, reference §6.10).

Lexical rules, as the JavaCC grammar defines them:

- whitespace is exactly space, tab, LF, CR and form feed; any other character outside a
  string literal or comment is an error;
- ``-- ...`` is a comment up to a line break; RocketMQ's token needs that line break, so a
  ``--`` with no line break after it is two minus signs;
- ``/* ... */`` is a comment; an unterminated one is an error;
- keywords (``NOT AND OR BETWEEN IN TRUE FALSE NULL IS CONTAINS STARTSWITH ENDSWITH``) are
  case-insensitive and win over identifiers of the same length; identifiers are
  ``[A-Za-z_$][A-Za-z0-9_$]*``;
- ``'...'`` is a string, ``''`` inside it one quote;
- decimal integers are ``0`` or ``[1-9][0-9]*`` with an optional ``l``/``L``; floats are
  ``1.``, ``1.5``, ``.5``, ``1e5``, ``1.5E-3`` (longest match wins, so ``05`` is two tokens);
- operators ``= <> > >= < <= ( ) , + -``.

Every token records its 0-based offset in the expression (in code points);
:func:`tokenize` raises :class:`~rmq_core.errors.FilterError` at the offending offset.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from rmq_core.errors import FilterError

__all__ = ["KEYWORDS", "Token", "TokenKind", "tokenize"]


class TokenKind(enum.Enum):
    """Kinds of token; keyword kinds are named after their (upper-case) spelling."""

    NOT = "NOT"
    AND = "AND"
    OR = "OR"
    BETWEEN = "BETWEEN"
    IN = "IN"
    TRUE = "TRUE"
    FALSE = "FALSE"
    NULL = "NULL"
    IS = "IS"
    CONTAINS = "CONTAINS"
    STARTSWITH = "STARTSWITH"
    ENDSWITH = "ENDSWITH"
    DECIMAL = "decimal literal"
    FLOAT = "floating-point literal"
    STRING = "string literal"
    ID = "identifier"
    EQ = "'='"
    NE = "'<>'"
    GT = "'>'"
    GE = "'>='"
    LT = "'<'"
    LE = "'<='"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    PLUS = "'+'"
    MINUS = "'-'"
    EOF = "end of expression"


KEYWORDS: dict[str, TokenKind] = {
    kind.value: kind
    for kind in TokenKind
    if kind.value.isalpha() and kind.value.isupper() and kind.value.isascii()
}

_OPERATORS: tuple[tuple[str, TokenKind], ...] = (
    ("<>", TokenKind.NE),
    ("<=", TokenKind.LE),
    (">=", TokenKind.GE),
    ("=", TokenKind.EQ),
    ("<", TokenKind.LT),
    (">", TokenKind.GT),
    ("(", TokenKind.LPAREN),
    (")", TokenKind.RPAREN),
    (",", TokenKind.COMMA),
    ("+", TokenKind.PLUS),
    ("-", TokenKind.MINUS),
)
_WHITESPACE = frozenset(" \t\n\r\f")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*", re.ASCII)
_DECIMAL = re.compile(r"0|[1-9][0-9]*[lL]?", re.ASCII)
_FLOAT = re.compile(
    r"[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+",
    re.ASCII,
)
_LINE_BREAK = re.compile(r"[\n\r]")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text`` as written, ``value`` decoded (strings unquoted), ``position``."""

    kind: TokenKind
    text: str
    position: int
    value: str = ""


def _error(expression: str, message: str, position: int) -> FilterError:
    return FilterError(message, expression=expression, position=position)


def _skip_comment(expression: str, pos: int) -> int | None:
    """Return the offset after a comment starting at ``pos``, or None if there is none."""
    if expression.startswith("--", pos):
        line_break = _LINE_BREAK.search(expression, pos + 2)
        if line_break is None:
            return None  # RocketMQ's comment token needs a line break: these are two '-'
        end = line_break.end()
        if expression.startswith("\r\n", line_break.start()):
            end += 1
        return end
    if expression.startswith("/*", pos):
        close = expression.find("*/", pos + 2)
        if close < 0:
            raise _error(expression, "unterminated comment", pos)
        return close + 2
    return None


def _string_literal(expression: str, pos: int) -> Token:
    chars: list[str] = []
    index = pos + 1
    while True:
        quote = expression.find("'", index)
        if quote < 0:
            raise _error(expression, "unterminated string literal", pos)
        chars.append(expression[index:quote])
        if expression.startswith("''", quote):
            chars.append("'")
            index = quote + 2
            continue
        end = quote + 1
        return Token(TokenKind.STRING, expression[pos:end], pos, "".join(chars))


def _number_literal(expression: str, pos: int) -> Token | None:
    decimal = _DECIMAL.match(expression, pos)
    floating = _FLOAT.match(expression, pos)
    decimal_end = decimal.end() if decimal else -1
    float_end = floating.end() if floating else -1
    if float_end > decimal_end:
        return Token(TokenKind.FLOAT, expression[pos:float_end], pos)
    if decimal_end > 0:
        return Token(TokenKind.DECIMAL, expression[pos:decimal_end], pos)
    return None


def _word(expression: str, pos: int) -> Token | None:
    match = _IDENTIFIER.match(expression, pos)
    if match is None:
        return None
    text = match.group()
    kind = KEYWORDS.get(text.upper(), TokenKind.ID)
    return Token(kind, text, pos, text)


def _operator(expression: str, pos: int) -> Token | None:
    for text, kind in _OPERATORS:
        if expression.startswith(text, pos):
            return Token(kind, text, pos)
    return None


def _next_token(expression: str, pos: int) -> Token:
    char = expression[pos]
    token: Token | None
    if char == "'":
        token = _string_literal(expression, pos)
    elif char.isascii() and (char.isdigit() or char == "."):
        token = _number_literal(expression, pos)
    elif char.isascii() and (char.isalpha() or char in "_$"):
        token = _word(expression, pos)
    else:
        token = _operator(expression, pos)
    if token is None:
        raise _error(expression, f"unexpected character {char!r}", pos)
    return token


def tokenize(expression: str) -> list[Token]:
    """Split ``expression`` into tokens, ending with one ``EOF`` token at ``len(expression)``."""
    tokens: list[Token] = []
    pos, length = 0, len(expression)
    while pos < length:
        if expression[pos] in _WHITESPACE:
            pos += 1
            continue
        after_comment = _skip_comment(expression, pos)
        if after_comment is not None:
            pos = after_comment
            continue
        token = _next_token(expression, pos)
        tokens.append(token)
        pos += len(token.text)
    tokens.append(Token(TokenKind.EOF, "", length))
    return tokens
