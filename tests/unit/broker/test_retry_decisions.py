"""Retry and dead-letter decisions (reference §5.8)."""

from __future__ import annotations

import random

import pytest

from rmq_core.broker.retry import (
    DEFAULT_MAX_RECONSUME_TIMES,
    RetryDecision,
    build_send_back_message,
    choose_queue,
    decide_send_back,
    effective_max_reconsume_times,
    group_of_retry_topic,
    route_retry_send,
)
from rmq_core.common.message import MessageConst, MessageExt, MessageSysFlag
from rmq_core.common.message_codec import create_offset_msg_id, decode_properties


def test_default_schedule_is_levels_3_to_18_then_dlq() -> None:
    levels = []
    for times in range(DEFAULT_MAX_RECONSUME_TIMES):
        decision = decide_send_back("g", times, 0, DEFAULT_MAX_RECONSUME_TIMES)
        assert decision == RetryDecision("%RETRY%g", 3 + times, False)
        levels.append(decision.delay_level)
    assert levels == list(range(3, 19))
    # the 17th failure (a record already retried 16 times) is a dead letter
    assert decide_send_back("g", 16, 0, 16) == RetryDecision("%DLQ%g", 0, True)


def test_requested_level_and_negative_level() -> None:
    assert decide_send_back("g", 0, 7, 16) == RetryDecision("%RETRY%g", 7, False)
    assert decide_send_back("g", 0, -1, 16) == RetryDecision("%DLQ%g", 0, True)
    assert decide_send_back("g", 2, 1, 2).dead_letter


@pytest.mark.parametrize(
    ("group_max", "header", "version", "expected"),
    [
        (16, None, 401, 16),
        (16, 3, 401, 3),
        (16, 3, 121, 3),
        (16, 3, 120, 16),  # older clients: the group's setting
        (16, 3, 63, 16),  # the C++ client announces 63
        (16, -1, 401, 16),  # "client default": the group's setting, not an instant DLQ
        (5, 0, 401, 0),
    ],
)
def test_effective_max_reconsume_times(
    group_max: int, header: int | None, version: int, expected: int
) -> None:
    assert effective_max_reconsume_times(group_max, header, version) == expected


def test_choose_queue_stays_in_range() -> None:
    rng = random.Random(7)
    assert choose_queue(0) == 0 and choose_queue(1) == 0
    seen = {choose_queue(4, rng) for _ in range(200)}
    assert seen == {0, 1, 2, 3}


def _original(**kw: object) -> MessageExt:
    msg = MessageExt(
        topic="OrderTopic",
        body=b"\x78\x9c compressed",
        flag=3,
        properties={"TAGS": "TagA", "KEYS": "k1", "UNIQ_KEY": "ABC", "WAIT": "true"},
        queue_id=2,
        queue_offset=10,
        commitlog_offset=4096,
        sys_flag=MessageSysFlag.COMPRESSED_FLAG,
        born_timestamp=111,
        born_host="10.1.1.1:4000",
        store_timestamp=222,
        store_host="127.0.0.1:10911",
        reconsume_times=0,
    )
    for key, value in kw.items():
        setattr(msg, key, value)
    return msg


def test_send_back_copy_of_a_first_failure() -> None:
    original = _original()
    decision = decide_send_back("g", original.reconsume_times, 0, 16)
    out = build_send_back_message(original, decision, 0, "127.0.0.1:10911")
    assert (out.topic, out.queue_id, out.reconsume_times) == ("%RETRY%g", 0, 1)
    assert (out.body, out.flag, out.sys_flag) == (original.body, 3, MessageSysFlag.COMPRESSED_FLAG)
    assert (out.born_timestamp, out.born_host) == (111, "10.1.1.1:4000")
    props = out.properties
    assert props[MessageConst.PROPERTY_RETRY_TOPIC] == "OrderTopic"
    assert props[MessageConst.PROPERTY_ORIGIN_MESSAGE_ID] == create_offset_msg_id(
        "127.0.0.1:10911", 4096
    )
    assert props[MessageConst.PROPERTY_DELAY_TIME_LEVEL] == "3"
    assert props[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] == "false"
    assert props["UNIQ_KEY"] == "ABC" and props["KEYS"] == "k1"
    assert out.properties_string is not None
    assert decode_properties(out.properties_string) == props


def test_send_back_keeps_first_topic_and_origin_id() -> None:
    original = _original(topic="%RETRY%g", reconsume_times=4)
    original.properties[MessageConst.PROPERTY_RETRY_TOPIC] = "OrderTopic"
    original.properties[MessageConst.PROPERTY_ORIGIN_MESSAGE_ID] = "FIRST"
    original.properties[MessageConst.PROPERTY_DELAY_TIME_LEVEL] = "6"
    decision = decide_send_back("g", original.reconsume_times, 0, 16)
    out = build_send_back_message(original, decision, 0, "127.0.0.1:10911")
    assert out.properties[MessageConst.PROPERTY_RETRY_TOPIC] == "OrderTopic"
    assert out.properties[MessageConst.PROPERTY_ORIGIN_MESSAGE_ID] == "FIRST"
    assert out.properties[MessageConst.PROPERTY_DELAY_TIME_LEVEL] == "7"
    assert out.reconsume_times == 5


def test_dead_letter_copy_has_no_delay() -> None:
    original = _original(topic="%RETRY%g", reconsume_times=16)
    original.properties[MessageConst.PROPERTY_DELAY_TIME_LEVEL] = "18"
    decision = decide_send_back("g", 16, 0, 16)
    out = build_send_back_message(original, decision, 0, "127.0.0.1:10911")
    assert out.topic == "%DLQ%g"
    assert MessageConst.PROPERTY_DELAY_TIME_LEVEL not in out.properties
    assert out.reconsume_times == 17


def test_group_of_retry_topic() -> None:
    assert group_of_retry_topic("%RETRY%cg") == "cg"
    assert group_of_retry_topic("%DLQ%cg") is None
    assert group_of_retry_topic("Topic") is None


def test_route_retry_send() -> None:
    assert route_retry_send("g", 3, 16, 0).topic == "%RETRY%g"
    assert route_retry_send("g", None, 16, 0).dead_letter is False
    # the header already counts this retry (RECONSUME_TIME = n + 1): the 16th retry is allowed,
    # the 17th is a dead letter (handleRetryAndDLQ compares with ">", reference §5.8)
    at_limit = route_retry_send("g", 16, 16, 3)
    assert (at_limit.topic, at_limit.queue_id, at_limit.dead_letter) == ("%RETRY%g", 3, False)
    dlq = route_retry_send("g", 17, 16, 3)
    assert (dlq.topic, dlq.queue_id, dlq.dead_letter) == ("%DLQ%g", 0, True)
    assert route_retry_send("g", 1, 0, 0).dead_letter
    assert route_retry_send("g", 0, 16, 0, force_dead_letter=True).dead_letter
