"""Destinations, GenericMessage/MessageBuilder headers and building rmq messages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rmq_core import Message
from rmq_integrations.spring import (
    Destination,
    GenericMessage,
    MessageBuilder,
    MessageConversionError,
    RocketMQHeaders,
    default_converter,
    parse_destination,
)
from rmq_integrations.spring.messaging import to_rocketmq_message

CONVERTER = default_converter()


@dataclass
class Ping:
    n: int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Orders", Destination("Orders")),
        ("Orders:paid", Destination("Orders", "paid")),
        ("Orders:", Destination("Orders")),
        (" Orders : paid ", Destination("Orders", "paid")),
    ],
)
def test_parse_destination(text: str, expected: Destination) -> None:
    assert parse_destination(text) == expected
    assert str(parse_destination("Orders:paid")) == "Orders:paid"


@pytest.mark.parametrize("bad", ["", ":tag", "a:b:c"])
def test_bad_destinations(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_destination(bad)
    with pytest.raises(TypeError):
        parse_destination(42)  # type: ignore[arg-type]


def test_payload_becomes_body_and_destination_sets_topic_and_tag() -> None:
    msg = to_rocketmq_message(parse_destination("T:tagA"), Ping(3), CONVERTER)
    assert (msg.topic, msg.tags, msg.body) == ("T", "tagA", b'{"n":3}')


def test_headers_map_to_message_fields_and_user_properties() -> None:
    generic = (
        MessageBuilder.with_payload("hi")
        .set_header(RocketMQHeaders.KEYS, ["k1", "k2"])
        .set_header(RocketMQHeaders.TAGS, "fromHeader")
        .set_header(RocketMQHeaders.DELAY, "2")
        .set_header(RocketMQHeaders.FLAG, 7)
        .set_header(RocketMQHeaders.WAIT_STORE_MSG_OK, False)
        .set_header("trace-id", 123)
        .set_header("ignored", None)
        .build()
    )
    msg = to_rocketmq_message(parse_destination("T"), generic, CONVERTER, {"extra": "x"})
    assert msg.body == b"hi"
    assert msg.keys == ["k1", "k2"]
    assert msg.tags == "fromHeader"
    assert msg.delay_time_level == 2
    assert msg.flag == 7
    assert msg.wait_store_msg_ok is False
    assert msg.properties["trace-id"] == "123" and msg.properties["extra"] == "x"
    assert "ignored" not in msg.properties


def test_destination_tag_wins_over_tags_header_and_keys_string_splits() -> None:
    generic = GenericMessage(b"x", {"TAGS": "h", "KEYS": "a b"})
    msg = to_rocketmq_message(parse_destination("T:d"), generic, CONVERTER)
    assert msg.tags == "d" and msg.keys == ["a", "b"]


def test_rmq_message_is_copied_with_destination_topic() -> None:
    original = Message("Elsewhere", b"body", properties={"p": "1"})
    msg = to_rocketmq_message(parse_destination("T:tag"), original, CONVERTER)
    assert (msg.topic, msg.tags, msg.body, msg.properties["p"]) == ("T", "tag", b"body", "1")
    assert original.topic == "Elsewhere" and original.tags is None


def test_reserved_header_and_unconvertible_payload_are_errors() -> None:
    with pytest.raises(ValueError, match="reserved"):
        to_rocketmq_message(parse_destination("T"), b"x", CONVERTER, {"UNIQ_KEY": "u"})
    with pytest.raises(MessageConversionError):
        to_rocketmq_message(parse_destination("T"), object(), CONVERTER)
