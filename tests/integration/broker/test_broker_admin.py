"""Admin request codes: topics, subscription groups, broker config, runtime info, queries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rmq_core.broker.properties import parse_properties
from rmq_core.common.message_codec import decode_offset_msg_id
from rmq_core.remoting import fastjson
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.headers import (
    CreateTopicRequestHeader,
    DeleteSubscriptionGroupRequestHeader,
    DeleteTopicRequestHeader,
    GetTopicStatsInfoRequestHeader,
    QueryMessageRequestHeader,
    ViewMessageRequestHeader,
)
from tests.support.broker_client import RawBrokerClient
from tests.support.cluster import Cluster, wait_max_offset, wait_route


def create_header(topic: str, **changes: Any) -> CreateTopicRequestHeader:
    values: dict[str, Any] = {
        "topic": topic,
        "default_topic": "TBW102",
        "read_queue_nums": 4,
        "write_queue_nums": 4,
        "perm": 6,
        "topic_filter_type": "SINGLE_TAG",
    }
    values.update(changes)
    return CreateTopicRequestHeader(**values)


def test_topic_admin(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        created = await raw.call(
            RequestCode.UPDATE_AND_CREATE_TOPIC,
            create_header("AdminTopic", write_queue_nums=2, attributes="+message.type=NORMAL"),
        )
        assert created.code == ResponseCode.SUCCESS, created.remark
        route = await wait_route(cluster, "AdminTopic")
        assert route["queueDatas"][0]["writeQueueNums"] == 2
        everything = await raw.call(RequestCode.GET_ALL_TOPIC_CONFIG)
        table = fastjson.loads(everything.body)["topicConfigTable"]
        assert table["AdminTopic"]["attributes"] == {"message.type": "NORMAL"}
        assert table["TBW102"]["perm"] == 7
        await raw.send("AdminTopic", b"x", queue_id=1)
        await wait_max_offset(cluster, "AdminTopic", 1, 1)
        stats = await raw.call(
            RequestCode.GET_TOPIC_STATS_INFO, GetTopicStatsInfoRequestHeader(topic="AdminTopic")
        )
        offsets = fastjson.loads(stats.body)["offsetTable"]
        by_queue = {key.value["queueId"]: value for key, value in offsets.items()}
        assert by_queue[1]["maxOffset"] == 1 and by_queue[0]["maxOffset"] == 0
        assert by_queue[1]["lastUpdateTimestamp"] > 0
        deleted = await raw.call(
            RequestCode.DELETE_TOPIC_IN_BROKER, DeleteTopicRequestHeader(topic="AdminTopic")
        )
        assert deleted.code == ResponseCode.SUCCESS
        assert cluster.broker.context.topics.select("AdminTopic") is None
        assert cluster.broker.context.store.get_max_offset_in_queue("AdminTopic", 1) == 0
        again = await raw.call(
            RequestCode.DELETE_TOPIC_IN_BROKER, DeleteTopicRequestHeader(topic="AdminTopic")
        )
        assert again.code == ResponseCode.SUCCESS
        system = await raw.call(
            RequestCode.DELETE_TOPIC_IN_BROKER, DeleteTopicRequestHeader(topic="TBW102")
        )
        assert system.code == ResponseCode.INVALID_PARAMETER

    with_cluster(scenario)


def test_subscription_group_admin(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        body = json.dumps({"groupName": "AdminGroup", "retryMaxTimes": 3, "consumeEnable": True})
        created = await raw.call(
            RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, body=body.encode()
        )
        assert created.code == ResponseCode.SUCCESS, created.remark
        listing = await raw.call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
        table = fastjson.loads(listing.body)["subscriptionGroupTable"]
        assert table["AdminGroup"]["retryMaxTimes"] == 3
        assert "dataVersion" in fastjson.loads(listing.body)
        deleted = await raw.call(
            RequestCode.DELETE_SUBSCRIPTIONGROUP,
            DeleteSubscriptionGroupRequestHeader(group_name="AdminGroup", clean_offset=True),
        )
        assert deleted.code == ResponseCode.SUCCESS
        assert cluster.broker.context.groups.select("AdminGroup") is None
        bad = await raw.call(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, body=b"[1]")
        assert bad.code == ResponseCode.INVALID_PARAMETER

    with_cluster(scenario)


def test_broker_config_and_runtime_info(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        got = await raw.call(RequestCode.GET_BROKER_CONFIG)
        props = parse_properties(got.body.decode())
        assert props["brokerName"] == "broker-a" and props["autoCreateTopicEnable"] == "true"
        assert props["flushDiskType"] == "ASYNC_FLUSH"
        assert json.loads(got.ext_fields["version"])["counter"] == 0
        updated = await raw.call(
            RequestCode.UPDATE_BROKER_CONFIG, body=b"autoCreateTopicEnable=false\n"
        )
        assert updated.code == ResponseCode.SUCCESS, updated.remark
        refused = await raw.send("NotAutoCreated", b"x")
        assert refused.code == ResponseCode.TOPIC_NOT_EXIST
        fixed = await raw.call(RequestCode.UPDATE_BROKER_CONFIG, body=b"listenPort=1\n")
        assert fixed.code == ResponseCode.INVALID_PARAMETER and "listenPort" in fixed.remark
        unknown = await raw.call(RequestCode.UPDATE_BROKER_CONFIG, body=b"noSuchKey=1\n")
        assert unknown.code == ResponseCode.INVALID_PARAMETER and "noSuchKey" in unknown.remark
        bad_value = await raw.call(
            RequestCode.UPDATE_BROKER_CONFIG, body=b"longPollingEnable=maybe\n"
        )
        assert bad_value.code == ResponseCode.INVALID_PARAMETER
        await raw.send("TBW102", b"y")  # TBW102 exists: sends to it are allowed
        runtime = await raw.call(RequestCode.GET_BROKER_RUNTIME_INFO)
        table = json.loads(runtime.body)["table"]
        assert all(isinstance(v, str) for v in table.values())
        for key in (
            "brokerVersionDesc",
            "msgPutTotalTodayNow",
            "msgGetTotalTodayNow",
            "putTps",
            "commitLogDiskRatio",
            "earliestMessageTimeStamp",
            "sendThreadPoolQueueSize",
        ):
            assert key in table, key
        assert int(table["msgPutTotalTodayNow"]) == 1

    with_cluster(scenario)


def test_query_by_key_and_view_by_id(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        sent = await raw.send("QTopic", b"findme", keys="order-42")
        await wait_max_offset(cluster, "QTopic", 0, 1)
        _, offset = decode_offset_msg_id(sent.ext_fields["msgId"])
        view = await raw.call(
            RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader(offset=offset)
        )
        assert view.code == ResponseCode.SUCCESS
        assert raw.decode(view)[0].body == b"findme"
        missing = await raw.call(
            RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader(offset=10**9)
        )
        assert missing.code == ResponseCode.SYSTEM_ERROR and missing.remark

        async def query(key: str) -> Any:
            return await raw.call(
                RequestCode.QUERY_MESSAGE,
                QueryMessageRequestHeader(
                    topic="QTopic", key=key, max_num=32, begin_timestamp=0, end_timestamp=2**62
                ),
            )

        found = await query("order-42")
        for _ in range(100):  # the index is built by the dispatcher
            if found.code == ResponseCode.SUCCESS:
                break
            found = await query("order-42")
        assert found.code == ResponseCode.SUCCESS
        assert [m.body for m in raw.decode(found)] == [b"findme"]
        assert "indexLastUpdateTimestamp" in found.ext_fields
        assert (await query("nope")).code == ResponseCode.QUERY_NOT_FOUND

    with_cluster(scenario)


def test_unknown_request_code(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        response = await raw.call(9999)
        assert response.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED

    with_cluster(scenario)


def test_broker_unregisters_on_shutdown(tmp_path: Any, arun: Callable[..., Any]) -> None:
    from tests.support.cluster import start_cluster

    async def scenario() -> None:
        cluster = await start_cluster(tmp_path / "store")
        try:
            assert len(cluster.namesrv.routes.live_brokers()) == 1
            await cluster.broker.shutdown()
            assert cluster.namesrv.routes.live_brokers() == {}
            assert cluster.namesrv.routes.broker_data("broker-a") is None
        finally:
            await cluster.namesrv.shutdown()

    arun(scenario())
