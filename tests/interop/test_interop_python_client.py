"""rmq's Python client against the real third-party clients, both directions.

ali-ons (node) and the C++ client (``rocketmq`` 0.4.4) produce to our PushConsumer, and
consume what our Producer sends, through the in-process NameServer + broker. Tags filter
("TagA || TagB" of A/B/C), bodies are 5000 bytes (compressed on the wire), keys and user
properties survive, and nothing is delivered twice.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmq_core.admin import AdminClient
from rmq_core.client import ConsumeFromWhere, Message, MessageExt, SendStatus
from rmq_core.client import sync as blocking
from tests.support.cluster import start_cluster, stop_cluster, wait_route

pytestmark = pytest.mark.interop

TOPIC = "PyInteropTopic"
BODY_SIZE = 5000
TAGS = ("TagA", "TagB", "TagC")


def body_for(key: str, size: int) -> bytes:
    """The harness body shape: ``key + "|"`` repeated and cut to ``size`` bytes."""
    unit = (key + "|").encode()
    return (unit * (size // len(unit) + 1))[:size]


@pytest.fixture
def python_interop_namesrv(tmp_path: Path) -> Iterator[str]:
    """An in-process NameServer + broker (own thread and loop) with TOPIC (4 queues)."""
    address: queue.Queue[str | BaseException] = queue.Queue()
    release = threading.Event()

    async def serve() -> None:
        cluster = await start_cluster(tmp_path / "store")
        try:
            async with AdminClient(cluster.namesrv_addr) as admin:
                await admin.create_topic(TOPIC, read_queue_nums=4, write_queue_nums=4)
            await wait_route(cluster, TOPIC)
            address.put(cluster.namesrv_addr)
            while not release.is_set():
                await asyncio.sleep(0.05)
        except BaseException as error:
            address.put(error)
            raise
        finally:
            await stop_cluster(cluster)

    server = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    server.start()
    try:
        ready = address.get(timeout=30)
        assert isinstance(ready, str), ready
        yield ready
    finally:
        release.set()
        server.join(30)


@pytest.mark.parametrize("client", ["node", "cpp"])
def test_their_producer_to_our_push_consumer(
    client: str, python_interop_namesrv: str, run_driver: Any
) -> None:
    namesrv = python_interop_namesrv
    received: dict[str, list[MessageExt]] = {}
    lock = threading.Lock()

    def listener(msgs: list[MessageExt]) -> None:
        with lock:
            for msg in msgs:
                received.setdefault(msg.keys[0] if msg.keys else "", []).append(msg)

    consumer = blocking.PushConsumer(
        f"py_interop_from_{client}",
        namesrv,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
        rebalance_interval=1.0,
    )
    consumer.subscribe(TOPIC, "TagA || TagB")
    consumer.register_message_listener(listener)
    with consumer:
        sent = run_driver(
            client,
            "produce",
            {
                "namesrv": namesrv,
                "topic": TOPIC,
                "count": 6,
                "tags": ",".join(TAGS),
                "body-size": BODY_SIZE,
                "property": {"color": "red"},
                "key-prefix": f"{client}-to-py",
            },
            timeout=45,
        )
        assert sent.returncode == 0 and sent.summary["sent"] == 6, sent.stderr
        expected = {e["key"]: e for e in sent.of("sent") if e["tag"] != "TagC"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(received) < len(expected):
            time.sleep(0.05)
        time.sleep(1.0)  # linger: catch duplicates or filtered tags arriving late
    assert received.keys() == expected.keys()
    for key, msgs in received.items():
        assert len(msgs) == 1, f"{key} delivered {len(msgs)} times"
        msg = msgs[0]
        assert msg.tags == expected[key]["tag"]
        assert msg.body == body_for(key, BODY_SIZE)
        assert msg.properties.get("color") == "red"


@pytest.mark.parametrize("client", ["node", "cpp"])
def test_our_producer_to_their_consumer(
    client: str, python_interop_namesrv: str, start_driver: Any
) -> None:
    namesrv = python_interop_namesrv
    options: dict[str, Any] = {
        "namesrv": namesrv,
        "topic": TOPIC,
        "group": f"py_interop_to_{client}",
        "count": 4,
        "expression": "TagA || TagB",
        "linger": 1,
        "timeout": 45,
    }
    if client == "cpp":
        options["properties"] = "seq,color"
    receiving = start_driver(client, "consume", options)
    if client == "cpp":
        time.sleep(3.0)  # the C++ consumer always starts at the last offset: let it settle
    expected = {}
    with blocking.Producer("py_interop_producer", namesrv) as producer:
        for i in range(6):
            key = f"py-to-{client}-{i}"
            msg = Message(TOPIC, body_for(key, BODY_SIZE))
            msg.tags = TAGS[i % 3]
            msg.keys = [key]
            msg.put_user_property("seq", str(i))
            msg.put_user_property("color", "red")
            result = producer.send(msg)
            assert result.status is SendStatus.SEND_OK
            if msg.tags != "TagC":
                expected[key] = msg
    run = receiving.wait(timeout=60)
    assert run.returncode == 0, (run.summary, run.stderr)
    summary = run.summary
    assert (summary["received"], summary["duplicates"], summary["failed"]) == (4, 0, 0)
    messages = {m["keys"]: m for m in run.of("message")}
    assert messages.keys() == expected.keys()
    for key, message in messages.items():
        assert message["tags"] == expected[key].tags
        assert message["bodySize"] == BODY_SIZE and message["bodyMatchesKey"]
        assert message["properties"].get("color") == "red"
