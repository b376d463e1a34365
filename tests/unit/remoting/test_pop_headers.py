"""Pop wire formats: receipt handles, queue offset infos, headers and batch-ack bodies."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting.pop_headers import (
    AckMessageRequestHeader,
    BatchAck,
    ExtraInfo,
    PopMessageRequestHeader,
    QueueOffsets,
    bitset_from_offsets,
    decode_batch_ack_body,
    encode_batch_ack_body,
    format_queue_offsets,
    offsets_from_bitset,
    parse_queue_offsets,
    pop_retry_topic,
)


def test_extra_info_matches_rocketmq_layout() -> None:
    info = ExtraInfo(5, 1700000000000, 30000, 0, False, "broker-a", 3, 7)
    assert info.build() == "5 1700000000000 30000 0 0 broker-a 3 7"
    assert ExtraInfo.parse(info.build()) == info
    seven = ExtraInfo.parse("5 1700000000000 30000 0 1 broker-a 3")
    assert seven.retry and seven.queue_offset is None
    assert seven.real_topic("T", "G") == pop_retry_topic("G", "T") == "%RETRY%G_T"
    assert seven.real_topic("%RETRY%G_T", "G") == "%RETRY%G_T"
    assert info.real_topic("T", "G") == "T"


@pytest.mark.parametrize(
    "text", ["", "1 2 3", "a b c d 0 broker 1", "1 2 3 4 0 b x", "1 2 3 4 0 b 1 z"]
)
def test_malformed_extra_info_is_a_protocol_error(text: str) -> None:
    with pytest.raises(RemoteProtocolError, match="receipt handle"):
        ExtraInfo.parse(text)


def test_queue_offset_infos_round_trip() -> None:
    entries = [QueueOffsets(False, 0, (3, 4, 9)), QueueOffsets(True, 2, (0,))]
    text = format_queue_offsets(entries)
    assert text == "0 0 3,4,9;1 2 0"
    assert parse_queue_offsets(text) == entries
    assert parse_queue_offsets("") == []
    with pytest.raises(RemoteProtocolError):
        parse_queue_offsets("0 1")
    with pytest.raises(RemoteProtocolError):
        parse_queue_offsets("0 1 x")


@given(st.integers(0, 10**9), st.sets(st.integers(0, 500), max_size=40))
def test_bitset_round_trip(start: int, deltas: set[int]) -> None:
    offsets = sorted(start + d for d in deltas)
    assert offsets_from_bitset(start, bitset_from_offsets(start, offsets)) == offsets


def test_bitset_is_javas_little_endian_byte_array() -> None:
    # BitSet with bits 0, 1 and 9 set: toByteArray() == [0x03, 0x02]
    assert bitset_from_offsets(10, [10, 11, 19]) == bytes([0x03, 0x02])
    with pytest.raises(ValueError):
        bitset_from_offsets(10, [9])


def test_batch_ack_body_round_trip_and_java_forms() -> None:
    ack = BatchAck("G", "T", True, 100, 1, 0, 1700000000000, 30000, (100, 103))
    broker, acks = decode_batch_ack_body(json.loads(encode_batch_ack_body("broker-a", [ack])))
    assert broker == "broker-a" and acks == [ack]
    long_names = {
        "brokerName": "b",
        "acks": [
            {
                "consumerGroup": "G",
                "topic": "T",
                "retry": "0",
                "startOffset": 4,
                "queueId": 0,
                "reviveQueueId": 0,
                "popTime": 1,
                "invisibleTime": 2,
                "bitSet": [0b101],
            }
        ],
    }
    _, parsed = decode_batch_ack_body(long_names)
    assert parsed[0].offsets == (4, 6) and not parsed[0].retry


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"acks": "x"},
        {"acks": [1]},
        {"acks": [{"c": "G", "t": "T", "so": "x", "q": 0, "rq": 0, "pt": 1, "it": 1, "b": ""}]},
        {"acks": [{"c": "G", "t": "T", "so": 0, "q": 0, "rq": 0, "pt": 1, "it": 1, "b": "!!"}]},
        {"acks": [{"c": "G", "t": "T", "so": 0, "q": 0, "rq": 0, "pt": 1, "it": 1}]},
        {"acks": [{"t": "T", "so": 0, "q": 0, "rq": 0, "pt": 1, "it": 1, "b": ""}]},
        {
            "acks": [
                {
                    "c": "G",
                    "t": "T",
                    "so": 0,
                    "q": 0,
                    "rq": 0,
                    "pt": 1,
                    "it": 1,
                    "b": base64.b64encode(b"\\xff" * 9000).decode(),
                }
            ]
        },
    ],
)
def test_bad_batch_ack_bodies_are_protocol_errors(body: object) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_batch_ack_body(body)


def test_headers_use_rocketmq_wire_names() -> None:
    pop = PopMessageRequestHeader(
        consumer_group="G", topic="T", queue_id=-1, max_msg_nums=4, invisible_time=30000,
        poll_time=5000, born_time=1, init_mode=0, exp_type="TAG", exp="*",
    )  # fmt: skip
    fields = pop.to_ext_fields()
    assert fields["consumerGroup"] == "G" and fields["maxMsgNums"] == "4"
    assert fields["invisibleTime"] == "30000" and fields["pollTime"] == "5000"
    assert fields["expType"] == "TAG" and fields["initMode"] == "0"
    assert PopMessageRequestHeader.from_ext_fields(fields) == pop
    ack = AckMessageRequestHeader(
        consumer_group="G", topic="T", queue_id=0, extra_info="x", offset=3
    )
    assert set(ack.to_ext_fields()) == {"consumerGroup", "topic", "queueId", "extraInfo", "offset"}
