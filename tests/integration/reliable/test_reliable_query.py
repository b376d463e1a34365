"""Message query by key (IndexFile, time range, max results), by UNIQ_KEY and by offset id."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rmq_core.client import Message, Producer
from rmq_core.client.query import MessageQuery
from rmq_core.common.message_codec import create_offset_msg_id
from rmq_core.errors import BrokerError, ClientError, TopicNotExistError
from tests.integration.reliable.reliable_support import client_options, run, wait_until
from tests.support.cluster import running_cluster


def test_query_by_key_uniq_key_and_offset_id(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path) as cluster:
            ns = cluster.namesrv_addr
            async with Producer("PG_Q", ns, **client_options("query-p")) as producer:
                results = []
                sent_from = time.time()
                for i in range(12):
                    msg = Message("QueryTopic", f"order {i}".encode() * (600 if i == 3 else 1))
                    msg.keys = [f"order-{i % 4}", "all"]
                    msg.tags = "TagQ"
                    msg.put_user_property("n", str(i))
                    results.append(await producer.send(msg))
                async with MessageQuery.connect(ns) as query:
                    await wait_until(
                        lambda: cluster.broker.context.store.dispatch_behind_bytes == 0,
                        5,
                        "index dispatch",
                    )
                    found = await query.query_message("QueryTopic", "order-1", 32)
                    assert [m.properties["n"] for m in found.messages] == ["1", "5", "9"]
                    assert found.index_last_update_timestamp > 0
                    for msg in found.messages:
                        assert msg.tags == "TagQ" and "order-1" in msg.keys
                    limited = await query.query_message("QueryTopic", "all", 5)
                    assert len(limited.messages) == 5
                    future = time.time() + 3600  # seconds since the epoch
                    assert (
                        await query.query_message("QueryTopic", "all", 32, future, future + 1)
                    ).messages == []
                    window = await query.query_message(
                        "QueryTopic", "order-1", 32, begin=sent_from - 1, end=time.time() + 1
                    )
                    assert [m.properties["n"] for m in window.messages] == ["1", "5", "9"]
                    for bad_range in ((-1.0, None), (10.0, 5.0), (float("nan"), None)):
                        with pytest.raises(ClientError):
                            await query.query_message("QueryTopic", "all", 32, *bad_range)
                    assert (await query.query_message("QueryTopic", "nope")).messages == []
                    # Prefixes and hash collisions do not match: keys are compared exactly.
                    assert (await query.query_message("QueryTopic", "order-")).messages == []

                    third = results[3]
                    by_uniq = await query.query_message_by_uniq_key("QueryTopic", third.msg_id)
                    assert by_uniq is not None and by_uniq.properties["n"] == "3"
                    assert by_uniq.body == b"order 3" * 600  # compressed on the wire
                    assert await query.query_message_by_uniq_key("QueryTopic", "AB" * 16) is None

                    viewed = await query.view_message(third.offset_msg_id)
                    assert viewed.unique_key == third.msg_id
                    assert viewed.properties["n"] == "3" and viewed.keys == ["order-3", "all"]
                    assert viewed.msg_id == third.offset_msg_id

                    with pytest.raises(ClientError):
                        await query.view_message("not-an-id")
                    beyond = create_offset_msg_id(cluster.broker_addr, 10**9)
                    with pytest.raises(BrokerError):
                        await query.view_message(beyond)
                    with pytest.raises(TopicNotExistError):
                        await query.query_message("NoSuchTopicHere", "x")
                    with pytest.raises(ClientError):
                        await query.query_message("QueryTopic", "")
                    # The same API through a producer's own connection.
                    shared = MessageQuery(producer.instance.api)
                    assert len((await shared.query_message("QueryTopic", "order-2")).messages) == 3

    run(scenario())
