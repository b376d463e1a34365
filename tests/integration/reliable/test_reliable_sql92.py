"""SQL92 filtering at the broker: subscriptions by heartbeat and pull, errors, switches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rmq_core.client import Message, Producer
from rmq_core.client.message_selector import MessageSelector
from rmq_core.errors import FilterError
from rmq_core.remoting.codes import RequestCode, ResponseCode
from tests.integration.reliable.reliable_support import (
    Collector,
    client_options,
    push_consumer,
    run,
    wait_until,
)
from tests.support.broker_client import RawBrokerClient, message_properties
from tests.support.cluster import running_cluster, wait_max_offset

SQL = {"enablePropertyFilter": "true"}
COUNT = 24
REGIONS = ("eu", "us", "apac")


def props(i: int) -> dict[str, str]:
    """The user properties of message ``i``."""
    values = {
        "a": str(i),
        "b": "x" if i % 2 else "y",
        "region": REGIONS[i % 3],
        "price": f"{i * 1.5}",
        "vip": "true" if i % 5 == 0 else "false",
    }
    if i % 4 == 0:
        values["opt"] = "1"
    return values


def tag(i: int) -> str:
    return "TagA" if i % 2 == 0 else "TagB"


Predicate = Callable[[int], bool]
TABLE: list[tuple[str, Predicate]] = [
    ("a > 15", lambda i: i > 15),
    ("a BETWEEN 3 AND 5", lambda i: 3 <= i <= 5),
    ("a NOT BETWEEN 3 AND 20", lambda i: i < 3 or i > 20),
    ("b = 'x' AND a < 6", lambda i: i % 2 == 1 and i < 6),
    ("region IN ('eu', 'apac')", lambda i: i % 3 in (0, 2)),
    ("region NOT IN ('eu')", lambda i: i % 3 != 0),
    ("opt IS NULL", lambda i: i % 4 != 0),
    ("opt IS NOT NULL AND a >= 8", lambda i: i % 4 == 0 and i >= 8),
    ("price >= 27.0", lambda i: i * 1.5 >= 27.0),
    ("TAGS = 'TagA' AND a < 10", lambda i: i % 2 == 0 and i < 10),
    ("NOT (a < 18)", lambda i: i >= 18),
    ("(a < 2 OR a > 21) AND b = 'y'", lambda i: (i < 2 or i > 21) and i % 2 == 0),
    ("vip = TRUE", lambda i: i % 5 == 0),
    ("a = 'abc'", lambda i: False),
    ("missing > 1", lambda i: False),
    ("1 = 1", lambda i: True),
]


async def _produce(namesrv: str, topic: str) -> None:
    async with Producer("PG_SQL", namesrv, **client_options("sql-producer")) as producer:
        for i in range(COUNT):
            msg = Message(topic, f"m{i}".encode())
            msg.tags = tag(i)
            msg.keys = [f"k{i}"]
            for name, value in props(i).items():
                msg.put_user_property(name, value)
            await producer.send(msg)


def test_expression_table_delivers_exactly_the_matching_messages(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cluster(tmp_path, broker=SQL) as cluster:
            ns = cluster.namesrv_addr
            await _produce(ns, "SqlTopic")
            consumers = []
            collectors: list[Collector] = []
            for n, (expression, _predicate) in enumerate(TABLE):
                got = Collector()
                c = push_consumer(ns, f"CG_SQL_{n}")
                c.subscribe("SqlTopic", MessageSelector.by_sql(expression))
                c.register_message_listener(got)
                consumers.append(c)
                collectors.append(got)
            await asyncio.gather(*(c.start() for c in consumers))
            try:
                expected = [
                    sorted(f"m{i}" for i in range(COUNT) if predicate(i))
                    for _expression, predicate in TABLE
                ]
                await wait_until(
                    lambda: all(
                        len(got.messages) >= len(want)
                        for got, want in zip(collectors, expected, strict=True)
                    ),
                    30,
                    "every selector's messages",
                )
                await asyncio.sleep(0.5)
                for (expression, _p), got, want in zip(TABLE, collectors, expected, strict=True):
                    assert sorted(m.body.decode() for m in got.messages) == want, expression
                first = collectors[0].messages[0]
                assert first.properties["region"] in REGIONS and first.keys
            finally:
                await asyncio.gather(*(c.shutdown() for c in consumers))

    run(scenario())


def test_unparsable_expressions_are_refused_with_the_position(tmp_path: Path) -> None:
    with pytest.raises(FilterError) as info:
        MessageSelector.by_sql("a > ")
    assert info.value.position == 4

    async def scenario() -> None:
        async with (
            running_cluster(tmp_path, broker=SQL) as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            await raw.send("SqlBad", b"x", properties=message_properties("T"))
            await wait_max_offset(cluster, "SqlBad", 0, 1)
            pulled = await raw.pull(
                "CG_BAD", "SqlBad", 0, 0, subscription="a >< 3", expression_type="SQL92"
            )
            assert pulled.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
            assert "position 3" in (pulled.remark or "")
            body = {
                "clientId": "127.0.0.1@x",
                "group": "CG_BAD",
                "subscriptionData": {
                    "topic": "SqlBad",
                    "subString": "region IN ('eu',",
                    "expressionType": "SQL92",
                },
            }
            checked = await raw.call(
                RequestCode.CHECK_CLIENT_CONFIG, body=json.dumps(body).encode()
            )
            assert checked.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
            assert "position" in (checked.remark or "")
            body["subscriptionData"]["subString"] = "region IN ('eu')"  # type: ignore[index]
            fine = await raw.call(RequestCode.CHECK_CLIENT_CONFIG, body=json.dumps(body).encode())
            assert fine.code == ResponseCode.SUCCESS
            heartbeat = await raw.heartbeat(consumer_group="CG_BAD", topic="SqlBad")
            assert heartbeat.code == ResponseCode.SUCCESS and heartbeat.version >= 232

    run(scenario())


def test_sql92_needs_enable_property_filter(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            running_cluster(tmp_path) as cluster,
            RawBrokerClient(cluster.broker_addr) as raw,
        ):
            await raw.send("SqlOff", b"x", properties=message_properties("T"))
            await wait_max_offset(cluster, "SqlOff", 0, 1)
            pulled = await raw.pull(
                "CG_OFF", "SqlOff", 0, 0, subscription="a > 1", expression_type="SQL92"
            )
            assert pulled.code == ResponseCode.SYSTEM_ERROR
            assert "SQL92" in (pulled.remark or "")
            tagged = await raw.pull("CG_OFF", "SqlOff", 0, 0, subscription="T")
            assert tagged.code == ResponseCode.SUCCESS

    run(scenario())
