"""A pull's cost is bounded whatever it asks for: at most ``maxTransferCountOnMessageInMemory``
records per answer and at most ``max(maxFilterMessageSize / 20, that count)`` consume-queue
units scanned when a filter skips everything (800 by default, RocketMQ's 16,000 bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.remoting.codes import ResponseCode
from tests.support.broker_client import RawBrokerClient
from tests.support.cluster import Cluster, wait_max_offset

TOPIC = "BoundTopic"
QUEUE_SIZE = 3000  # more than the 800-unit scan limit, less than the old 16,000-unit one
SCAN_LIMIT_UNITS = 16000 // 20
MAX_INT = 2**31 - 1


def _fill(cluster: Cluster, count: int) -> None:
    """Append ``count`` tagged messages to queue 0 straight through the store (fast)."""
    store = cluster.broker.context.store
    for i in range(count):
        msg = MessageExtBrokerInner(
            topic=TOPIC,
            body=b"x",
            properties={"TAGS": "TagA", "color": "red", "KEYS": str(i)},
            queue_id=0,
            born_timestamp=1_700_000_000_000,
            born_host="127.0.0.1:50000",
            store_host=cluster.broker_addr,
        )
        assert store.put_message(msg).is_ok


async def _prepared(cluster: Cluster, raw: RawBrokerClient) -> None:
    first = await raw.send(TOPIC, b"first", tags="TagA", queue_id=0)
    assert first.code == ResponseCode.SUCCESS, first.remark
    _fill(cluster, QUEUE_SIZE - 1)
    await wait_max_offset(cluster, TOPIC, 0, QUEUE_SIZE)


def test_unmatched_sql_filter_scans_a_bounded_window(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await _prepared(cluster, raw)
        for max_nums in (32, MAX_INT):
            response = await raw.pull(
                "G",
                TOPIC,
                0,
                0,
                max_nums=max_nums,
                subscription="color = 'blue'",
                expression_type="SQL92",
            )
            assert response.code == ResponseCode.PULL_RETRY_IMMEDIATELY, response.remark
            assert response.ext_fields["nextBeginOffset"] == str(SCAN_LIMIT_UNITS)
            assert response.ext_fields["maxOffset"] == str(QUEUE_SIZE)
        # the next pull carries on from there
        later = await raw.pull(
            "G",
            TOPIC,
            0,
            SCAN_LIMIT_UNITS,
            max_nums=MAX_INT,
            subscription="color = 'blue'",
            expression_type="SQL92",
        )
        assert later.ext_fields["nextBeginOffset"] == str(2 * SCAN_LIMIT_UNITS)

    with_cluster(scenario, broker={"enablePropertyFilter": "true"})


def test_unmatched_tag_filter_scans_a_bounded_window(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await _prepared(cluster, raw)
        response = await raw.pull("G", TOPIC, 0, 0, max_nums=MAX_INT, subscription="TagZ")
        assert response.code == ResponseCode.PULL_RETRY_IMMEDIATELY, response.remark
        assert response.ext_fields["nextBeginOffset"] == str(SCAN_LIMIT_UNITS)

    with_cluster(scenario)


def test_huge_max_msg_nums_answers_at_most_the_transfer_count(
    with_cluster: Callable[..., Any],
) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await _prepared(cluster, raw)
        response = await raw.pull("G", TOPIC, 0, 0, max_nums=MAX_INT)
        assert response.code == ResponseCode.SUCCESS, response.remark
        assert len(raw.decode(response)) == 32
        assert response.ext_fields["nextBeginOffset"] == "32"
        small = await raw.pull("G", TOPIC, 0, 0, max_nums=5)
        assert len(raw.decode(small)) == 5

    with_cluster(scenario)


def test_transfer_count_is_configurable(with_cluster: Callable[..., Any]) -> None:
    async def scenario(cluster: Cluster, raw: RawBrokerClient) -> None:
        await _prepared(cluster, raw)
        response = await raw.pull("G", TOPIC, 0, 0, max_nums=MAX_INT)
        assert len(raw.decode(response)) == 4
        unmatched = await raw.pull("G", TOPIC, 0, 0, max_nums=MAX_INT, subscription="TagZ")
        assert unmatched.ext_fields["nextBeginOffset"] == "100"

    with_cluster(
        scenario,
        store={"max_transfer_count_on_message_in_memory": 4, "max_filter_message_size": 2000},
    )
