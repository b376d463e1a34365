"""Shared protocol bodies: round trips, the forms Java peers write, and bad input."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.broker import heartbeat as broker_heartbeat
from rmq_core.client import route as client_route
from rmq_core.client.heartbeat import ConsumerData as ClientConsumerData
from rmq_core.client.heartbeat import SubscriptionData as ClientSubscriptionData
from rmq_core.client.heartbeat import build_heartbeat
from rmq_core.namesrv import bodies as namesrv_bodies
from rmq_core.namesrv import model as namesrv_model
from rmq_core.remoting.bodies import (
    BodyError,
    BrokerData,
    ClusterInfo,
    ConsumerData,
    DataVersion,
    HeartbeatData,
    HeartbeatError,
    QueueData,
    RegisterBrokerBody,
    SubscriptionData,
    TopicConfig,
    TopicRouteData,
    decode_cluster_info,
    decode_data_version,
    decode_heartbeat,
    decode_register_broker_body,
    decode_topic_route,
    encode_cluster_info,
    encode_data_version,
    encode_heartbeat,
    encode_register_broker_body,
    encode_topic_route,
)

ROUTE = TopicRouteData(
    queue_datas=[QueueData("b", 4, 4, 6), QueueData("a", 2, 2, 4)],
    broker_datas=[
        BrokerData("C", "b", {0: "10.0.0.2:10911", 1: "10.0.0.3:10911"}, zone_name="z1"),
        BrokerData("C", "a", {1: "10.0.0.1:10911"}, enable_acting_master=True),
    ],
    filter_server_table={"10.0.0.2:10911": ["10.0.0.2:30000"]},
    order_topic_conf="b:4",
    topic_queue_mapping_by_broker={"b": {"topic": "T", "bname": "b"}},
)


def test_one_model_for_every_side() -> None:
    assert namesrv_model.TopicRouteData is client_route.TopicRouteData is TopicRouteData
    assert namesrv_model.BrokerData is client_route.BrokerData is BrokerData
    assert namesrv_model.DataVersion is DataVersion
    assert broker_heartbeat.HeartbeatData is HeartbeatData
    assert namesrv_bodies.decode_topic_route is decode_topic_route


@pytest.mark.parametrize("standard", [True, False])
def test_route_round_trip_keeps_zone_name_and_filter_servers(standard: bool) -> None:
    data = encode_topic_route(ROUTE, standard=standard)
    assert (b'{"0":' in data) is standard and (b"{0:" in data) is not standard
    route = decode_topic_route(data)
    assert route == ROUTE
    assert route.broker("b") is not None and route.broker("b").zone_name == "z1"  # type: ignore[union-attr]
    assert TopicRouteData.decode(data) == ROUTE


def test_route_views_the_client_uses() -> None:
    b, a = ROUTE.broker_datas
    assert (b.master_addr, b.select_addr()) == ("10.0.0.2:10911", "10.0.0.2:10911")
    assert (a.master_addr, a.select_addr()) == (None, "10.0.0.1:10911")
    assert [q.writable for q in ROUTE.queue_datas] == [True, False]
    assert all(q.readable for q in ROUTE.queue_datas)
    info = client_route.publish_queues("T", ROUTE)
    assert info.order_topic and [q.queue_id for q in info.queues] == [0, 1, 2, 3]
    plain = TopicRouteData(ROUTE.queue_datas, ROUTE.broker_datas)
    assert [q.broker_name for q in client_route.publish_queues("T", plain).queues] == ["b"] * 4
    assert len(client_route.subscribe_queues("T", plain)) == 6


def test_cluster_info_round_trip_and_master_addrs() -> None:
    info = ClusterInfo(
        broker_addr_table={b.broker_name: b for b in ROUTE.broker_datas},
        cluster_addr_table={"C": ["a", "b"]},
    )
    data = encode_cluster_info(info)
    assert b'"brokerAddrs":{0:"10.0.0.2:10911",1:' in data
    decoded = decode_cluster_info(data)
    assert decoded == info
    assert decoded.brokers is decoded.broker_addr_table and decoded.clusters == {"C": ["a", "b"]}
    assert decoded.master_addrs() == ["10.0.0.2:10911"]
    assert decoded.master_addrs("nope") == []


def test_data_version_round_trip_and_order() -> None:
    version = DataVersion(counter=3, state_version=1, timestamp=1_700_000_000_000)
    data = encode_data_version(version)
    assert data == b'{"counter":3,"stateVersion":1,"timestamp":1700000000000}'
    assert decode_data_version(data) == version
    later = version.copy()
    later.next_version()
    assert later.counter == 4 and later.sort_key() > version.sort_key()
    assert DataVersion.now().timestamp > 0
    with pytest.raises(BodyError, match="counter"):
        decode_data_version(b'{"counter":"many"}')


@pytest.mark.parametrize(("compressed", "version"), [(False, 401), (True, 401), (True, 479)])
def test_register_body_round_trip(compressed: bool, version: int) -> None:
    body = RegisterBrokerBody(
        data_version=DataVersion(counter=9, timestamp=5),
        topic_config_table={
            "T": TopicConfig("T", 8, 4, 6, attributes={"+message.type": "NORMAL"}),
            "TBW102": TopicConfig("TBW102", 8, 8, 7, order=False),
        },
        filter_server_list=["f:1"],
        topic_queue_mapping_info_map={"T": {"topic": "T", "bname": "b"}} if version > 413 else {},
        mapping_data_version=None if compressed else DataVersion(timestamp=1),
    )
    data = encode_register_broker_body(body, compressed=compressed, version=version)
    assert decode_register_broker_body(data, compressed=compressed, version=version) == body


def test_topic_config_text_form() -> None:
    config = TopicConfig("T", 3, 2, 6, "MULTI_TAG", attributes={"k": "v"})
    assert config.to_text() == 'T 3 2 6 MULTI_TAG {"k":"v"}'
    assert TopicConfig.from_text(config.to_text()) == config
    assert TopicConfig.from_json(config.to_json(), "ignored") == config


def heartbeat() -> HeartbeatData:
    sub = SubscriptionData("T", "A || B", "TAG", 17, ["A", "B"], [65, 66])
    consumer = ConsumerData("CG", "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_LAST_OFFSET")
    consumer.subscriptions.append(sub)
    return HeartbeatData("ip@1", ["PG"], [consumer])


def test_heartbeat_round_trip() -> None:
    data = encode_heartbeat(heartbeat())
    assert decode_heartbeat(data) == heartbeat()
    assert json.loads(data)["producerDataSet"] == [{"groupName": "PG"}]


def test_client_heartbeat_is_what_the_broker_decodes() -> None:
    sub = ClientSubscriptionData.build("T", "TagA || TagB")
    consumer = ClientConsumerData(
        "CG", "CONSUME_PASSIVELY", "BROADCASTING", "CONSUME_FROM_FIRST_OFFSET", (sub,)
    )
    decoded = decode_heartbeat(build_heartbeat("ip@1", ["P2", "P1"], [consumer]))
    assert decoded.producer_groups == ["P1", "P2"]
    (wire,) = decoded.consumers
    assert (wire.group_name, wire.message_model) == ("CG", "BROADCASTING")
    (wire_sub,) = wire.subscriptions
    assert wire_sub.sub_string == "TagA || TagB" and wire_sub.tags_set == ["TagA", "TagB"]
    assert wire_sub.code_set == sorted(sub.expression.codes)
    assert wire_sub.sub_version == sub.sub_version


def test_heartbeat_accepts_cpp_ordinals() -> None:
    doc = {
        "clientID": "c",
        "consumerDataSet": [
            {"groupName": "G", "consumeType": 1, "messageModel": 0, "consumeFromWhere": "4"}
        ],
    }
    (consumer,) = decode_heartbeat(json.dumps(doc).encode()).consumers
    assert consumer.message_model == "BROADCASTING"
    assert consumer.consume_from_where == "CONSUME_FROM_FIRST_OFFSET"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty body"),
        (b"{nope", "malformed JSON"),
        (b"[]", "JSON object"),
        (b'{"clientID":""}', "without clientID"),
        (b'{"clientID":"c","consumerDataSet":[{"groupName":"G","messageModel":9}]}', "ordinal"),
    ],
)
def test_heartbeat_errors(data: bytes, message: str) -> None:
    with pytest.raises(HeartbeatError, match=message):
        decode_heartbeat(data)


@given(st.binary(max_size=120))
def test_decoders_raise_only_body_errors(data: bytes) -> None:
    for decode in (decode_topic_route, decode_cluster_info, decode_data_version, decode_heartbeat):
        with contextlib.suppress(BodyError):
            decode(data)
