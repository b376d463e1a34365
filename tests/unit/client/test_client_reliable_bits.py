"""Message selectors (TAG/SQL92 subscriptions), uniq-id timestamps, transaction states."""

from __future__ import annotations

import time

import pytest

from rmq_core.client.consumer.common import pull_header
from rmq_core.client.heartbeat import SubscriptionData
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.query import uniq_id_timestamp
from rmq_core.client.transaction_producer import LocalTransactionState
from rmq_core.common.message_codec import create_uniq_id
from rmq_core.errors import FilterError


def test_sql_selector_subscription() -> None:
    sub = SubscriptionData.build("T", MessageSelector.by_sql("a > 5 AND b = 'x'"))
    data = sub.to_json()
    assert data["expressionType"] == "SQL92"
    assert data["subString"] == "a > 5 AND b = 'x'"
    assert data["tagsSet"] == [] and data["codeSet"] == []
    assert sub.expression.is_all
    header = pull_header("G", MessageQueue("T", "b", 0), 0, 32, sub, commit_offset=0, suspend_ms=0)
    assert header.expression_type == "SQL92" and header.subscription == "a > 5 AND b = 'x'"


def test_tag_selector_is_a_plain_tag_subscription() -> None:
    sub = SubscriptionData.build("T", MessageSelector.by_tag("A || B"))
    assert sub.to_json()["expressionType"] == "TAG"
    assert sub.expression.tags == frozenset({"A", "B"})
    assert SubscriptionData.build("T", "A").expression_type == "TAG"


def test_bad_selectors_fail_when_built() -> None:
    with pytest.raises(FilterError) as info:
        MessageSelector.by_sql("a > ")
    assert info.value.position is not None
    with pytest.raises(ValueError):
        MessageSelector("XPATH", "x")


def test_uniq_id_timestamp_recovers_the_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    uniq = create_uniq_id()
    stamp = uniq_id_timestamp(uniq)
    assert stamp is not None and abs(stamp - before) < 2000
    assert uniq_id_timestamp("01" + "0" * 32) is None
    assert uniq_id_timestamp("Z" * 32) is None


def test_local_transaction_states_map_to_the_wire() -> None:
    assert LocalTransactionState.COMMIT_MESSAGE.wire_value == 8
    assert LocalTransactionState.ROLLBACK_MESSAGE.wire_value == 12
    assert LocalTransactionState.UNKNOWN is LocalTransactionState.UNKNOW
    assert LocalTransactionState.UNKNOW.wire_value == 0
