"""Bad input: each request gets RocketMQ's code with a remark, nothing is stored and the broker
keeps serving."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rmq_core.common.message import Message
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import (
    CreateTopicRequestHeader,
    GetMaxOffsetRequestHeader,
    QueryConsumerOffsetRequestHeader,
)
from tests.support.broker_client import RawBrokerClient, message_properties
from tests.support.cluster import Cluster, wait_max_offset

Case = Callable[[RawBrokerClient], Awaitable[RemotingCommand]]


def create(topic: str, read: int = 4, perm: int = 6, filter_type: str = "SINGLE_TAG") -> Case:
    header = CreateTopicRequestHeader(
        topic=topic,
        default_topic="TBW102",
        read_queue_nums=read,
        write_queue_nums=4,
        perm=perm,
        topic_filter_type=filter_type,
    )
    return lambda raw: raw.call(RequestCode.UPDATE_AND_CREATE_TOPIC, header)


CASES: list[tuple[str, Case, int]] = [
    (
        "illegal topic characters",
        lambda r: r.send("bad/topic", b"x"),
        ResponseCode.INVALID_PARAMETER,
    ),
    ("topic over 127 chars", lambda r: r.send("t" * 128, b"x"), ResponseCode.INVALID_PARAMETER),
    ("blank topic", lambda r: r.send(" ", b"x"), ResponseCode.INVALID_PARAMETER),
    ("schedule topic", lambda r: r.send("SCHEDULE_TOPIC_XXXX", b"x"), ResponseCode.NO_PERMISSION),
    (
        "transaction half topic",
        lambda r: r.send("RMQ_SYS_TRANS_HALF_TOPIC", b"x"),
        ResponseCode.NO_PERMISSION,
    ),
    ("body over 4 MiB", lambda r: r.send("Good", b"x" * (4 * 1024 * 1024 + 1)), 13),
    (
        "properties over 32767 bytes",
        lambda r: r.send("Good", b"x", properties={"big": "v" * 40000}),
        ResponseCode.MESSAGE_ILLEGAL,
    ),
    ("unknown queue id (send)", lambda r: r.send("Good", b"x", queue_id=99), 29),
    (
        "no template topic",
        lambda r: r.send("Fresh", b"x", default_topic="NoSuchTopic"),
        ResponseCode.TOPIC_NOT_EXIST,
    ),
    (
        "batch to a retry topic",
        lambda r: r.send_batch("%RETRY%G", [Message("%RETRY%G", b"x")]),
        ResponseCode.MESSAGE_ILLEGAL,
    ),
    (
        "malformed batch body",
        lambda r: r.call(
            RequestCode.SEND_BATCH_MESSAGE,
            ext_fields={
                "a": "P",
                "b": "Good",
                "c": "TBW102",
                "d": "4",
                "e": "0",
                "f": "0",
                "g": "0",
                "h": "0",
                "m": "true",
            },
            body=b"\x00\x00\x00\x30garbage",
        ),
        ResponseCode.MESSAGE_ILLEGAL,
    ),
    (
        "missing send header field",
        lambda r: r.call(RequestCode.SEND_MESSAGE_V2, ext_fields={"a": "P"}, body=b"x"),
        ResponseCode.SYSTEM_ERROR,
    ),
    ("pull unknown topic", lambda r: r.pull("G", "NoSuchTopic", 0, 0), 17),
    ("pull unknown queue id", lambda r: r.pull("G", "Good", 99, 0), 29),
    ("pull negative queue id", lambda r: r.pull("G", "Good", -1, 0), 29),
    (
        "pull with a bad SQL92 subscription",
        lambda r: r.pull("G", "Good", 0, 0, expression_type="SQL92", subscription="a >"),
        ResponseCode.SYSTEM_ERROR,
    ),
    (
        "pull with an unknown expression type",
        lambda r: r.pull("G", "Good", 0, 0, expression_type="XPATH", subscription="a"),
        ResponseCode.SUBSCRIPTION_PARSE_FAILED,
    ),
    (
        "max offset of an unknown topic",
        lambda r: r.call(
            RequestCode.GET_MAX_OFFSET, GetMaxOffsetRequestHeader(topic="NoSuchTopic", queue_id=0)
        ),
        ResponseCode.TOPIC_NOT_EXIST,
    ),
    (
        "max offset of an unknown queue",
        lambda r: r.call(
            RequestCode.GET_MAX_OFFSET, GetMaxOffsetRequestHeader(topic="Good", queue_id=42)
        ),
        ResponseCode.INVALID_PARAMETER,
    ),
    ("create topic with bad name", create("a b"), ResponseCode.INVALID_PARAMETER),
    ("create system topic", create("SCHEDULE_TOPIC_XXXX"), ResponseCode.INVALID_PARAMETER),
    ("create cluster-name topic", create("DefaultCluster"), ResponseCode.INVALID_PARAMETER),
    ("create topic with 0 queues", create("Zero", read=0), ResponseCode.INVALID_PARAMETER),
    ("create topic with bad perm", create("BadPerm", perm=64), ResponseCode.INVALID_PARAMETER),
    (
        "create topic with bad filter type",
        create("BadFilter", filter_type="X"),
        ResponseCode.INVALID_PARAMETER,
    ),
]


def test_bad_input_table(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        assert (await raw.send("Good", b"ok")).code == ResponseCode.SUCCESS
        await wait_max_offset(cluster, "Good", 0, 1)
        store = cluster.broker.context.store
        stored_before = store.max_phy_offset
        failures = []
        for name, case, expected in CASES:
            response = await case(raw)
            if response.code != expected or not response.remark:
                failures.append(f"{name}: got {response.code} {response.remark!r}")
            elif request_was_send(name) and "MSG_REGION" not in response.ext_fields:
                failures.append(f"{name}: send error without MSG_REGION")
        assert not failures, "\n".join(failures)
        assert store.max_phy_offset == stored_before, "a refused request stored something"
        assert cluster.broker.context.topics.select("Fresh") is None
        # still serving
        assert (await raw.send("Good", b"after")).code == ResponseCode.SUCCESS
        await wait_max_offset(cluster, "Good", 0, 2)
        assert len(raw.decode(await raw.pull("G", "Good", 0, 0))) == 2

    with_cluster(scenario)


def request_was_send(name: str) -> bool:
    return not name.startswith(("pull", "max offset", "create", "missing"))


def test_unknown_groups_without_auto_creation(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        assert (await raw.send("Good", b"ok")).code == ResponseCode.SUCCESS
        pulled = await raw.pull("NoGroup", "Good", 0, 0)
        assert pulled.code == ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST and pulled.remark
        assert "nextBeginOffset" in pulled.ext_fields
        query = await raw.call(
            RequestCode.QUERY_CONSUMER_OFFSET,
            QueryConsumerOffsetRequestHeader(consumer_group="NoGroup", topic="Good", queue_id=0),
        )
        assert query.code == ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST
        retry = await raw.send("%RETRY%NoGroup", b"x", properties=message_properties())
        assert retry.code == ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST

    with_cluster(scenario, broker={"autoCreateSubscriptionGroup": "false"})


def test_auto_create_off(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        assert cluster.broker.context.topics.select("TBW102") is None
        response = await raw.send("NeverCreated", b"x")
        assert response.code == ResponseCode.TOPIC_NOT_EXIST
        assert "NeverCreated" in (response.remark or "")
        assert cluster.broker.context.store.max_phy_offset == 0

    with_cluster(scenario, broker={"autoCreateTopicEnable": "false"})
