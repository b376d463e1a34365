"""ali-ons with a SQL92 subscription against rmq's broker (``enablePropertyFilter=true``).

ali-ons sends the subscription's ``expressionType`` in its heartbeat and in every pull; the
broker must evaluate the expression against each message's properties and hand out exactly the
matching messages (the Python producer sets the properties).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rmq_core.admin import AdminClient
from rmq_core.client import Message, Producer
from tests.support.cluster import running_cluster

pytestmark = pytest.mark.interop

TOPIC = "InteropSql92"
GROUP = "interop_sql92"
EXPRESSION = "seq >= 10 AND color IN ('red', 'blue') AND TAGS <> 'TagC'"
COLORS = ("red", "blue", "green")
TAGS = ("TagA", "TagB", "TagC")


def matches(i: int) -> bool:
    return i >= 10 and COLORS[i % 3] != "green" and TAGS[i % 4 % 3] != "TagC"


def test_ali_ons_sql92_subscription_receives_exactly_the_matching_messages(
    tmp_path: Path, start_driver: Callable[..., Any]
) -> None:
    count = 30
    wanted = sorted(f"sql-{i}" for i in range(count) if matches(i))

    async def scenario() -> Any:
        async with running_cluster(tmp_path, broker={"enablePropertyFilter": "true"}) as cluster:
            ns = cluster.namesrv_addr
            async with AdminClient(ns) as admin:
                await admin.create_topic(TOPIC, read_queue_nums=4, write_queue_nums=4)
            receiving = start_driver(
                "node",
                "consume",
                {
                    "namesrv": ns,
                    "topic": TOPIC,
                    "group": GROUP,
                    "count": len(wanted),
                    "expression": EXPRESSION,
                    "expression-type": "SQL92",
                    "consume-from": "first",
                    "linger": 3,
                    "timeout": 60,
                },
            )
            async with Producer("interop_sql92_producer", ns, instance_name="sql92-p") as p:
                for i in range(count):
                    msg = Message(TOPIC, f"body-{i}".encode())
                    msg.keys = [f"sql-{i}"]
                    msg.tags = TAGS[i % 4 % 3]
                    msg.put_user_property("seq", str(i))
                    msg.put_user_property("color", COLORS[i % 3])
                    await p.send(msg)
            return await asyncio.to_thread(receiving.wait, 90)

    received = asyncio.run(asyncio.wait_for(scenario(), 120))
    summary = received.summary
    assert received.returncode == 0 and summary["ok"], (summary, received.stderr[-2000:])
    got = sorted(m["keys"] for m in received.of("message"))
    assert got == wanted
    assert summary["duplicates"] == 0
    for message in received.of("message"):
        assert message["properties"]["color"] in ("red", "blue")
    print(f"interop ali-ons SQL92: sent={count} matching={len(wanted)} received={len(got)}")
