"""The rocketmq:// transport through kombu's own API (no Celery): exchange types, prefetch,
acknowledgement semantics, queue size/purge/delete and no_ack consumers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from tests.integration.celery.celery_support import ThreadedCluster, wait_for

OPTIONS = {"long_poll": 0.5, "invisible_time": 5.0}


@pytest.fixture
def connection(cluster: ThreadedCluster) -> Iterator[Connection]:
    with Connection(cluster.url, transport_options=OPTIONS) as conn:
        conn.connect()
        yield conn


def drain(connection: Connection, received: list[Any], count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            connection.drain_events(timeout=0.5)


def get(queue: Queue, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = queue.get()
        if message is not None:
            return message
        time.sleep(0.02)
    return None


def test_direct_topic_and_fanout_exchanges_route_like_amqp(connection: Connection) -> None:
    direct = Exchange("orders", type="direct")
    topic = Exchange("events", type="topic")
    fanout = Exchange("news", type="fanout")
    queues = [
        Queue("orders.eu", direct, routing_key="eu"),
        Queue("events.user", topic, routing_key="user.*"),
        Queue("events.all", topic, routing_key="#"),
        Queue("news.one", fanout),
        Queue("news.two", fanout),
    ]
    channel = connection.channel()
    for queue in queues:
        queue(channel).declare()
    producer = connection.Producer(channel)
    producer.publish({"o": 1}, exchange=direct, routing_key="eu")
    producer.publish({"o": 2}, exchange=direct, routing_key="us")  # unbound: dropped
    producer.publish({"e": "login"}, exchange=topic, routing_key="user.login")
    producer.publish({"e": "boot"}, exchange=topic, routing_key="system.boot")
    producer.publish({"n": 1}, exchange=fanout, routing_key="")
    received: dict[str, list[Any]] = {q.name: [] for q in queues}
    consumers = [Consumer(channel, [q], callbacks=[_collector(received[q.name])]) for q in queues]
    for consumer in consumers:
        consumer.consume()
    deadline = time.monotonic() + 15
    while sum(map(len, received.values())) < 6 and time.monotonic() < deadline:
        _pump(connection)
    time.sleep(0.5)
    _pump(connection)
    assert received["orders.eu"] == [{"o": 1}]
    assert received["events.user"] == [{"e": "login"}]
    assert sorted(b["e"] for b in received["events.all"]) == ["boot", "login"]
    assert received["news.one"] == received["news.two"] == [{"n": 1}]
    for consumer in consumers:
        consumer.cancel()
    channel.close()


def _collector(sink: list[Any]) -> Any:
    def collect(body: Any, message: Any) -> None:
        sink.append(body)
        message.ack()

    return collect


def _pump(connection: Connection) -> bool:
    with contextlib.suppress(TimeoutError):
        connection.drain_events(timeout=0.2)
    return True


def test_prefetch_limits_unacknowledged_messages(connection: Connection) -> None:
    queue = Queue("prefetch", Exchange("prefetch"), "prefetch")
    channel = connection.channel()
    producer = connection.Producer(channel)
    for i in range(3):
        producer.publish({"i": i}, exchange=queue.exchange, routing_key="prefetch",
                         declare=[queue])  # fmt: skip
    received: list[Any] = []
    channel.basic_qos(0, 1, False)
    consumer = Consumer(channel, [queue], callbacks=[lambda body, m: received.append(m)])
    consumer.consume()
    drain(connection, received, 1)
    assert len(received) == 1
    drain(connection, received, 2, timeout=1.5)
    assert len(received) == 1  # the window is full until the first is acknowledged
    received[0].ack()
    drain(connection, received, 2)
    assert len(received) == 2
    received[1].ack()
    drain(connection, received, 3)
    received[2].ack()
    assert sorted(m.payload["i"] for m in received) == [0, 1, 2]
    consumer.cancel()
    channel.close()


def test_requeue_reject_and_the_dead_letter_queue(
    connection: Connection, cluster: ThreadedCluster
) -> None:
    queue = Queue("rejects", Exchange("rejects"), "rejects")
    channel = connection.channel()
    producer = connection.Producer(channel)
    producer.publish({"k": "again"}, exchange=queue.exchange, routing_key="rejects",
                     declare=[queue])  # fmt: skip
    bound = queue(channel)
    first = get(bound)
    assert first.payload == {"k": "again"} and not first.delivery_info["redelivered"]
    first.reject(requeue=True)
    second = get(bound)
    assert second.payload == {"k": "again"} and second.delivery_info["redelivered"]
    second.reject(requeue=False)
    channel.flush(10)
    wait_for(lambda: cluster.max_offset("%DLQ%kombu-rejects") == 1, 10, "the dead letter")
    assert get(bound, timeout=1) is None
    channel.close()


def test_size_purge_and_delete(connection: Connection, cluster: ThreadedCluster) -> None:
    exchange = Exchange("sizes")
    queue = Queue("sizes", exchange, "sizes")
    channel = connection.channel()
    producer = connection.Producer(channel)
    for i in range(5):
        producer.publish({"i": i}, exchange=exchange, routing_key="sizes", declare=[queue])
    wait_for(lambda: cluster.max_offset("sizes") == 5, 5, "dispatch")
    assert queue(channel).queue_declare().message_count == 5
    taken = get(queue(channel))
    assert queue(channel).queue_declare().message_count == 5  # in flight still counts
    assert queue(channel).purge() == 4
    taken.ack()
    channel.flush(10)
    wait_for(lambda: queue(channel).queue_declare().message_count == 0, 5, "empty queue")
    assert channel.typeof("sizes").type == "direct"
    assert ("sizes", "sizes", "sizes") in {
        (q, e, r) for q, e, r in channel.list_bindings() if e == "sizes"
    }
    queue(channel).delete()
    assert channel._has_queue("sizes") is False
    assert channel._table("sizes", fresh=True) == []  # the binding left the server too
    channel.close()


def test_no_ack_consumers_are_acknowledged_on_receipt(
    cluster: ThreadedCluster, connection: Connection
) -> None:
    queue = Queue("noack", Exchange("noack"), "noack")
    channel = connection.channel()
    connection.Producer(channel).publish({"x": 1}, exchange=queue.exchange, routing_key="noack",
                                         declare=[queue])  # fmt: skip
    received: list[Any] = []
    consumer = Consumer(channel, [queue], callbacks=[lambda b, m: received.append(b)], no_ack=True)
    consumer.consume()
    drain(connection, received, 1)
    assert received == [{"x": 1}]
    consumer.cancel()
    channel.close()

    def committed() -> int:
        async def read() -> int:
            assert cluster.cluster is not None
            return cluster.cluster.broker.context.offsets.query_offset("kombu-noack", "noack", 0)

        return cluster.call(read())

    wait_for(lambda: committed() == 1, 10, "the receipt acknowledged")
