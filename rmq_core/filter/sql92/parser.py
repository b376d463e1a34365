"""Recursive-descent parser for RocketMQ's SQL92 selectors (grammar: reference §6.10).

::

    selector    := or EOF
    or          := and ( OR and )*
    and         := equality ( AND equality )*
    equality    := comparison ( ('=' | '<>') comparison | IS NULL | IS NOT NULL )*
    comparison  := unary ( ('>'|'>='|'<'|'<=') unary
                         | [NOT] BETWEEN unary AND unary
                         | [NOT] IN '(' string (',' string)* ')'
                         | [NOT] (CONTAINS | STARTSWITH | ENDSWITH) string )*
    unary       := '+' unary | '-' unary | NOT unary | primary
    primary     := literal | identifier | '(' or ')'

Besides syntax, it applies RocketMQ's construction-time checks, each a
:class:`~rmq_core.errors.FilterError` at the offending token:

- conditions (operands of AND/OR/NOT and the whole selector) must be boolean expressions or
  bare properties;
- ``NULL`` cannot be an operand of ``=``/``<>``; ``TRUE``/``FALSE`` cannot be compared with a
  non-boolean literal;
- operands of ``> >= < <=`` and ``BETWEEN`` cannot be string/boolean/null literals or
  conditions; ``BETWEEN`` literal bounds must not be null or in descending order;
- ``IN`` needs a property on its left;
- integer literals must fit a Java long (int when they fit), float literals must be finite
  and not below ``Double.MIN_VALUE`` (so ``0.0`` is rejected, as in RocketMQ).

Deviation, on purpose: RocketMQ's parser silently ignores tokens after a complete selector
(``a = 1 b = 2`` means ``a = 1``); here they are an error. Nesting is bounded
(:data:`MAX_NESTING`, :data:`MAX_DEPTH`) so hostile input cannot exhaust the stack.
"""

from __future__ import annotations

import math
import sys

from rmq_core.errors import FilterError
from rmq_core.filter.java_values import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    JavaConversionError,
    JavaInt,
    JavaLong,
    Value,
    compare,
    is_number,
)
from rmq_core.filter.sql92.lexer import Token, TokenKind, tokenize
from rmq_core.filter.sql92.nodes import (
    And,
    BooleanCast,
    Compare,
    Constant,
    Equal,
    In,
    Negate,
    Node,
    Not,
    Or,
    Property,
    StringMatch,
)

__all__ = ["MAX_DEPTH", "MAX_NESTING", "parse"]

MAX_NESTING = 64
"""Most parentheses and prefix operators (``NOT``, ``-``, ``+``) open at once."""

MAX_DEPTH = 128
"""Greatest height of the expression tree (chained comparisons add height)."""

_ORDERING_KINDS = {
    TokenKind.GT: ">",
    TokenKind.GE: ">=",
    TokenKind.LT: "<",
    TokenKind.LE: "<=",
}
_STRING_MATCH_KINDS = (TokenKind.CONTAINS, TokenKind.STARTSWITH, TokenKind.ENDSWITH)
_NEGATABLE = (TokenKind.BETWEEN, TokenKind.IN, *_STRING_MATCH_KINDS)


class _Parser:
    """One parse of one expression; not reusable."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.index = 0
        self.nesting = 0

    # -- token helpers -------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.EOF:
            self.index += 1
        return token

    def expect(self, kind: TokenKind) -> Token:
        token = self.peek()
        if token.kind is not kind:
            raise self.unexpected(token, f"expected {kind.value}")
        return self.advance()

    def error(self, message: str, position: int) -> FilterError:
        return FilterError(message, expression=self.expression, position=position)

    def unexpected(self, token: Token, hint: str = "") -> FilterError:
        found = "end of expression" if token.kind is TokenKind.EOF else repr(token.text)
        message = f"unexpected {found}" + (f", {hint}" if hint else "")
        return self.error(message, token.position)

    def checked(self, node: Node) -> Node:
        if node.depth > MAX_DEPTH:
            raise self.error(f"expression deeper than {MAX_DEPTH} levels", node.position)
        return node

    # -- semantic checks (RocketMQ's construction-time rules) ----------------------------

    def as_condition(self, node: Node) -> Node:
        if node.is_boolean:
            return node
        if isinstance(node, Property):
            return BooleanCast(node.position, node)
        raise self.error("expression will not result in a boolean value", node.position)

    def check_orderable(self, node: Node) -> None:
        if isinstance(node, Constant) and not is_number(node.value):
            raise self.error("only numbers can be compared with > >= < <=", node.position)
        if node.is_boolean:
            raise self.error("a condition cannot be compared with > >= < <=", node.position)

    def check_equatable(self, left: Node, right: Node) -> None:
        for side in (left, right):
            if isinstance(side, Constant) and side.value is None:
                raise self.error("NULL cannot be compared, use IS NULL", side.position)
        both_literals = isinstance(left, Constant) and isinstance(right, Constant)
        if both_literals and left.is_boolean and not right.is_boolean:
            raise self.error("a boolean cannot be compared with a non-boolean", right.position)

    def check_between_bounds(self, low: Node, high: Node) -> None:
        if not (isinstance(low, Constant) and isinstance(high, Constant)):
            return
        if low.value is None or high.value is None:
            raise self.error("BETWEEN bounds cannot be NULL", low.position)
        try:
            descending = compare(high.value, low.value) < 0
        except JavaConversionError as error:
            raise self.error(f"BETWEEN bounds cannot be compared: {error}", low.position) from None
        if descending:
            raise self.error("BETWEEN lower bound is above the upper bound", low.position)

    # -- node builders -------------------------------------------------------------------

    def ordering(self, op: str, left: Node, right: Node) -> Node:
        self.check_orderable(left)
        self.check_orderable(right)
        return self.checked(Compare(left.position, op, left, right))

    def equal(self, left: Node, right: Node) -> Node:
        self.check_equatable(left, right)
        return self.checked(Equal(left.position, left, right))

    def between(self, value: Node, low: Node, high: Node, negated: bool) -> Node:
        if negated:
            below, above = self.ordering("<", value, low), self.ordering(">", value, high)
            return self.checked(Or(value.position, (below, above)))
        self.check_between_bounds(low, high)
        at_least, at_most = self.ordering(">=", value, low), self.ordering("<=", value, high)
        return self.checked(And(value.position, (at_least, at_most)))

    # -- grammar -------------------------------------------------------------------------

    def selector(self) -> Node:
        node = self.or_expression()
        trailing = self.peek()
        if trailing.kind is not TokenKind.EOF:
            raise self.unexpected(trailing, "expected AND, OR or the end of the expression")
        return self.as_condition(node)

    def or_expression(self) -> Node:
        left = self.and_expression()
        if self.peek().kind is not TokenKind.OR:
            return left
        operands = [self.as_condition(left)]
        while self.peek().kind is TokenKind.OR:
            self.advance()
            operands.append(self.as_condition(self.and_expression()))
        return self.checked(Or(left.position, tuple(operands)))

    def and_expression(self) -> Node:
        left = self.equality_expression()
        if self.peek().kind is not TokenKind.AND:
            return left
        operands = [self.as_condition(left)]
        while self.peek().kind is TokenKind.AND:
            self.advance()
            operands.append(self.as_condition(self.equality_expression()))
        return self.checked(And(left.position, tuple(operands)))

    def equality_expression(self) -> Node:
        left = self.comparison_expression()
        while True:
            kind = self.peek().kind
            if kind is TokenKind.EQ or kind is TokenKind.NE:
                self.advance()
                node = self.equal(left, self.comparison_expression())
                left = self.checked(Not(left.position, node)) if kind is TokenKind.NE else node
            elif kind is TokenKind.IS:
                self.advance()
                negated = self.peek().kind is TokenKind.NOT
                if negated:
                    self.advance()
                self.expect(TokenKind.NULL)
                node = self.checked(Equal(left.position, left, Constant(left.position, None)))
                left = self.checked(Not(left.position, node)) if negated else node
            else:
                return left

    def comparison_expression(self) -> Node:
        left = self.unary_expression()
        while True:
            token = self.peek()
            negated = token.kind is TokenKind.NOT and self.peek(1).kind in _NEGATABLE
            if negated:
                self.advance()
                token = self.peek()
            if token.kind in _ORDERING_KINDS:
                self.advance()
                left = self.ordering(_ORDERING_KINDS[token.kind], left, self.unary_expression())
            elif token.kind is TokenKind.BETWEEN:
                self.advance()
                low = self.unary_expression()
                self.expect(TokenKind.AND)
                left = self.between(left, low, self.unary_expression(), negated)
            elif token.kind is TokenKind.IN:
                self.advance()
                left = self.in_list(left, negated)
            elif token.kind in _STRING_MATCH_KINDS:
                self.advance()
                search = self.expect(TokenKind.STRING).value
                node = StringMatch(left.position, token.kind.value, left, search, negated)
                left = self.checked(node)
            else:
                return left

    def in_list(self, left: Node, negated: bool) -> Node:
        if not isinstance(left, Property):
            raise self.error("IN needs a property on its left", left.position)
        self.expect(TokenKind.LPAREN)
        values = [self.expect(TokenKind.STRING).value]
        while self.peek().kind is TokenKind.COMMA:
            self.advance()
            values.append(self.expect(TokenKind.STRING).value)
        self.expect(TokenKind.RPAREN)
        return self.checked(In(left.position, left, frozenset(values), negated))

    def nested(self, token: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"more than {MAX_NESTING} nested levels", token.position)

    def unary_expression(self) -> Node:
        token = self.peek()
        if token.kind not in (TokenKind.PLUS, TokenKind.MINUS, TokenKind.NOT):
            return self.primary_expression()
        self.advance()
        self.nested(token)
        operand = self.unary_expression()
        self.nesting -= 1
        if token.kind is TokenKind.PLUS:
            return operand
        if token.kind is TokenKind.MINUS:
            return self.checked(Negate(token.position, operand))
        return self.checked(Not(token.position, self.as_condition(operand)))

    def primary_expression(self) -> Node:
        token = self.peek()
        if token.kind is TokenKind.LPAREN:
            self.advance()
            self.nested(token)
            node = self.or_expression()
            self.expect(TokenKind.RPAREN)
            self.nesting -= 1
            return node
        if token.kind is TokenKind.ID:
            self.advance()
            return Property(token.position, token.text)
        return Constant(token.position, self.literal(token))

    def literal(self, token: Token) -> Value:
        kind = token.kind
        if kind is TokenKind.STRING:
            value: Value = token.value
        elif kind is TokenKind.DECIMAL:
            value = self.decimal(token)
        elif kind is TokenKind.FLOAT:
            value = self.floating(token)
        elif kind in (TokenKind.TRUE, TokenKind.FALSE):
            value = kind is TokenKind.TRUE
        elif kind is TokenKind.NULL:
            value = None
        else:
            raise self.unexpected(token, "expected a property, a literal or '('")
        self.advance()
        return value

    def decimal(self, token: Token) -> Value:
        digits = token.text.rstrip("lL")
        if len(digits) > len(str(LONG_MAX)) or int(digits) > LONG_MAX:
            raise self.error(f"integer {token.text} does not fit a long", token.position)
        number = int(digits)
        return JavaInt(number) if INT_MIN <= number <= INT_MAX else JavaLong(number)

    def floating(self, token: Token) -> Value:
        number = float(token.text)
        if math.isinf(number):
            raise self.error(f"{token.text} is greater than {sys.float_info.max}", token.position)
        if number == 0.0:
            raise self.error(f"{token.text} is less than Double.MIN_VALUE", token.position)
        return number


def parse(expression: str) -> Node:
    """Parse ``expression`` into a boolean expression tree; FilterError on any problem."""
    return _Parser(expression).selector()
