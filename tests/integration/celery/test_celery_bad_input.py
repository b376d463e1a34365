"""Bad input and failures around the rocketmq:// transport: malformed URLs and options, an
unreachable NameServer (the worker waits and connects once it is up), a broker restart under
a running worker, message bodies that are not kombu payloads, unknown tasks, and an
acknowledgement that comes after the invisible time. Nothing is lost, nothing crashes."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

from rmq_core.client.sync import Producer
from rmq_core.common.message import Message
from rmq_integrations.celery.options import TransportConfigError
from tests.integration.celery.celery_support import (
    ThreadedCluster,
    Workers,
    client_app,
    free_port,
    records,
    wait_for,
)

RESULT_TIMEOUT = 20.0


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("rocketmq://127.0.0.1:notaport", {}, "Port could not be cast"),
        ("rocketmq://", {"namesrv_addr": "nohostport"}, "bad NameServer address 'nohostport'"),
        ("rocketmq://127.0.0.1:9876", {"visibility_timeout": 3}, "unknown rocketmq transport"),
        ("rocketmq://127.0.0.1:9876", {"invisible_time": -1}, "invisible_time must be in"),
        ("rocketmq://127.0.0.1:9876", {"queue_nums": "many"}, "queue_nums='many'"),
    ],
)
def test_malformed_url_or_options_fail_clearly(url: str, options: dict, message: str) -> None:
    with pytest.raises((TransportConfigError, ValueError), match=message):
        connection = Connection(url, transport_options=options, connect_timeout=2)
        connection.ensure_connection(max_retries=1, interval_start=0.1)


def test_unreachable_nameserver_is_a_connection_error_naming_it() -> None:
    port = free_port()
    connection = Connection(f"rocketmq://127.0.0.1:{port}", connect_timeout=2)
    with pytest.raises(OperationalError, match=f"no NameServer answered .*127.0.0.1:{port}"):
        connection.ensure_connection(max_retries=1, interval_start=0.1)


def test_worker_waits_for_the_nameserver_and_survives_a_broker_restart(
    tmp_path: Path, workers: Workers
) -> None:
    cluster = ThreadedCluster(tmp_path / "store", free_port(), free_port())
    url = f"rocketmq://127.0.0.1:{cluster.namesrv_port}"
    worker = workers.start(url, queues="celery", invisible=3.0, wait_ready=False)
    wait_for(lambda: "Cannot connect to rocketmq://" in worker.output(), 20, "a connect error")
    assert "no NameServer answered" in worker.output()
    cluster.start()
    app = client_app(url)
    try:
        wait_for(lambda: "ready." in worker.output(), 30, "the worker to connect")
        app.send_task("celery_app.record", ("before",))
        wait_for(lambda: records(workers.state) == ["before"], RESULT_TIMEOUT, "first task")
        cluster.stop()
        cluster.start()  # same ports, same store
        app.send_task("celery_app.record", ("after",))
        wait_for(lambda: "after" in records(workers.state), 60, "a task after the restart")
        assert worker.process.poll() is None
    finally:
        app.close()
        worker.stop()
        cluster.stop()


def test_bad_bodies_go_to_the_dlq_and_good_tasks_still_run(
    cluster: ThreadedCluster, workers: Workers
) -> None:
    app = client_app(cluster.url)
    worker = workers.start(cluster.url, queues="celery")
    try:
        with Producer("raw-producer", cluster.namesrv) as raw:
            raw.send(Message("celery", b"\x00\x01 definitely not json"))
            raw.send(Message("celery", b'{"json": "but not a kombu message"}'))
        app.send_task("celery_app.no_such_task", (1,))  # a kombu payload Celery rejects
        app.send_task("celery_app.record", ("good",))
        wait_for(lambda: records(workers.state) == ["good"], RESULT_TIMEOUT, "the good task")
        wait_for(lambda: cluster.max_offset("%DLQ%kombu-celery") == 3, 10, "three dead letters")
        output = worker.output()
        assert output.count("is not a kombu payload; moving it to %DLQ%kombu-celery") == 2
        assert "unregistered task" in output
        assert worker.stop() == 0
    finally:
        app.close()


def test_ack_after_the_invisible_time_is_logged_and_the_message_comes_back(
    cluster: ThreadedCluster, caplog: pytest.LogCaptureFixture
) -> None:
    options = {"invisible_time": 1.0, "renew_invisible": False, "long_poll": 0.5}
    queue = Queue("late-acks", Exchange("late-acks"), "late-acks")
    with (
        Connection(cluster.url, transport_options=options) as connection,
        connection.channel() as channel,
    ):
        producer = connection.Producer(channel)
        producer.publish({"n": 1}, exchange=queue.exchange, routing_key="late-acks",
                         declare=[queue])  # fmt: skip
        bound = queue(channel)
        message = None
        deadline = time.monotonic() + 10
        while message is None and time.monotonic() < deadline:
            message = bound.get()
        assert message is not None and message.payload == {"n": 1}
        time.sleep(2.5)  # past the invisible time: the broker made it visible again
        with caplog.at_level(logging.WARNING, logger="rmq_integrations.celery.transport"):
            message.ack()
            channel.flush(10)
        assert "came too late" in caplog.text
        again = None
        deadline = time.monotonic() + 10
        while again is None and time.monotonic() < deadline:
            again = bound.get()
        assert again is not None and again.payload == {"n": 1}
        assert again.delivery_info["redelivered"] is True
        again.ack()
