"""The shared test cluster with several brokers: each registers, each takes sends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rmq_core.admin import AdminClient
from rmq_core.client import Message, Producer


def test_several_brokers_and_one_added_later(client_cluster: Any, tmp_path: Path) -> None:
    async def body() -> None:
        async with client_cluster(tmp_path, brokers=2, default_topic_queue_nums=2) as cluster:
            assert [b.config.broker_name for b in cluster.brokers] == ["broker-a", "broker-b"]
            await cluster.add_broker("broker-c", default_topic_queue_nums=2)
            async with AdminClient(cluster.namesrv) as admin:
                info = await admin.cluster_info()
                assert sorted(info.brokers) == ["broker-a", "broker-b", "broker-c"]
                assert len(info.master_addrs()) == 3
                await admin.create_topic("Spread", read_queue_nums=2, write_queue_nums=2)
            async with Producer("PG_spread", cluster.namesrv, instance_name="spread") as p:
                hit = {
                    (await p.send(Message("Spread", b"x"))).message_queue.broker_name
                    for _ in range(12)
                }
            assert hit == {"broker-a", "broker-b", "broker-c"}
            dirs = sorted(d.name for d in tmp_path.iterdir())
            assert dirs == ["broker-a", "broker-b", "broker-c"]

    asyncio.run(asyncio.wait_for(body(), 60))
