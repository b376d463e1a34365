"""NameServer JSON bodies: golden route JSON in both forms, RegisterBrokerBody in all forms."""

from __future__ import annotations

import contextlib
import json
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.namesrv.bodies import (
    MAX_INFLATED_BODY,
    BodyError,
    decode_cluster_info,
    decode_data_version,
    decode_kv_table,
    decode_register_broker_body,
    decode_topic_list,
    decode_topic_route,
    encode_cluster_info,
    encode_data_version,
    encode_kv_table,
    encode_register_broker_body,
    encode_topic_list,
    encode_topic_route,
)
from rmq_core.namesrv.model import (
    BrokerData,
    ClusterInfo,
    DataVersion,
    QueueData,
    RegisterBrokerBody,
    TopicConfig,
    TopicRouteData,
)

ROUTE = TopicRouteData(
    queue_datas=[QueueData("broker-a", 4, 4, 6, 0)],
    broker_datas=[BrokerData("DefaultCluster", "broker-a", {0: "192.168.0.10:10911"})],
)

# Reference §3.1, standard form.
STANDARD = (
    b'{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.10:10911"},"brokerName":"broker-a",'
    b'"cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},'
    b'"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,'
    b'"writeQueueNums":4}]}'
)


def test_route_standard_json_golden() -> None:
    assert encode_topic_route(ROUTE, standard=True) == STANDARD


def test_route_fastjson_form_has_bare_numeric_keys() -> None:
    assert encode_topic_route(ROUTE, standard=False) == STANDARD.replace(b'{"0":', b"{0:")


def test_route_keys_sorted_numerically_and_non_ascii_escaped_in_standard_form() -> None:
    route = TopicRouteData(
        queue_datas=[QueueData("b", 1, 1, 6)],
        broker_datas=[BrokerData("集群", "b", {10: "c:1", 2: "b:1", 0: "a:1"})],
        order_topic_conf="b:1",
    )
    text = encode_topic_route(route, standard=True)
    assert b'"brokerAddrs":{"0":"a:1","2":"b:1","10":"c:1"}' in text
    assert b'"cluster":"\\u96c6\\u7fa4"' in text
    assert b'"orderTopicConf":"b:1"' in text
    assert text.isascii()
    assert decode_topic_route(text) == route
    assert decode_topic_route(encode_topic_route(route, standard=False)) == route


def test_route_decodes_java_fastjson_output() -> None:
    java = (
        b'{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},'
        b'"brokerName":"b","cluster":"c","enableActingMaster":false}],'
        b'"filterServerTable":{},"queueDatas":[{"brokerName":"b","perm":6,'
        b'"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}'
    )
    route = decode_topic_route(java)
    assert route.broker_datas[0].broker_addrs == {0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}
    assert route.queue_datas == [QueueData("b", 8, 8, 6, 0)]


def test_cluster_info_uses_bare_keys_like_java() -> None:
    info = ClusterInfo(
        broker_addr_table={"b": BrokerData("c", "b", {0: "a:1", 1: "a:2"})},
        cluster_addr_table={"c": ["b"]},
    )
    text = encode_cluster_info(info)
    assert text == (
        b'{"brokerAddrTable":{"b":{"brokerAddrs":{0:"a:1",1:"a:2"},"brokerName":"b",'
        b'"cluster":"c","enableActingMaster":false}},"clusterAddrTable":{"c":["b"]}}'
    )
    assert decode_cluster_info(text) == info


def test_small_bodies() -> None:
    assert encode_topic_list(["a", "b"]) == b'{"topicList":["a","b"]}'
    assert decode_topic_list(encode_topic_list(["x"], "h:1")) == (["x"], "h:1")
    assert encode_kv_table({"k": "v"}) == b'{"table":{"k":"v"}}'
    assert decode_kv_table(b'{"table":{"k":"v"}}') == {"k": "v"}
    version = DataVersion(counter=3, state_version=1, timestamp=1700000000000)
    assert encode_data_version(version) == (
        b'{"counter":3,"stateVersion":1,"timestamp":1700000000000}'
    )
    assert decode_data_version(encode_data_version(version)) == version


def make_body() -> RegisterBrokerBody:
    return RegisterBrokerBody(
        data_version=DataVersion(counter=5, state_version=0, timestamp=1700000000123),
        topic_config_table={
            "TopicTest": TopicConfig("TopicTest", 8, 8, 6, attributes={"message.type": "NORMAL"}),
            "TBW102": TopicConfig("TBW102", 8, 8, 7),
        },
        filter_server_list=[],
    )


def test_register_body_json_as_java_sends_it() -> None:
    java = (
        b'{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":5,'
        b'"stateVersion":0,"timestamp":1700000000123},"mappingDataVersion":{"counter":0,'
        b'"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":'
        b'{"attributes":{"message.type":"NORMAL"},"order":false,"perm":6,"readQueueNums":8,'
        b'"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,'
        b'"writeQueueNums":8},"TBW102":{"attributes":{},"order":false,"perm":7,'
        b'"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102",'
        b'"topicSysFlag":0,"writeQueueNums":8}},"topicQueueMappingDetailMap":{},'
        b'"topicQueueMappingInfoMap":{}}}'
    )
    expected = make_body()
    expected.mapping_data_version = DataVersion(timestamp=1700000000000)
    assert decode_register_broker_body(java, compressed=False, version=479) == expected


def test_register_body_json_round_trip() -> None:
    body = make_body()
    data = encode_register_broker_body(body)
    assert decode_register_broker_body(data, compressed=False, version=401) == body


def test_register_body_old_broker_sends_bare_wrapper() -> None:
    wrapper = json.loads(encode_register_broker_body(make_body()))["topicConfigSerializeWrapper"]
    data = json.dumps(wrapper).encode()
    body = decode_register_broker_body(data, compressed=False, version=20)
    assert body.topic_config_table == make_body().topic_config_table


@pytest.mark.parametrize("version", [401, 479])
def test_register_body_compressed_round_trip(version: int) -> None:
    body = make_body()
    data = encode_register_broker_body(body, compressed=True, version=version)
    assert decode_register_broker_body(data, compressed=True, version=version) == body


def compressed(*chunks: bytes) -> bytes:
    return zlib.compress(b"".join(chunks), 9)


def text(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">i", len(raw)) + raw


def test_register_body_compressed_golden_layout() -> None:
    data = compressed(
        text('{"counter":2,"stateVersion":0,"timestamp":7}'),
        struct.pack(">i", 2),
        text("T1 4 4 6 SINGLE_TAG"),
        text('T2 2 2 4 MULTI_TAG {"k":"v"}'),
        text('["f:1"]'),
        struct.pack(">i", 1),
        text('{"topic":"T1","bname":"b","currIdMap":{0:"b"}}'),
    )
    body = decode_register_broker_body(data, compressed=True, version=479)
    assert body.data_version == DataVersion(2, 0, 7)
    assert body.topic_config_table == {
        "T1": TopicConfig("T1", 4, 4, 6, "SINGLE_TAG"),
        "T2": TopicConfig("T2", 2, 2, 4, "MULTI_TAG", attributes={"k": "v"}),
    }
    assert body.filter_server_list == ["f:1"]
    assert body.topic_queue_mapping_info_map["T1"]["currIdMap"] == {0: "b"}


def test_register_body_compressed_4x_stops_after_filter_servers() -> None:
    data = compressed(text("{}"), struct.pack(">i", 0), text("[]"), b"\x00\x00\x00\x09junk")
    body = decode_register_broker_body(data, compressed=True, version=401)
    assert body.topic_config_table == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty body"),
        (b"{not json", "malformed JSON"),
        (b"[1,2]", "expected a JSON object"),
        (b'{"topicConfigSerializeWrapper":[]}', "must be an object"),
        (
            b'{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":"x"}}}}',
            "readQueueNums",
        ),
        (b'{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":5}}}', "must be an object"),
        (b'{"filterServerList":[1]}', "strings only"),
        (b"\xff\xfe", "malformed JSON"),
    ],
)
def test_register_body_json_errors(data: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message):
        decode_register_broker_body(data, compressed=False, version=401)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not zlib", "not a zlib stream"),
        (compressed(b"\x00\x00"), "truncated"),
        (compressed(text("{}"), struct.pack(">i", 1), text("T1 4")), "fewer than 5"),
        (compressed(text("{}"), struct.pack(">i", 1), text("T1 a 4 6 X")), "invalid literal"),
        (compressed(text("{}"), struct.pack(">i", -1)), "negative topic count"),
        (compressed(text("{}"), struct.pack(">i", 0), struct.pack(">i", 99)), "bad length"),
        (compressed(text("{}"), struct.pack(">i", 0), text("{}")), "not an array"),
    ],
)
def test_register_body_compressed_errors(data: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message):
        decode_register_broker_body(data, compressed=True, version=479)


def test_register_body_compressed_bomb_is_refused() -> None:
    bomb = zlib.compress(b"\x00" * (MAX_INFLATED_BODY + 10), 9)
    with pytest.raises(BodyError, match="inflates past"):
        decode_register_broker_body(bomb, compressed=True, version=479)


@given(st.binary(max_size=200), st.sampled_from(["json", "raw", "deflated"]))
def test_register_body_never_crashes_on_random_bytes(data: bytes, form: str) -> None:
    """Random bytes, raw or deflated (so the inner layout gets fuzzed too): BodyError only."""
    payload = zlib.compress(data) if form == "deflated" else data
    with contextlib.suppress(BodyError):
        decode_register_broker_body(payload, compressed=form != "json", version=479)
