"""The Flask extension against an in-process broker: a view publishes, a decorated handler
receives inside an app context, signals fire in order, several apps share a process, the CLI
sends and lists, and ``flask rocketmq consume`` runs as a real worker stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request

from rmq_core import MessageExt
from rmq_integrations import signals
from rmq_integrations.flask import RocketMQ
from rmq_integrations.spring import RocketMQTemplate
from tests.integration.flask.conftest import FAST_CONSUMER, ThreadedCluster, unique

Wait = Callable[..., None]
EXAMPLE_APP = Path(__file__).resolve().parents[3] / "examples" / "flask_app.py"
WORKER_TIMEOUT = 30.0

SIGNAL_NAMES = (
    "message_sent",
    "send_failed",
    "message_received",
    "message_consumed",
    "consume_failed",
    "listener_started",
    "listener_stopped",
)


@dataclass
class Order:
    id: int
    item: str


@contextmanager
def record_signals(sender: object) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()
    connected = []
    for name in SIGNAL_NAMES:

        def receive(sender: object, _name: str = name, **kwargs: Any) -> None:
            with lock:
                events.append((_name, kwargs))

        sig = getattr(signals, name)
        sig.connect(receive, sender=sender, weak=False)
        connected.append((sig, receive))
    try:
        yield events
    finally:
        for sig, receive in connected:
            sig.disconnect(receive)


def build(
    cluster: ThreadedCluster, topic: str, group: str, handled: list[Any]
) -> tuple[RocketMQ, Callable[..., Flask]]:
    """An extension with one listener and an app factory with a publishing view."""
    mq = RocketMQ()

    @mq.listener(topic, group, tags="created || updated")
    def handle(order: Order) -> None:
        g.seen = order.id  # an app context is active: g works
        handled.append((current_app.name, current_app.config["APP_ID"], order))

    def create_app(app_id: str, **config: Any) -> Flask:
        app = Flask(f"app_{app_id}")
        app.config.update(
            APP_ID=app_id,
            ROCKETMQ_NAMESRV_ADDR=cluster.namesrv,
            ROCKETMQ_CONSUMER_OPTIONS=FAST_CONSUMER,
            **config,
        )
        mq.init_app(app)

        @app.post("/orders")
        def create_order() -> tuple[dict[str, Any], int]:
            data = request.get_json()
            result = mq.send(f"{topic}:created", Order(**data), keys=f"order-{data['id']}")
            return {"msg_id": result.msg_id}, 201

        return app

    return mq, create_app


def test_view_publishes_and_handler_runs_in_app_context(
    cluster: ThreadedCluster, wait_for: Wait
) -> None:
    topic, group = unique("FlaskOrders"), unique("flask-handler")
    handled: list[Any] = []
    mq, create_app = build(cluster, topic, group, handled)
    app = create_app("one")
    with record_signals(app) as events:
        started = mq.start_listeners(app)
        assert [lst.spec.consumer_group for lst in started] == [group]
        response = app.test_client().post("/orders", json={"id": 7, "item": "book"})
        assert response.status_code == 201
        msg_id = response.get_json()["msg_id"]
        wait_for(lambda: handled, 20, "the handler")
        wait_for(lambda: any(n == "message_consumed" for n, _ in events), 5, "consumed signal")
        mq.shutdown(app)
    assert handled == [("app_one", "one", Order(7, "book"))]
    names = [name for name, _ in events]
    assert names == [
        "listener_started",
        "message_sent",
        "message_received",
        "message_consumed",
        "listener_stopped",
    ]
    sent = events[1][1]
    assert sent["destination"] == f"{topic}:created" and sent["mode"] == "sync"
    assert sent["result"].msg_id == msg_id and sent["message"].keys == ["order-7"]
    received: MessageExt = events[2][1]["message"]
    assert received.unique_key == msg_id and received.tags == "created"
    consumed = events[3][1]
    assert consumed["group"] == group and consumed["topic"] == topic
    assert consumed["listener"].endswith("handle") and consumed["duration"] >= 0


def test_listeners_start_with_the_app_and_failures_are_signalled(
    cluster: ThreadedCluster, wait_for: Wait
) -> None:
    topic, group = unique("FlaskFailing"), unique("flask-failing")
    mq = RocketMQ()
    attempts: list[int] = []

    @mq.listener(topic, group, max_reconsume_times=1)
    def handle(msg: MessageExt) -> None:
        assert current_app.name == "auto_start"
        attempts.append(msg.reconsume_times)
        raise ValueError("cannot process")

    app = Flask("auto_start")
    app.config.update(
        ROCKETMQ_NAMESRV_ADDR=cluster.namesrv,
        ROCKETMQ_CONSUMER_OPTIONS=FAST_CONSUMER,
        ROCKETMQ_START_LISTENERS=True,
    )
    with record_signals(app) as events:
        mq.init_app(app)  # starts the consumer
        with app.app_context():
            mq.send(topic, b"bad")
        wait_for(lambda: cluster.max_offset(f"%DLQ%{group}") >= 1, 30, "the DLQ message")
        mq.shutdown(app)
    assert attempts == [0, 1]
    failures = [kw for name, kw in events if name == "consume_failed"]
    assert [type(f["exception"]) for f in failures] == [ValueError, ValueError]


def test_two_apps_in_one_process(cluster: ThreadedCluster, wait_for: Wait) -> None:
    topic, group = unique("TwoApps"), unique("two-apps")
    handled: list[Any] = []
    mq, create_app = build(cluster, topic, group, handled)
    first, second = create_app("first"), create_app("second", ROCKETMQ_PRODUCER_GROUP="pg-b")
    assert mq.state(first).instance_name != mq.state(second).instance_name
    for app in (first, second):
        mq.start_listeners(app)
    try:
        with first.app_context():
            template_a = mq.template
        with second.app_context():
            template_b = mq.template
            assert template_b.producer_group == "pg-b"
        assert template_a is not template_b
        ids = list(range(20))
        for i in ids:
            app = first if i % 2 else second
            assert app.test_client().post("/orders", json={"id": i, "item": "x"}).status_code
        wait_for(lambda: {o.id for _n, _a, o in handled} >= set(ids), 30, "all orders")
    finally:
        for app in (first, second):
            mq.shutdown(app)
    for name, app_id, _order in handled:
        assert name == f"app_{app_id}", "each handler runs in its own app's context"
    assert {o.id for _n, _a, o in handled} == set(ids)


def test_cli_send_and_topics(cluster: ThreadedCluster, wait_for: Wait) -> None:
    topic, group = unique("CliTopic"), unique("cli-handler")
    handled: list[Any] = []
    mq, create_app = build(cluster, topic, group, handled)
    app = create_app("cli")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "rocketmq", "send", f"{topic}:updated", json.dumps({"id": 3, "item": "pen"}),
            "--json", "-k", "k1", "-k", "k2", "-p", "source=cli",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.startswith("SEND_OK msg_id=")
    received: list[MessageExt] = []

    def on_received(_sender: object, **kwargs: Any) -> None:
        received.append(kwargs["message"])

    with signals.message_received.connected_to(on_received, app):
        mq.start_listeners(app)
        try:
            wait_for(lambda: handled, 20, "the CLI-sent order")
        finally:
            mq.shutdown(app)
    assert handled == [("app_cli", "cli", Order(3, "pen"))]
    assert received[0].keys == ["k1", "k2"] and received[0].properties["source"] == "cli"

    listing = runner.invoke(args=["rocketmq", "topics"])
    assert listing.exit_code == 0, listing.output
    assert f"  {topic}  group={group}  TAG(created || updated)  CONCURRENTLY" in listing.output
    cluster_part = listing.output.split("cluster topics")[1]
    assert f"  {topic}\n" in cluster_part

    orderly = runner.invoke(args=["rocketmq", "send", topic, "plain", "--hash-key", "k"])
    assert orderly.exit_code == 0 and "SEND_OK" in orderly.output


def _read_lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        into.put(line.rstrip("\n"))
    into.put("<eof>")


def _expect(lines: queue.Queue[str], needle: str, seen: list[str]) -> None:
    while True:
        try:
            line = lines.get(timeout=WORKER_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no {needle!r} in worker output:\n" + "\n".join(seen)) from None
        seen.append(line)
        if needle in line:
            return
        if line == "<eof>":
            raise AssertionError(f"worker ended before {needle!r}:\n" + "\n".join(seen))


def test_flask_rocketmq_consume_worker_subprocess(cluster: ThreadedCluster) -> None:
    topic = unique("WorkerOrders")
    env = dict(
        os.environ,
        EXAMPLE_ORDERS_TOPIC=topic,
        FLASK_ROCKETMQ_NAMESRV_ADDR=cluster.namesrv,
        FLASK_ROCKETMQ_CONSUMER_OPTIONS=json.dumps(FAST_CONSUMER),
        PYTHONUNBUFFERED="1",
    )
    env.pop("NAMESRV_ADDR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", str(EXAMPLE_APP), "rocketmq", "consume"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        _expect(lines, "consuming with 1 listener(s)", seen)
        assert any(f"listening: {topic} group={topic}-handler" in line for line in seen)
        with RocketMQTemplate(cluster.namesrv, unique("pg-worker")) as template:
            for i in (101, 102):
                template.convert_and_send(f"{topic}:created", {"id": i, "item": f"i{i}"})
            template.convert_and_send(f"{topic}:other", {"id": 999, "item": "filtered"})
        _expect(lines, "handled order 101", seen)
        _expect(lines, "handled order 102", seen)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WORKER_TIMEOUT) == 0, "\n".join(seen)
        _expect(lines, "stopped", seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WORKER_TIMEOUT)
        reader.join(WORKER_TIMEOUT)
    output = "\n".join(seen)
    assert "stopping (SIGTERM)" in output
    assert "handled order 999" not in output
    assert "Traceback" not in output
