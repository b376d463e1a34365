"""Real RocketMQ clients (ali-ons 3.12.0, C++ rocketmq 0.4.4) against rmq's broker.

The scenario matrix of ``shared/reference/interop-clients.md``, for each client:

- tags TagA/TagB/TagC with keys and >= 4 KiB (client-compressed) bodies, consumed by a push
  consumer subscribed to ``TagA || TagB``: every TagA/TagB message arrives exactly once and
  intact, and the **broker** never hands out a TagC message (a recorder on the store's
  ``get_message`` sees every record the pull path returns to the group);
- a failing handler makes the client send the message back; it comes again through
  ``%RETRY%<group>`` with ``reconsumeTimes`` >= 1, and the broker served it from that topic;
- messages produced by one client are consumed by the other, through ``rmq standalone`` run
  as a subprocess on free ports;
- each real client against rmq's own Python client, in both directions.

The brokers use a short ``messageDelayLevel`` (1 s for every level) so a retry comes back in
about a second instead of 10 s. Every driver run is bounded (``timeout``) and prints one
summary line; each test prints one line of its own (visible with ``pytest -s``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from rmq_core.common.message import MessageSysFlag
from rmq_core.common.message_codec import decode_record
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import CreateTopicRequestHeader, GetRouteInfoRequestHeader
from tests.support.cluster import Cluster, start_cluster, stop_cluster, wait_route

pytestmark = pytest.mark.interop

T = TypeVar("T")
CLIENTS = ("node", "cpp")
FAST_DELAYS = "1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"
TIMEOUT = 30.0
DRIVER_TIMEOUT = 60
BIG_BODY = 5000  # over compressMsgBodyOverHowmuch (4096): both clients compress it
READY = re.compile(r"^rmq standalone ready: namesrv (\S+), broker (\S+) ")


def body_for(key: str, size: int) -> bytes:
    """The drivers' body for ``key`` (tests/interop/README.md, *Bodies*)."""
    unit = (key + "|").encode()
    return (unit * (size // len(unit) + 1))[:size]


# --- broker-side evidence ------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """One record the store handed to the pull path."""

    group: str
    topic: str
    tags: str | None
    keys: str | None
    sys_flag: int
    reconsume_times: int


@dataclass
class ServedLog:
    """Records returned by ``get_message``, per consumer group (thread-safe appends)."""

    entries: list[Served] = field(default_factory=list)

    def install(self, store: Any) -> None:
        """Wrap ``store.get_message`` (an instance attribute shadows the method)."""
        original = store.get_message

        def recording(group: str, topic: str, *args: Any, **kwargs: Any) -> Any:
            result = original(group, topic, *args, **kwargs)
            for raw in getattr(result, "messages", None) or ():
                msg, _ = decode_record(raw, 0, decompress=False)
                self.entries.append(
                    Served(
                        group, topic, msg.tags, msg.properties.get("KEYS"), msg.sys_flag,
                        msg.reconsume_times,
                    )
                )  # fmt: skip
            return result

        store.get_message = recording

    def of(self, group: str, topic: str | None = None) -> list[Served]:
        """Entries served to ``group`` (from ``topic`` when given)."""
        return [e for e in self.entries if e.group == group and topic in (None, e.topic)]


# --- in-process broker in its own thread ---------------------------------------------------


@dataclass
class LiveCluster:
    """A NameServer + broker running on a private event loop in a background thread."""

    cluster: Cluster
    loop: asyncio.AbstractEventLoop
    served: ServedLog

    @property
    def namesrv_addr(self) -> str:
        return self.cluster.namesrv_addr

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        """Run ``coro`` on the cluster's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def create_topic(self, topic: str, queues: int = 4) -> None:
        """Create ``topic`` on the broker and wait until the NameServer routes it."""
        self.run(_create_topic(self.cluster.broker_addr, topic, queues))
        self.run(wait_route(self.cluster, topic))

    def max_offsets(self, topic: str) -> list[int]:
        """Max logical offset of each queue of ``topic`` (what the store holds)."""

        async def read() -> list[int]:
            ctx = self.cluster.broker.context
            config = ctx.topics.select(topic)
            queues = 0 if config is None else config.read_queue_nums
            return [ctx.store.get_max_offset_in_queue(topic, q) for q in range(queues)]

        return self.run(read())


async def _create_topic(broker_addr: str, topic: str, queues: int) -> None:
    header = CreateTopicRequestHeader(
        topic=topic,
        default_topic="TBW102",
        read_queue_nums=queues,
        write_queue_nums=queues,
        perm=6,
        topic_filter_type="SINGLE_TAG",
    )
    async with RemotingClient(name="interop-admin") as client:
        request = RemotingCommand.request(RequestCode.UPDATE_AND_CREATE_TOPIC, header)
        response = await client.invoke(broker_addr, request, TIMEOUT)
    assert response.code == ResponseCode.SUCCESS, response.remark


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    """One in-process cluster for the module (tests use distinct topics and groups)."""
    store_dir = tmp_path_factory.mktemp("interop-store")
    ready: list[LiveCluster | BaseException] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()

    async def boot() -> None:
        try:
            cluster = await start_cluster(
                store_dir,
                broker={"messageDelayLevel": FAST_DELAYS},
                store={"message_delay_level": FAST_DELAYS},
            )
            served = ServedLog()
            served.install(cluster.broker.context.store)
            ready.append(LiveCluster(cluster, loop, served))
        except BaseException as error:
            ready.append(error)
        finally:
            started.set()

    thread = threading.Thread(target=loop.run_forever, name="interop-cluster", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(boot(), loop)
    assert started.wait(TIMEOUT), "the in-process cluster did not start"
    live = ready[0]
    assert isinstance(live, LiveCluster), live
    try:
        yield live
    finally:
        live.run(stop_cluster(live.cluster))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()


# --- scenarios -------------------------------------------------------------------------------


def _consume_options(
    client: str, namesrv: str, topic: str, group: str, **extra: Any
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "namesrv": namesrv,
        "topic": topic,
        "group": group,
        "timeout": DRIVER_TIMEOUT,
    }
    if client == "cpp":
        options["properties"] = "seq,color"
    options.update(extra)
    return options


@pytest.mark.parametrize("client", CLIENTS)
def test_tag_filter_exactly_once_with_compressed_bodies(
    client: str, live: LiveCluster, start_driver: Callable[..., Any], run_driver: Callable[..., Any]
) -> None:
    topic, group = f"InteropFilter_{client}", f"interop_filter_{client}"
    live.create_topic(topic)
    receiving = start_driver(
        client,
        "consume",
        _consume_options(
            client, live.namesrv_addr, topic, group, count=8, expression="TagA || TagB", linger=2
        ),
    )
    sent = run_driver(
        client,
        "produce",
        {
            "namesrv": live.namesrv_addr,
            "topic": topic,
            "count": 12,
            "tags": "TagA,TagB,TagC",
            "body-size": BIG_BODY,
            "property": {"color": "blue"},
            "key-prefix": f"{client}-filter",
        },
        timeout=DRIVER_TIMEOUT,
    )
    assert sent.returncode == 0 and sent.summary["sent"] == 12, (sent.summary, sent.stderr)
    received = receiving.wait(timeout=DRIVER_TIMEOUT + 10)
    summary = received.summary
    assert received.returncode == 0, (summary, received.stderr)
    assert (summary["received"], summary["duplicates"], summary["failed"]) == (8, 0, 0)

    wanted = {e["key"]: e for e in sent.of("sent") if e["tag"] in ("TagA", "TagB")}
    messages = received.of("message")
    assert sorted(m["keys"] for m in messages) == sorted(wanted)  # each exactly once
    for message in messages:
        expected = wanted[message["keys"]]
        assert message["tags"] == expected["tag"]
        assert message["bodySize"] == BIG_BODY and message["bodyMatchesKey"]
        assert message["bodySha256"] == expected["bodySha256"]
        assert (
            message["bodySha256"] == hashlib.sha256(body_for(message["keys"], BIG_BODY)).hexdigest()
        )
        assert message["properties"]["color"] == "blue"

    # The broker holds all 12, yet served the group no TagC record: its tag filter ran.
    assert sum(live.max_offsets(topic)) == 12
    served = live.served.of(group, topic)
    assert {s.tags for s in served} <= {"TagA", "TagB"}, served
    assert {s.keys for s in served} == set(wanted)
    assert all(s.sys_flag & MessageSysFlag.COMPRESSED_FLAG for s in served)
    print(
        f"interop filter[{client}]: sent=12 received={summary['received']} "
        f"duplicates={summary['duplicates']} served={len(served)} tagC_served=0 "
        f"elapsed={received.elapsed:.1f}s"
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_handler_failure_is_redelivered_through_retry_topic(
    client: str, live: LiveCluster, start_driver: Callable[..., Any], run_driver: Callable[..., Any]
) -> None:
    topic, group = f"InteropRetry_{client}", f"interop_retry_{client}"
    retry_topic = f"%RETRY%{group}"
    live.create_topic(topic)
    receiving = start_driver(
        client,
        "consume",
        _consume_options(
            client, live.namesrv_addr, topic, group, count=4, expression="TagA || TagB",
            **{"fail-first": 2, "linger": 2},
        ),
    )  # fmt: skip
    sent = run_driver(
        client,
        "produce",
        {
            "namesrv": live.namesrv_addr,
            "topic": topic,
            "count": 4,
            "tags": "TagA,TagB",
            "key-prefix": f"{client}-retry",
        },
        timeout=DRIVER_TIMEOUT,
    )
    assert sent.returncode == 0 and sent.summary["sent"] == 4, (sent.summary, sent.stderr)
    received = receiving.wait(timeout=DRIVER_TIMEOUT + 10)
    summary = received.summary
    assert received.returncode == 0, (summary, received.stderr)
    assert (summary["received"], summary["failed"], summary["duplicates"]) == (4, 2, 0)

    messages = received.of("message")
    failed = [m["keys"] for m in messages if m["outcome"] == "fail"]
    assert len(failed) == 2
    ok = {m["keys"]: m for m in messages if m["outcome"] == "ok"}
    assert sorted(ok) == sorted(e["key"] for e in sent.of("sent"))
    for key in failed:
        again = ok[key]
        assert again["reconsumeTimes"] >= 1, again
        assert again["topic"] == topic  # the client restores the real topic
        assert again["bodyMatchesKey"]
        if client == "node":
            assert again["retryTopic"] == topic

    # The broker served the failed messages again from %RETRY%<group>, marked as retries.
    retried = live.served.of(group, retry_topic)
    assert {s.keys for s in retried} >= set(failed), retried
    assert all(s.reconsume_times >= 1 for s in retried)
    assert sum(live.max_offsets(retry_topic)) >= 2
    print(
        f"interop retry[{client}]: sent=4 failed_first={len(failed)} "
        f"redelivered={len(retried)} received={summary['received']} "
        f"elapsed={received.elapsed:.1f}s"
    )


# --- cross-client through `rmq standalone` -------------------------------------------------


@dataclass
class Standalone:
    """A running ``rmq standalone`` subprocess."""

    process: subprocess.Popen[str]
    namesrv_addr: str
    broker_addr: str


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    """``rmq standalone`` on free ports (port 0) with a short delay table; always stopped."""
    root = tmp_path_factory.mktemp("standalone")
    conf = root / "broker.conf"
    conf.write_text(f"messageDelayLevel={FAST_DELAYS}\nbrokerName=interop-standalone\n")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "rmq_core.cli", "standalone", "-c", str(conf),
            "--namesrv-port", "0", "--broker-port", "0", "--store-dir", str(root / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(_first_line(process)), daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    try:
        match = READY.match(lines[0]) if lines else None
        assert match, f"rmq standalone did not start: {lines!r}"
        yield Standalone(process, match.group(1), match.group(2))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)
        assert process.stdout is not None
        process.stdout.close()


def _first_line(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    line = process.stdout.readline()
    return [line.rstrip("\n")] if line else []


def _standalone_topic(server: Standalone, topic: str) -> None:
    async def create() -> None:
        await _create_topic(server.broker_addr, topic, 4)
        deadline = time.monotonic() + TIMEOUT
        async with RemotingClient(name="interop-route") as client:
            while True:
                request = RemotingCommand.request(
                    RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader(topic=topic)
                )
                response = await client.invoke(server.namesrv_addr, request, TIMEOUT)
                if response.code == ResponseCode.SUCCESS:
                    return
                assert time.monotonic() < deadline, f"no route for {topic}"
                await asyncio.sleep(0.05)

    asyncio.run(asyncio.wait_for(create(), TIMEOUT))


@pytest.mark.parametrize(("producer", "consumer"), [("node", "cpp"), ("cpp", "node")])
def test_one_client_produces_the_other_consumes(
    producer: str,
    consumer: str,
    standalone: Standalone,
    start_driver: Callable[..., Any],
    run_driver: Callable[..., Any],
) -> None:
    topic, group = f"InteropCross_{producer}_{consumer}", f"interop_cross_{producer}_{consumer}"
    _standalone_topic(standalone, topic)
    receiving = start_driver(
        consumer,
        "consume",
        _consume_options(
            consumer, standalone.namesrv_addr, topic, group, count=6, expression="TagA || TagB",
            linger=2,
        ),
    )  # fmt: skip
    sent = run_driver(
        producer,
        "produce",
        {
            "namesrv": standalone.namesrv_addr,
            "topic": topic,
            "count": 9,
            "tags": "TagA,TagB,TagC",
            "body-size": BIG_BODY,
            "property": {"color": "green"},
            "key-prefix": f"{producer}-to-{consumer}",
        },
        timeout=DRIVER_TIMEOUT,
    )
    assert sent.returncode == 0 and sent.summary["sent"] == 9, (sent.summary, sent.stderr)
    received = receiving.wait(timeout=DRIVER_TIMEOUT + 10)
    summary = received.summary
    assert received.returncode == 0, (summary, received.stderr)
    assert (summary["received"], summary["duplicates"]) == (6, 0)
    wanted = {e["key"]: e for e in sent.of("sent") if e["tag"] != "TagC"}
    messages = {m["keys"]: m for m in received.of("message")}
    assert messages.keys() == wanted.keys()
    for key, message in messages.items():
        assert message["tags"] == wanted[key]["tag"]
        assert message["bodySha256"] == wanted[key]["bodySha256"]
        assert message["properties"]["color"] == "green"
        assert message["properties"]["seq"] == key.rsplit("-", 1)[1]
    print(
        f"interop cross[{producer}->{consumer}]: sent=9 received={summary['received']} "
        f"duplicates={summary['duplicates']} elapsed={received.elapsed:.1f}s"
    )


# --- rmq's own Python client against the real clients -------------------------------------


async def _python_consume(
    namesrv: str, topic: str, group: str, expected: int, linger: float, timeout: float
) -> list[Any]:
    """Consume ``topic`` with rmq's PushConsumer until ``expected`` messages arrived, then
    ``linger`` seconds more to catch duplicates; returns every delivered MessageExt."""
    from rmq_core.client import ConsumeStatus, PushConsumer

    got: list[Any] = []
    enough = asyncio.Event()

    async def handle(msgs: list[Any]) -> ConsumeStatus:
        got.extend(msgs)
        if len(got) >= expected:
            enough.set()
        return ConsumeStatus.CONSUME_SUCCESS

    consumer = PushConsumer(group, namesrv, instance_name=f"interop-{group}")
    consumer.subscribe(topic, "TagA || TagB")
    consumer.register_message_listener(handle)
    await consumer.start()
    try:
        await asyncio.wait_for(enough.wait(), timeout)
        await asyncio.sleep(linger)
    finally:
        await consumer.shutdown()
    return got


@pytest.mark.parametrize("client", CLIENTS)
def test_real_client_produces_python_client_consumes(
    client: str, live: LiveCluster, run_driver: Callable[..., Any]
) -> None:
    topic, group = f"InteropToPython_{client}", f"interop_to_python_{client}"
    live.create_topic(topic)
    sent = run_driver(
        client,
        "produce",
        {
            "namesrv": live.namesrv_addr,
            "topic": topic,
            "count": 9,
            "tags": "TagA,TagB,TagC",
            "body-size": BIG_BODY,
            "property": {"color": "red"},
            "key-prefix": f"{client}-to-py",
        },
        timeout=DRIVER_TIMEOUT,
    )
    assert sent.returncode == 0 and sent.summary["sent"] == 9, (sent.summary, sent.stderr)
    started = time.monotonic()
    got = asyncio.run(_python_consume(live.namesrv_addr, topic, group, 6, 1.5, TIMEOUT))
    wanted = {e["key"]: e for e in sent.of("sent") if e["tag"] != "TagC"}
    keys = [m.keys[0] for m in got]
    assert sorted(keys) == sorted(wanted)  # exactly once, no TagC
    for msg in got:
        key = msg.keys[0]
        assert msg.tags == wanted[key]["tag"]
        assert msg.body == body_for(key, BIG_BODY)
        assert msg.properties["color"] == "red" and msg.properties["seq"] == key.rsplit("-", 1)[1]
    assert {s.tags for s in live.served.of(group, topic)} <= {"TagA", "TagB"}
    duplicates = len(got) - len(set(keys))
    print(
        f"interop {client}->python: sent=9 received={len(got)} duplicates={duplicates} "
        f"elapsed={time.monotonic() - started:.1f}s"
    )


async def _python_produce(namesrv: str, topic: str, prefix: str, count: int) -> list[str]:
    from rmq_core.client import Message, Producer

    keys = []
    async with Producer(f"{prefix}_producer", namesrv) as producer:
        for i in range(count):
            key = f"{prefix}-{i}"
            msg = Message(topic, body_for(key, BIG_BODY))
            msg.tags = ("TagA", "TagB", "TagC")[i % 3]
            msg.keys = [key]
            msg.put_user_property("color", "violet")
            msg.put_user_property("seq", str(i))
            await producer.send(msg)
            keys.append(key)
    return keys


@pytest.mark.parametrize("client", CLIENTS)
def test_python_client_produces_real_client_consumes(
    client: str, live: LiveCluster, start_driver: Callable[..., Any]
) -> None:
    topic, group = f"InteropFromPython_{client}", f"interop_from_python_{client}"
    live.create_topic(topic)
    receiving = start_driver(
        client,
        "consume",
        _consume_options(
            client, live.namesrv_addr, topic, group, count=6, expression="TagA || TagB", linger=2
        ),
    )
    keys = asyncio.run(
        asyncio.wait_for(_python_produce(live.namesrv_addr, topic, f"py-to-{client}", 9), TIMEOUT)
    )
    received = receiving.wait(timeout=DRIVER_TIMEOUT + 10)
    summary = received.summary
    assert received.returncode == 0, (summary, received.stderr)
    assert (summary["received"], summary["duplicates"]) == (6, 0)
    wanted = [k for i, k in enumerate(keys) if i % 3 != 2]
    messages = {m["keys"]: m for m in received.of("message")}
    assert sorted(messages) == sorted(wanted)
    for key, message in messages.items():
        assert message["bodySize"] == BIG_BODY and message["bodyMatchesKey"]
        assert message["bodySha256"] == hashlib.sha256(body_for(key, BIG_BODY)).hexdigest()
        assert message["properties"]["color"] == "violet"
    print(
        f"interop python->{client}: sent=9 received={summary['received']} "
        f"duplicates={summary['duplicates']} elapsed={received.elapsed:.1f}s"
    )
