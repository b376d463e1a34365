"""Typed custom headers: decoding of strings/numbers/booleans, string encoding, V2 names."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.remoting import headers as h
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    CommandHeader,
    HeaderFieldError,
    PullMessageRequestHeader,
    PullMessageResponseHeader,
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    UnregisterClientRequestHeader,
)

V2_WIRE = {
    "a": "producer_group",
    "b": "topic",
    "c": "default_topic",
    "d": "default_topic_queue_nums",
    "e": "queue_id",
    "f": "sys_flag",
    "g": "born_timestamp",
    "h": "flag",
    "i": "properties",
    "j": "reconsume_times",
    "k": "unit_mode",
    "l": "max_reconsume_times",
    "m": "batch",
    "n": "bname",
}

ALI_ONS_SEND = {
    "a": "PID_G",
    "b": "TopicTest",
    "c": "TBW102",
    "d": 4,
    "e": 0,
    "f": 0,
    "g": 1700000000000,
    "h": 0,
    "i": "TAGS\u0001TagA\u0002",
    "j": 0,
    "k": False,
    "l": 16,
}


def test_v2_short_names() -> None:
    wire = SendMessageRequestHeaderV2.field_wire_names()
    assert {v: k for k, v in wire.items()} == V2_WIRE


def test_v2_decodes_raw_json_numbers_and_booleans() -> None:
    header = SendMessageRequestHeaderV2.from_ext_fields(ALI_ONS_SEND)
    assert header.queue_id == 0
    assert header.born_timestamp == 1700000000000
    assert header.unit_mode is False
    assert header.max_reconsume_times == 16
    assert header.batch is None
    fields = header.to_ext_fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert fields["g"] == "1700000000000"
    assert fields["k"] == "false"
    assert "m" not in fields


def test_v1_v2_conversion() -> None:
    v2 = SendMessageRequestHeaderV2.from_ext_fields(ALI_ONS_SEND)
    v1 = SendMessageRequestHeader(**dataclasses.asdict(v2))  # same fields, long key names
    assert v1.to_ext_fields()["producerGroup"] == "PID_G"
    assert v1.to_ext_fields()["unitMode"] == "false"
    assert SendMessageRequestHeaderV2.from_v1(v1) == v2


def test_decodes_strings_numbers_and_booleans() -> None:
    fields = {
        "consumerGroup": "G",
        "topic": "T",
        "queueId": "3",
        "queueOffset": 12,
        "maxMsgNums": 32.0,
        "sysFlag": " 2 ",
        "commitOffset": "-1",
        "suspendTimeoutMillis": 15000,
        "subVersion": "1700000000000",
        "subscription": "*",
        "unknownKey": "ignored",
    }
    header = PullMessageRequestHeader.from_ext_fields(fields)
    assert (header.queue_id, header.queue_offset, header.max_msg_nums) == (3, 12, 32)
    assert (header.sys_flag, header.commit_offset) == (2, -1)
    assert header.subscription == "*"
    assert header.expression_type is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), ("TRUE", True), ("0", False), ("1", True), (True, True)],
)
def test_boolean_forms(raw: object, expected: bool) -> None:
    header = h.QueryDataVersionResponseHeader.from_ext_fields({"changed": raw})
    assert header.changed is expected


def test_encode_gives_strings() -> None:
    header = PullMessageResponseHeader(
        suggest_which_broker_id=0, next_begin_offset=10, min_offset=0, max_offset=10
    )
    assert header.to_ext_fields() == {
        "suggestWhichBrokerId": "0",
        "nextBeginOffset": "10",
        "minOffset": "0",
        "maxOffset": "10",
    }
    max_offset = h.GetMaxOffsetRequestHeader(topic="T", queue_id=1)
    assert max_offset.to_ext_fields() == {"topic": "T", "queueId": "1", "committed": "true"}


def test_irregular_wire_name() -> None:
    header = UnregisterClientRequestHeader.from_ext_fields(
        {"clientID": "ip@1", "producerGroup": ""}
    )
    assert header.client_id == "ip@1"
    assert header.producer_group == ""
    assert header.to_ext_fields() == {"clientID": "ip@1", "producerGroup": ""}


def test_missing_required_field_names_the_field() -> None:
    fields = dict(ALI_ONS_SEND)
    del fields["b"]
    with pytest.raises(HeaderFieldError, match="'b' \\(topic\\)") as info:
        SendMessageRequestHeaderV2.from_ext_fields(fields)
    assert info.value.field == "b"


def test_empty_value_for_a_number_counts_as_missing() -> None:
    with pytest.raises(HeaderFieldError, match="queueId"):
        h.GetMinOffsetRequestHeader.from_ext_fields({"topic": "T", "queueId": ""})
    header = h.QueryConsumerOffsetRequestHeader.from_ext_fields(
        {"consumerGroup": "G", "topic": "T", "queueId": "0", "setZeroIfNotFound": ""}
    )
    assert header.set_zero_if_not_found is None


@pytest.mark.parametrize("bad", ["abc", "1.5", True, [1]])
def test_malformed_number_names_the_field(bad: object) -> None:
    with pytest.raises(HeaderFieldError, match="queueId") as info:
        h.GetMinOffsetRequestHeader.from_ext_fields({"topic": "T", "queueId": bad})
    assert info.value.field == "queueId"


def test_malformed_boolean() -> None:
    with pytest.raises(HeaderFieldError, match="changed"):
        h.QueryDataVersionResponseHeader.from_ext_fields({"changed": "maybe"})


def test_command_decode_header_and_request_builder() -> None:
    header = h.GetRouteInfoRequestHeader(topic="TopicTest")
    cmd = RemotingCommand.request(105, header)
    assert cmd.ext_fields == {"topic": "TopicTest"}
    assert cmd.decode_header(h.GetRouteInfoRequestHeader) == header


def _all_headers() -> list[type[CommandHeader]]:
    return [
        obj
        for obj in vars(h).values()
        if isinstance(obj, type) and issubclass(obj, CommandHeader) and obj is not CommandHeader
    ]


def test_every_concrete_header_is_well_formed() -> None:
    classes = _all_headers()
    assert len(classes) >= 60
    for cls in classes:
        assert dataclasses.is_dataclass(cls)
        assert "__slots__" in vars(cls), cls
        wire_names = cls.field_wire_names()
        assert len(set(wire_names.values())) == len(wire_names), cls


_VALUE_BY_TYPE = {
    str: st.text(max_size=10),
    int: st.integers(-(2**63), 2**63 - 1),
    bool: st.booleans(),
    float: st.floats(allow_nan=False, allow_infinity=False),
}


@given(st.sampled_from(_all_headers()), st.data())
def test_every_header_round_trips(cls: type[CommandHeader], data: st.DataObject) -> None:
    import typing

    hints = typing.get_type_hints(cls)
    kwargs = {}
    for item in dataclasses.fields(cls):
        args = [a for a in typing.get_args(hints[item.name]) if a is not type(None)]
        scalar = args[0] if args else hints[item.name]
        strategy = _VALUE_BY_TYPE[scalar]
        if scalar is not str:
            kwargs[item.name] = data.draw(strategy)
        else:
            kwargs[item.name] = data.draw(st.text(min_size=1, max_size=10))
    header = cls(**kwargs)
    fields = header.to_ext_fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert cls.from_ext_fields(fields) == header
