"""The interop drivers themselves: they fail cleanly without a NameServer, their route lookups
reach a real ``rmq namesrv``, and messages make a round trip between the two clients through
the in-process broker (the scenario matrix of interop-clients.md belongs to the broker tests).

Every run is bounded: drivers get short timeouts and are killed by the fixtures otherwise.
"""

from __future__ import annotations

import asyncio
import queue
import re
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmq_core.namesrv.bodies import encode_register_broker_body
from rmq_core.namesrv.model import DataVersion, RegisterBrokerBody, TopicConfig
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import CreateTopicRequestHeader
from tests.support.cluster import start_cluster, stop_cluster, wait_route

pytestmark = pytest.mark.interop

CLIENTS = ("node", "cpp")
READY = re.compile(r"^rmq namesrv listening on 127\.0\.0\.1:(\d+)$")
TIMEOUT = 10.0
TOPIC = "InteropHarnessTopic"
BROKER_NAME = "interop-ghost-broker"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def namesrv() -> Iterator[str]:
    """A real ``rmq namesrv`` on a free port; yields its address, always stopped."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmq_core.cli", "namesrv", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        match = READY.match(lines.get(timeout=TIMEOUT))
        assert match, "rmq namesrv did not announce its port"
        yield f"127.0.0.1:{match.group(1)}"
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.fixture
def ghost_broker(namesrv: str) -> Iterator[str]:
    """Register a broker that is not running (TOPIC, 4 queues); yields its dead address.

    The NameServer drops a broker when its registering connection closes, so a thread keeps
    that connection open for the whole test.
    """
    broker_addr = f"127.0.0.1:{free_port()}"
    body = encode_register_broker_body(
        RegisterBrokerBody(
            data_version=DataVersion(counter=1, timestamp=1_700_000_000_000),
            topic_config_table={TOPIC: TopicConfig(TOPIC, read_queue_nums=4, write_queue_nums=4)},
        )
    )
    fields = {
        "brokerName": BROKER_NAME,
        "brokerAddr": broker_addr,
        "clusterName": "InteropCluster",
        "haServerAddr": broker_addr,
        "brokerId": "0",
        "compressed": "false",
        "bodyCrc32": str(zlib.crc32(body) & 0x7FFFFFFF),
    }
    registered: queue.Queue[int] = queue.Queue()
    release = threading.Event()

    async def hold() -> None:
        async with RemotingClient() as client:
            request = RemotingCommand.request(
                RequestCode.REGISTER_BROKER, ext_fields=fields, body=body
            )
            registered.put((await client.invoke(namesrv, request, TIMEOUT)).code)
            while not release.is_set():
                await asyncio.sleep(0.05)

    holder = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    holder.start()
    try:
        assert registered.get(timeout=TIMEOUT) == ResponseCode.SUCCESS
        yield broker_addr
    finally:
        release.set()
        holder.join(TIMEOUT)


def assert_clean_failure(run: Any, bound: float) -> dict[str, Any]:
    assert run.returncode == 1, run.stderr
    assert not run.stray_stdout, run.stray_stdout
    summary: dict[str, Any] = run.summary
    assert summary["ok"] is False and summary["error"]
    assert run.elapsed < bound
    return summary


@pytest.mark.parametrize("client", CLIENTS)
def test_producer_without_namesrv_fails_fast(client: str, run_driver: Any) -> None:
    options = {"namesrv": f"127.0.0.1:{free_port()}", "topic": TOPIC, "count": 3, "timeout": 20}
    run = run_driver(client, "produce", options, timeout=30)
    summary = assert_clean_failure(run, bound=15)
    assert summary["sent"] == 0 and summary["failed"] == 1
    assert len(run.of("send_error")) == 1


@pytest.mark.parametrize("client", CLIENTS)
def test_consumer_without_namesrv_gives_up_after_startup_timeout(
    client: str, run_driver: Any
) -> None:
    options = {
        "namesrv": f"127.0.0.1:{free_port()}",
        "topic": TOPIC,
        "group": "interop_harness_group",
        "startup-timeout": 1,
        "timeout": 20,
    }
    run = run_driver(client, "consume", options, timeout=30)
    summary = assert_clean_failure(run, bound=15)
    assert summary["received"] == 0 and summary["deliveries"] == 0
    assert TOPIC in summary["error"]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("role", ["produce", "consume"])
def test_usage_errors_exit_2_with_one_summary(client: str, role: str, run_driver: Any) -> None:
    run = run_driver(client, role, {"topic": TOPIC, "no-such-option": 1}, timeout=30)
    assert run.returncode == 2
    assert run.summary["ok"] is False
    assert run.summary["error"].startswith("usage:")


@pytest.mark.parametrize("client", CLIENTS)
def test_producer_route_lookup_reaches_rmq_namesrv(
    client: str, namesrv: str, run_driver: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Unknown topic: the NameServer's own TOPIC_NOT_EXIST remark comes back through ali-ons.
    unknown = run_driver(client, "produce", {"namesrv": namesrv, "topic": "NoSuchTopic"}, 30)
    assert_clean_failure(unknown, bound=15)
    if client == "node":
        assert (
            "No topic route info in name server for the topic: NoSuchTopic"
            in (unknown.summary["error"])
        )
    # Known topic on a dead broker: the route was fetched, so the send targets that broker.
    request.getfixturevalue("ghost_broker")
    options = {"namesrv": namesrv, "topic": TOPIC, "send-timeout-ms": 1000, "timeout": 20}
    if client == "cpp":
        options["home"] = str(tmp_path)
    run = run_driver(client, "produce", options, timeout=30)
    summary = assert_clean_failure(run, bound=20)
    assert summary["sent"] == 0
    if client == "node":
        assert BROKER_NAME in summary["error"]
    else:
        # Its final error always reads "No route info"; its log shows the route it used.
        log = "".join(p.read_text() for p in tmp_path.glob("logs/rocketmq-cpp/*.log*"))
        assert f"changed with broker name:{BROKER_NAME}" in log


def test_cpp_consumer_sees_the_route_from_rmq_namesrv(
    namesrv: str, ghost_broker: str, run_driver: Any
) -> None:
    options = {"namesrv": namesrv, "topic": TOPIC, "group": "interop_harness_group", "timeout": 6}
    run = run_driver("cpp", "consume", options, timeout=30)
    assert_clean_failure(run, bound=20)
    assert [event["queues"] for event in run.of("route")] == [4]
    assert "timeout" in run.summary["error"]


def test_node_consumer_gets_the_route_from_rmq_namesrv(
    namesrv: str, ghost_broker: str, run_driver: Any
) -> None:
    options = {
        "namesrv": namesrv,
        "topic": TOPIC,
        "group": "interop_harness_group",
        "startup-timeout": 3,
        "timeout": 20,
    }
    run = run_driver("node", "consume", options, timeout=30)
    summary = assert_clean_failure(run, bound=20)
    assert not run.of("assigned")
    # With the route known it talks to the (dead) broker, not only to the NameServer.
    assert any(ghost_broker in event["message"] for event in run.of("client_error")), summary


@pytest.fixture
def cluster_namesrv(tmp_path: Path) -> Iterator[str]:
    """An in-process NameServer + broker (own thread and loop) with TOPIC (4 queues)."""
    address: queue.Queue[str | BaseException] = queue.Queue()
    release = threading.Event()

    async def serve() -> None:
        cluster = await start_cluster(tmp_path / "store")
        try:
            header = CreateTopicRequestHeader(
                topic=TOPIC,
                default_topic="TBW102",
                read_queue_nums=4,
                write_queue_nums=4,
                perm=6,
                topic_filter_type="SINGLE_TAG",
            )
            async with RemotingClient() as client:
                request = RemotingCommand.request(RequestCode.UPDATE_AND_CREATE_TOPIC, header)
                response = await client.invoke(cluster.broker_addr, request, TIMEOUT)
            assert response.code == ResponseCode.SUCCESS, response.remark
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


@pytest.mark.parametrize(("producer", "consumer"), [("node", "cpp"), ("cpp", "node")])
def test_round_trip_with_tag_filter_and_compressed_bodies(
    producer: str, consumer: str, cluster_namesrv: str, start_driver: Any, run_driver: Any
) -> None:
    group = f"interop_harness_{producer}_to_{consumer}"
    consume_options = {
        "namesrv": cluster_namesrv,
        "topic": TOPIC,
        "group": group,
        "count": 4,
        "expression": "TagA || TagB",
        "linger": 1,
        "timeout": 45,
    }
    if consumer == "cpp":
        consume_options["properties"] = "seq,color"
    receiving = start_driver(consumer, "consume", consume_options)
    sent = run_driver(
        producer,
        "produce",
        {
            "namesrv": cluster_namesrv,
            "topic": TOPIC,
            "count": 6,
            "tags": "TagA,TagB,TagC",
            "body-size": 5000,
            "property": {"color": "red"},
            "key-prefix": f"{producer}-rt",
        },
        timeout=45,
    )
    assert sent.returncode == 0 and sent.summary["sent"] == 6, sent.stderr
    received = receiving.wait(timeout=60)
    assert received.returncode == 0, (received.summary, received.stderr)
    summary = received.summary
    assert (summary["received"], summary["duplicates"], summary["failed"]) == (4, 0, 0)
    expected = {event["key"]: event for event in sent.of("sent") if event["tag"] != "TagC"}
    messages = {message["keys"]: message for message in received.of("message")}
    assert messages.keys() == expected.keys()
    for key, message in messages.items():
        assert message["tags"] == expected[key]["tag"]
        assert message["bodySize"] == 5000 and message["bodyMatchesKey"]
        assert message["bodySha256"] == expected[key]["bodySha256"]
        assert message["properties"]["color"] == "red"
        assert message["properties"]["seq"] == key.rsplit("-", 1)[1]
