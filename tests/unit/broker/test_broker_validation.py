"""Topic/group name rules, permissions and HEART_BEAT body parsing."""

from __future__ import annotations

import pytest

from rmq_core.broker import perm
from rmq_core.broker import topic_validator as tv
from rmq_core.broker.heartbeat import HeartbeatData, HeartbeatError


@pytest.mark.parametrize("topic", ["TopicTest", "a", "A-b_c|d%e", "x" * 127, "%RETRY%" + "g" * 248])
def test_valid_topics(topic: str) -> None:
    assert tv.check_topic(topic) is None


@pytest.mark.parametrize(
    ("topic", "fragment"),
    [
        ("", "blank"),
        ("   ", "blank"),
        (None, "blank"),
        ("x" * 128, "longer than topic max length 127"),
        ("%RETRY%" + "g" * 249, "longer than topic max length 255"),
        ("bad topic", "illegal characters"),
        ("bad/topic", "illegal characters"),
        ("tópico", "illegal characters"),
        ("a@b", "illegal characters"),
    ],
)
def test_invalid_topics(topic: str | None, fragment: str) -> None:
    remark = tv.check_topic(topic)
    assert remark is not None and fragment in remark


def test_group_rules() -> None:
    assert tv.check_group("CID_group-1") is None
    assert tv.check_group("") is not None
    assert tv.check_group("g" * 256) is not None
    assert tv.check_group("g@1") is not None


def test_system_topics() -> None:
    assert tv.is_system_topic("TBW102")
    assert tv.is_system_topic("rmq_sys_anything")
    assert tv.is_system_topic("DefaultCluster", frozenset({"DefaultCluster"}))
    assert not tv.is_system_topic("TopicTest")
    assert tv.is_not_allowed_send_topic("SCHEDULE_TOPIC_XXXX")
    assert tv.is_not_allowed_send_topic("RMQ_SYS_TRANS_HALF_TOPIC")
    assert not tv.is_not_allowed_send_topic("TBW102")
    assert tv.retry_topic("g") == "%RETRY%g" and tv.is_retry_topic("%RETRY%g")
    assert tv.dlq_topic("g") == "%DLQ%g" and tv.is_dlq_topic("%DLQ%g")


def test_perm_bits() -> None:
    assert perm.is_readable(6) and perm.is_writeable(6) and not perm.is_inherited(6)
    assert perm.is_inherited(7)
    assert not perm.is_writeable(4)
    assert perm.perm_to_string(7) == "RWX"
    assert perm.perm_to_string(4) == "R--"


def test_heartbeat_with_enum_names() -> None:
    data = HeartbeatData.from_json(
        {
            "clientID": "127.0.0.1@1",
            "producerDataSet": [{"groupName": "P"}, {"groupName": "CLIENT_INNER_PRODUCER"}],
            "consumerDataSet": [
                {
                    "groupName": "G",
                    "consumeType": "CONSUME_PASSIVELY",
                    "messageModel": "CLUSTERING",
                    "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
                    "subscriptionDataSet": [
                        {
                            "topic": "T",
                            "subString": "TagA || TagB",
                            "tagsSet": ["TagA", "TagB"],
                            "codeSet": [2598919, 2598920],
                            "subVersion": 1700000000000,
                            "expressionType": "TAG",
                        }
                    ],
                    "unitMode": False,
                }
            ],
        }
    )
    assert data.client_id == "127.0.0.1@1"
    assert data.producer_groups == ["P", "CLIENT_INNER_PRODUCER"]
    consumer = data.consumers[0]
    assert consumer.consume_from_where == "CONSUME_FROM_FIRST_OFFSET"
    assert consumer.subscriptions[0].sub_string == "TagA || TagB"
    assert consumer.subscriptions[0].sub_version == 1700000000000


def test_heartbeat_with_cpp_ordinals() -> None:
    data = HeartbeatData.from_json(
        {
            "clientID": "c",
            "consumerDataSet": [
                {
                    "groupName": "G",
                    "consumeType": 1,
                    "messageModel": 1,
                    "consumeFromWhere": 0,
                    "subscriptionDataSet": [{"topic": "T", "subString": "*", "subVersion": "5"}],
                }
            ],
        }
    )
    consumer = data.consumers[0]
    assert consumer.consume_type == "CONSUME_PASSIVELY"
    assert consumer.message_model == "CLUSTERING"
    assert consumer.consume_from_where == "CONSUME_FROM_LAST_OFFSET"
    assert consumer.subscriptions[0].sub_version == 5


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        {"clientID": ""},
        {"clientID": "c", "consumerDataSet": [{"groupName": "G", "messageModel": 7}]},
        {"clientID": "c", "consumerDataSet": [{"groupName": "G", "messageModel": "NOPE"}]},
        {"clientID": "c", "consumerDataSet": [{"consumeType": 1}]},
        {"clientID": "c", "consumerDataSet": "x"},
        {"clientID": "c", "producerDataSet": [{}]},
        {"clientID": "c", "consumerDataSet": [{"groupName": "G", "subscriptionDataSet": [{}]}]},
    ],
)
def test_heartbeat_rejects_malformed_bodies(body: object) -> None:
    with pytest.raises(HeartbeatError):
        HeartbeatData.from_json(body)
