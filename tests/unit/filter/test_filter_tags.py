"""Tag hashing and tag subscription expressions (reference §6.9)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.errors import FilterError
from rmq_core.filter.tags import (
    SubscriptionExpression,
    parse_tag_expression,
    tag_hash,
    to_java_int,
)

# Values of String.hashCode() as the JVM computes them.
JAVA_HASH_CODES = [
    ("TagA", 2598919),
    ("TagB", 2598920),
    ("", 0),
    ("*", 42),
    ("hello", 99162322),
    ("Aa", 2112),
    ("BB", 2112),
    ("polygenelubricants", -2147483648),
    ("中文", 646394),
    ("é", 233),
    ("😀", 1772899),  # one code point, two UTF-16 code units (D83D DE00)
]


@pytest.mark.parametrize(("text", "expected"), JAVA_HASH_CODES)
def test_tag_hash_matches_java_string_hash_code(text: str, expected: int) -> None:
    assert tag_hash(text) == expected


@given(st.text())
def test_tag_hash_is_a_signed_int32(text: str) -> None:
    assert -(2**31) <= tag_hash(text) < 2**31


def test_to_java_int_keeps_low_32_bits_signed() -> None:
    assert to_java_int(2598919) == 2598919
    assert to_java_int(2598919 + 2**32) == 2598919
    assert to_java_int(2**31) == -(2**31)
    assert to_java_int(-1) == -1
    assert to_java_int(-(2**40) - 5) == -5


@pytest.mark.parametrize("expression", [None, "", "*"])
def test_star_and_empty_subscribe_to_everything(expression: str | None) -> None:
    parsed = SubscriptionExpression.parse(expression)
    assert parsed.is_all
    assert parsed.expression == "*"
    assert parsed.tags == frozenset() and parsed.codes == frozenset()
    assert parse_tag_expression(expression) == (frozenset(), frozenset())


@pytest.mark.parametrize(
    ("expression", "tags"),
    [
        ("TagA", {"TagA"}),
        ("TagA || TagB", {"TagA", "TagB"}),
        ("TagA||TagB||TagA", {"TagA", "TagB"}),
        ("  TagA  ||\tTagB\n", {"TagA", "TagB"}),
        ("TagA || || TagB", {"TagA", "TagB"}),  # empty pieces are dropped, as in Java
        ("Tag A || Tag|B", {"Tag A", "Tag|B"}),  # only '||' separates; inner spaces stay
        ("TagA || *", {"TagA", "*"}),  # '*' is only special on its own
    ],
)
def test_tag_expression_parsing(expression: str, tags: set[str]) -> None:
    parsed_tags, codes = parse_tag_expression(expression)
    assert parsed_tags == frozenset(tags)
    assert codes == frozenset(tag_hash(tag) for tag in tags)


@pytest.mark.parametrize("expression", ["||", " ", " || ", "\t||\n||"])
def test_expression_without_any_tag_is_an_error(expression: str) -> None:
    with pytest.raises(FilterError) as info:
        SubscriptionExpression.parse(expression)
    assert info.value.position == 0


def test_broker_side_matching_by_tags_code() -> None:
    sub = SubscriptionExpression.parse("TagA || TagB")
    assert sub.matches_tags_code(tag_hash("TagA"))
    assert sub.matches_tags_code(tag_hash("TagB"))
    assert not sub.matches_tags_code(tag_hash("TagC"))
    assert sub.matches_tags_code(None)  # an entry without tags always passes the broker
    assert sub.matches_tags_code(tag_hash("TagA") + 2**32)  # compared as (int) tagsCode
    everything = SubscriptionExpression.parse("*")
    assert everything.matches_tags_code(tag_hash("TagC"))


def test_client_side_matching_by_exact_tag_removes_collisions() -> None:
    sub = SubscriptionExpression.parse("Aa")
    assert sub.matches_tags_code(tag_hash("BB"))  # same hash: the broker lets it through
    assert not sub.matches_tag("BB")  # the client drops it
    assert sub.matches_tag("Aa")
    assert not sub.matches_tag(None)
    assert SubscriptionExpression.parse("*").matches_tag(None)


_TAG = st.text(
    alphabet=st.characters(min_codepoint=0x21, blacklist_characters="|"), min_size=1, max_size=8
)


@given(st.lists(_TAG, min_size=1, max_size=6))
def test_joined_tags_parse_back_to_their_set(tags: list[str]) -> None:
    expression = " || ".join(tags)
    parsed_tags, codes = parse_tag_expression(expression)
    if expression == "*":
        assert parsed_tags == frozenset()
        return
    assert parsed_tags == frozenset(tags)
    assert codes == frozenset(map(tag_hash, tags))
