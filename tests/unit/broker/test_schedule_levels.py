"""Delay levels: parsing ``messageDelayLevel``, the put-path rewrite and due times."""

from __future__ import annotations

import pytest

from rmq_core.broker.schedule import (
    DEFAULT_MESSAGE_DELAY_LEVEL,
    SCHEDULE_TOPIC,
    DelayLevelTable,
    build_delivery_message,
    rewrite_delayed_message,
)
from rmq_core.common.message import MessageConst, MessageExt, MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import decode_properties


def test_default_table_matches_rocketmq() -> None:
    table = DelayLevelTable.parse()
    seconds = [table.delay_seconds(level) for level in range(1, 19)]
    assert seconds == [1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800,
                       3600, 7200]  # fmt: skip
    assert table.max_level == 18
    assert table.to_text() == DEFAULT_MESSAGE_DELAY_LEVEL


def test_units_and_whitespace() -> None:
    table = DelayLevelTable.parse("  2s\t3m 1h  1d ")
    assert table.delays_ms == (2_000, 180_000, 3_600_000, 86_400_000)
    assert table.to_text() == "2s 3m 1h 1d"
    assert DelayLevelTable.from_delays_ms([1000, 2000]) == DelayLevelTable.parse("1s 2s")


@pytest.mark.parametrize("text", ["", "   ", "1x", "s", "1.5s", "-1s", "1s 5", "10 s", "1S"])
def test_bad_level_text_is_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="messageDelayLevel"):
        DelayLevelTable.parse(text)


def test_bad_token_is_named() -> None:
    with pytest.raises(ValueError, match=r"level 2 '5x'"):
        DelayLevelTable.parse("1s 5x")


def test_delay_outside_table_raises() -> None:
    table = DelayLevelTable.parse("1s 2s")
    with pytest.raises(ValueError):
        table.delay_ms(0)
    with pytest.raises(ValueError):
        table.delay_ms(3)
    assert table.clamp(7) == 2


def test_deliver_timestamp_and_correction() -> None:
    table = DelayLevelTable.parse("1s 5s 10s")
    assert table.deliver_timestamp(3, 1_000_000) == 1_010_000
    # due within the level's delay of now: kept
    assert table.correct_deliver_timestamp(2, 1_004_000, 1_000_000) == 1_004_000
    # further away than the delay itself (the clock went back): deliver now
    assert table.correct_deliver_timestamp(2, 1_006_000, 1_000_000) == 1_000_000
    assert table.queue_id(1) == 0 and table.level_of_queue(17) == 18


def _inner(**kw: object) -> MessageExtBrokerInner:
    msg = MessageExtBrokerInner(topic="T", body=b"x", queue_id=3)
    msg.tags = "TagA"
    for key, value in kw.items():
        setattr(msg, key, value)
    return msg


def test_rewrite_parks_message_in_schedule_queue() -> None:
    table = DelayLevelTable.parse()
    msg = _inner()
    msg.delay_time_level = 3
    assert rewrite_delayed_message(msg, table)
    assert msg.topic == SCHEDULE_TOPIC
    assert msg.queue_id == 2
    assert msg.properties[MessageConst.PROPERTY_REAL_TOPIC] == "T"
    assert msg.properties[MessageConst.PROPERTY_REAL_QUEUE_ID] == "3"
    assert msg.properties_string is not None
    assert decode_properties(msg.properties_string) == msg.properties


def test_rewrite_clamps_level() -> None:
    table = DelayLevelTable.parse("1s 2s")
    msg = _inner()
    msg.delay_time_level = 9
    assert rewrite_delayed_message(msg, table)
    assert msg.delay_time_level == 2
    assert msg.queue_id == 1
    assert msg.properties[MessageConst.PROPERTY_DELAY_TIME_LEVEL] == "2"


@pytest.mark.parametrize("level", [None, "0", "-1", "abc"])
def test_rewrite_ignores_messages_without_delay(level: str | None) -> None:
    msg = _inner()
    if level is not None:
        msg.put_property(MessageConst.PROPERTY_DELAY_TIME_LEVEL, level)
    assert not rewrite_delayed_message(msg, DelayLevelTable.parse())
    assert msg.topic == "T" and msg.queue_id == 3


@pytest.mark.parametrize(
    ("tx_type", "rewritten"),
    [
        (MessageSysFlag.TRANSACTION_NOT_TYPE, True),
        (MessageSysFlag.TRANSACTION_COMMIT_TYPE, True),
        (MessageSysFlag.TRANSACTION_PREPARED_TYPE, False),
        (MessageSysFlag.TRANSACTION_ROLLBACK_TYPE, False),
    ],
)
def test_rewrite_only_for_normal_and_committed(tx_type: int, rewritten: bool) -> None:
    msg = _inner(sys_flag=tx_type | MessageSysFlag.COMPRESSED_FLAG)
    msg.delay_time_level = 1
    assert rewrite_delayed_message(msg, DelayLevelTable.parse()) is rewritten


def test_delivery_message_restores_destination() -> None:
    table = DelayLevelTable.parse()
    msg = _inner(sys_flag=MessageSysFlag.COMPRESSED_FLAG, reconsume_times=2, flag=7)
    msg.delay_time_level = 1
    msg.born_timestamp = 123
    msg.born_host = "10.0.0.1:5555"
    rewrite_delayed_message(msg, table)
    parked = MessageExt(
        topic=msg.topic,
        body=msg.body,
        flag=msg.flag,
        properties=dict(msg.properties),
        queue_id=msg.queue_id,
        queue_offset=4,
        sys_flag=msg.sys_flag,
        born_timestamp=msg.born_timestamp,
        born_host=msg.born_host,
        store_timestamp=1,
        store_host="127.0.0.1:10911",
        reconsume_times=msg.reconsume_times,
    )
    out = build_delivery_message(parked)
    assert out is not None
    assert (out.topic, out.queue_id) == ("T", 3)
    assert MessageConst.PROPERTY_DELAY_TIME_LEVEL not in out.properties
    assert out.properties[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] == "false"
    assert out.properties[MessageConst.PROPERTY_REAL_TOPIC] == "T"
    assert (out.body, out.flag, out.sys_flag, out.reconsume_times) == (b"x", 7, 1, 2)
    assert (out.born_timestamp, out.born_host) == (123, "10.0.0.1:5555")
    assert out.properties_string is not None
    assert decode_properties(out.properties_string) == out.properties


@pytest.mark.parametrize("props", [{}, {"REAL_TOPIC": "T"}, {"REAL_TOPIC": "T", "REAL_QID": "x"}])
def test_delivery_message_needs_real_topic_and_queue(props: dict[str, str]) -> None:
    parked = MessageExt(topic=SCHEDULE_TOPIC, body=b"", properties=dict(props))
    assert build_delivery_message(parked) is None


def test_broker_conf_gives_the_delay_table_to_the_store() -> None:
    from rmq_core.broker.conf_file import load_broker_conf

    broker, store = load_broker_conf({"messageDelayLevel": "1s 2s 3m"})
    assert store.message_delay_level == "1s 2s 3m"
    assert broker.message_delay_level == ""  # one table: the store's
    assert DelayLevelTable.parse("1s 2s 3m").delays_ms == store.delay_levels_ms()
