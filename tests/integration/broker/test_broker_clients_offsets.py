"""Heartbeats, consumer lists, NOTIFY_CONSUMER_IDS_CHANGED, unregistering and offsets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.headers import (
    GetConsumerListByGroupRequestHeader,
    GetEarliestMsgStoretimeRequestHeader,
    GetMaxOffsetRequestHeader,
    GetMinOffsetRequestHeader,
    QueryConsumerOffsetRequestHeader,
    SearchOffsetRequestHeader,
    UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)
from tests.support.broker_client import RawBrokerClient
from tests.support.cluster import Cluster, wait_max_offset, wait_route


async def consumer_ids(raw: RawBrokerClient, group: str) -> list[str]:
    response = await raw.call(
        RequestCode.GET_CONSUMER_LIST_BY_GROUP,
        GetConsumerListByGroupRequestHeader(consumer_group=group),
    )
    if response.code != ResponseCode.SUCCESS:
        return []
    ids: list[str] = json.loads(response.body)["consumerIdList"]
    return ids


def test_heartbeat_registers_group_retry_topic_and_notifies(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        hb = await raw.heartbeat(consumer_group="CG", topic="T", producer_group="PG")
        assert hb.code == ResponseCode.SUCCESS and hb.version >= 401
        ctx = cluster.broker.context
        assert ctx.topics.select("%RETRY%CG") is not None
        assert ctx.groups.select("CG") is not None
        assert [c.client_id for c in ctx.producers.channels("PG")] == [raw.client_id]
        await wait_route(cluster, "%RETRY%CG")
        assert await consumer_ids(raw, "CG") == [raw.client_id]
        # the first member learns about the second one through the broker
        await asyncio.wait_for(raw.notified.wait(), 5)  # its own registration
        raw.notified.clear()
        async with RawBrokerClient(cluster.broker_addr, "127.0.0.1@second") as second:
            await second.heartbeat(consumer_group="CG", topic="T")
            assert sorted(await consumer_ids(second, "CG")) == sorted(
                [raw.client_id, "127.0.0.1@second"]
            )
            await asyncio.wait_for(raw.notified.wait(), 5)
            notification = raw.notifications[-1]
            assert notification.code == RequestCode.NOTIFY_CONSUMER_IDS_CHANGED
            assert notification.is_oneway
            assert notification.ext_fields["consumerGroup"] == "CG"
            raw.notified.clear()
        # the second client's connection closed: the remaining member is told again
        await asyncio.wait_for(raw.notified.wait(), 5)
        assert await consumer_ids(raw, "CG") == [raw.client_id]
        unregister = await raw.call(
            RequestCode.UNREGISTER_CLIENT,
            UnregisterClientRequestHeader(
                client_id=raw.client_id, producer_group="", consumer_group="CG"
            ),
        )
        assert unregister.code == ResponseCode.SUCCESS
        assert await consumer_ids(raw, "CG") == []
        assert [c.client_id for c in ctx.producers.channels("PG")] == [raw.client_id]

    with_cluster(scenario)


def test_heartbeat_accepts_cpp_ordinals_and_rejects_garbage(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        ordinal = await raw.heartbeat(consumer_group="CPP", message_model=1)
        assert ordinal.code == ResponseCode.SUCCESS
        info = cluster.broker.context.consumers.get_consumer_group_info("CPP")
        assert info is not None and info.message_model == "CLUSTERING"
        garbage = await raw.call(RequestCode.HEART_BEAT, body=b"{not json")
        assert garbage.code == ResponseCode.SYSTEM_ERROR and garbage.remark
        bad_group = await raw.heartbeat(consumer_group="bad group")
        assert bad_group.code == ResponseCode.INVALID_PARAMETER

    with_cluster(scenario)


def test_consumer_offsets(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        for i in range(3):
            await raw.send("OffTopic", b"%d" % i)
        await wait_max_offset(cluster, "OffTopic", 0, 3)

        async def query(group: str, queue_id: int = 0, zero: bool | None = None) -> Any:
            return await raw.call(
                RequestCode.QUERY_CONSUMER_OFFSET,
                QueryConsumerOffsetRequestHeader(
                    consumer_group=group,
                    topic="OffTopic",
                    queue_id=queue_id,
                    set_zero_if_not_found=zero,
                ),
            )

        async def update(group: str, offset: int) -> Any:
            return await raw.call(
                RequestCode.UPDATE_CONSUMER_OFFSET,
                UpdateConsumerOffsetRequestHeader(
                    consumer_group=group, topic="OffTopic", queue_id=0, commit_offset=offset
                ),
            )

        # young queue, new group: start from 0 (RocketMQ's rule), unless told otherwise
        fresh = await query("NewGroup")
        assert fresh.code == ResponseCode.SUCCESS and fresh.ext_fields["offset"] == "0"
        strict = await query("NewGroup", zero=False)
        assert strict.code == ResponseCode.QUERY_NOT_FOUND
        assert (await update("OG", -1)).code == ResponseCode.SUCCESS  # ali-ons: no offset
        assert cluster.broker.context.offsets.query_offset("OG", "OffTopic", 0) == -1
        assert (await update("OG", 2)).code == ResponseCode.SUCCESS
        known = await query("OG")
        assert known.ext_fields["offset"] == "2"
        # piggy-backed commit on a pull (sysFlag bit 0)
        await raw.pull("OG", "OffTopic", 0, 2, sys_flag=0x1 | 0x4, commit_offset=3)
        assert (await query("OG")).ext_fields["offset"] == "3"

        max_offset = await raw.call(
            RequestCode.GET_MAX_OFFSET, GetMaxOffsetRequestHeader(topic="OffTopic", queue_id=0)
        )
        assert max_offset.ext_fields["offset"] == "3"
        min_offset = await raw.call(
            RequestCode.GET_MIN_OFFSET, GetMinOffsetRequestHeader(topic="OffTopic", queue_id=0)
        )
        assert min_offset.ext_fields["offset"] == "0"
        earliest = await raw.call(
            RequestCode.GET_EARLIEST_MSG_STORETIME,
            GetEarliestMsgStoretimeRequestHeader(topic="OffTopic", queue_id=0),
        )
        assert abs(int(earliest.ext_fields["timestamp"]) - time.time() * 1000) < 60_000
        future = await raw.call(
            RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
            SearchOffsetRequestHeader(
                topic="OffTopic", queue_id=0, timestamp=int(time.time() * 1000) + 60_000
            ),
        )
        assert future.code == ResponseCode.SUCCESS and future.ext_fields["offset"] == "3"
        past = await raw.call(
            RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
            SearchOffsetRequestHeader(
                topic="OffTopic", queue_id=0, timestamp=0, boundary_type="lower"
            ),
        )
        assert past.ext_fields["offset"] == "0"

    with_cluster(scenario)


def test_offsets_survive_a_restart(tmp_path: Any, arun: Callable[..., Any]) -> None:
    from tests.support.cluster import running_cluster

    async def scenario() -> None:
        async with (
            running_cluster(tmp_path / "store") as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            await raw.send("Persist", b"x")
            await raw.heartbeat(consumer_group="PG1", topic="Persist")
            await raw.call(
                RequestCode.UPDATE_CONSUMER_OFFSET,
                UpdateConsumerOffsetRequestHeader(
                    consumer_group="PG1", topic="Persist", queue_id=0, commit_offset=1
                ),
            )
        offsets = (tmp_path / "store" / "config" / "consumerOffset.json").read_text()
        assert '"Persist@PG1":{0:1}' in offsets
        async with running_cluster(tmp_path / "store") as cluster:
            ctx = cluster.broker.context
            assert ctx.offsets.query_offset("PG1", "Persist", 0) == 1
            assert ctx.topics.select("Persist") is not None
            assert ctx.topics.select("%RETRY%PG1") is not None
            assert ctx.groups.select("PG1") is not None
            await wait_route(cluster, "Persist")

    arun(scenario())
