"""ExpressionMessageFilter: the broker's two-stage filter for one subscription."""

from __future__ import annotations

import pytest

from rmq_core.errors import FilterError
from rmq_core.filter import (
    SQL92,
    TAG,
    ExpressionMessageFilter,
    PropertyFilterDisabledError,
    is_tag_type,
    tag_hash,
)
from rmq_core.store.message_filter import LazyProperties, MessageFilter


def test_satisfies_the_store_protocol_structurally() -> None:
    message_filter: MessageFilter = ExpressionMessageFilter(TAG, "*")
    assert isinstance(message_filter, MessageFilter)


def test_sql92_reads_the_stores_lazy_properties() -> None:
    raw = b"a\x017\x02TAGS\x01TagA\x02"
    message_filter = ExpressionMessageFilter(SQL92, "a > 5 AND TAGS = 'TagA'")
    assert message_filter.is_matched_by_commit_log(LazyProperties(raw))


@pytest.mark.parametrize("expression_type", [None, "", "TAG"])
def test_tag_types(expression_type: str | None) -> None:
    assert is_tag_type(expression_type)
    message_filter = ExpressionMessageFilter(expression_type, "TagA || TagB")
    assert message_filter.expression_type == TAG
    assert message_filter.subscription is not None and message_filter.selector is None


def test_tag_filter_decides_on_the_consume_queue() -> None:
    message_filter = ExpressionMessageFilter(TAG, "TagA || TagB")
    assert message_filter.is_matched_by_consume_queue(tag_hash("TagA"))
    assert message_filter.is_matched_by_consume_queue(tag_hash("TagB"))
    assert not message_filter.is_matched_by_consume_queue(tag_hash("TagC"))
    assert message_filter.is_matched_by_consume_queue(None)
    assert message_filter.is_matched_by_consume_queue(tag_hash("TagA") - 2**32)
    # the commit-log stage never rejects for a TAG subscription
    assert message_filter.is_matched_by_commit_log({"TAGS": "TagC"})
    assert message_filter.is_matched_by_commit_log(None)


@pytest.mark.parametrize("expression", [None, "", "*"])
def test_tag_star_passes_everything(expression: str | None) -> None:
    message_filter = ExpressionMessageFilter(TAG, expression)
    assert message_filter.expression == "*"
    assert message_filter.is_matched_by_consume_queue(tag_hash("anything"))


def test_sql92_filter_decides_on_the_commit_log() -> None:
    message_filter = ExpressionMessageFilter(SQL92, "a > 5 AND TAGS = 'TagA'")
    assert message_filter.expression_type == SQL92
    assert message_filter.selector is not None and message_filter.subscription is None
    assert message_filter.is_matched_by_consume_queue(tag_hash("TagC"))
    assert message_filter.is_matched_by_consume_queue(None)
    assert message_filter.is_matched_by_commit_log({"a": "6", "TAGS": "TagA"})
    assert not message_filter.is_matched_by_commit_log({"a": "5", "TAGS": "TagA"})
    assert not message_filter.is_matched_by_commit_log({"a": "x", "TAGS": "TagA"})
    assert not message_filter.is_matched_by_commit_log({"TAGS": "TagA"})
    assert not message_filter.is_matched_by_commit_log(None)


def test_sql92_on_messages_without_properties() -> None:
    assert ExpressionMessageFilter(SQL92, "a IS NULL").is_matched_by_commit_log(None)


def test_sql92_disabled_is_its_own_error() -> None:
    with pytest.raises(PropertyFilterDisabledError) as info:
        ExpressionMessageFilter(SQL92, "a > 5", enable_property_filter=False)
    assert isinstance(info.value, FilterError)
    # TAG subscriptions do not need the switch
    ExpressionMessageFilter(TAG, "TagA", enable_property_filter=False)


@pytest.mark.parametrize(("expression", "position"), [("a >", 3), ("", 0), (None, 0)])
def test_bad_sql92_is_a_filter_error_with_position(expression: str | None, position: int) -> None:
    with pytest.raises(FilterError) as info:
        ExpressionMessageFilter(SQL92, expression)
    assert info.value.position == position


def test_bad_tag_expression_and_unknown_type() -> None:
    with pytest.raises(FilterError):
        ExpressionMessageFilter(TAG, "||")
    with pytest.raises(FilterError, match="unknown expression type"):
        ExpressionMessageFilter("CLASS", "x")
    with pytest.raises(FilterError, match="unknown expression type"):
        ExpressionMessageFilter("sql92", "a = 1")  # RocketMQ compares the type exactly


def test_repr_names_type_and_expression() -> None:
    assert (
        repr(ExpressionMessageFilter(SQL92, "a = 1")) == "ExpressionMessageFilter('SQL92', 'a = 1')"
    )


@pytest.mark.parametrize(
    ("expression_type", "expression", "every"),
    [(TAG, "*", True), (TAG, None, True), (TAG, "TagA", False), (SQL92, "a > 5", True)],
)
def test_matches_every_tags_code_only_when_stage_one_passes_all(
    expression_type: str, expression: str | None, every: bool
) -> None:
    message_filter = ExpressionMessageFilter(expression_type, expression)
    assert message_filter.matches_every_tags_code is every
    if every:
        assert message_filter.is_matched_by_consume_queue(tag_hash("Other"))
