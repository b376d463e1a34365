"""kafka-python's public API, exercised the same way against every backend.

Each test uses only kafka-python's API through the ``backend`` fixture: the rmq shim always,
and real kafka-python against a real Kafka broker when ``KAFKA_BOOTSTRAP`` is set (there is no
Kafka broker in this project's environment, so by default only the shim runs).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from tests.integration.kafka.conftest import Backend, unique, wait_for


def wait_end(consumer: Any, tp: Any, end: int) -> None:
    """Wait until ``tp``'s end offset is ``end``: an acknowledged record becomes visible to
    offset queries a moment later on rmq (the broker's consume-queue dispatch)."""
    wait_for(lambda: consumer.end_offsets([tp])[tp] == end, 10, f"end offset {end} of {tp}")


def drain(consumer: Any, expected: int, timeout: float = 15.0) -> list[Any]:
    """Poll until ``expected`` records arrived (or fail after ``timeout`` s)."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected:
        assert time.monotonic() < deadline, f"got {len(got)} of {expected} records"
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(records)
    return got


def test_produce_and_consume(backend: Backend) -> None:
    topic = unique("orders")
    backend.create_topic(topic, 4)
    producer = backend.producer(
        value_serializer=lambda v: json.dumps(v).encode("utf-8"), key_serializer=str.encode
    )
    futures = [producer.send(topic, {"n": i}, key=f"k{i}") for i in range(40)]
    producer.flush(timeout=20)
    metadata = [f.get(timeout=10) for f in futures]
    assert all(f.succeeded() and not f.failed() for f in futures)
    assert {m.topic for m in metadata} == {topic}
    assert all(0 <= m.partition < 4 and m.offset >= 0 for m in metadata)
    assert producer.partitions_for(topic) == {0, 1, 2, 3}
    producer.close()

    consumer = backend.consumer(
        topic,
        group_id=unique("readers"),
        auto_offset_reset="earliest",
        value_deserializer=lambda b: json.loads(b.decode("utf-8")),
        key_deserializer=bytes.decode,
    )
    records = drain(consumer, 40)
    consumer.close()
    assert sorted(r.value["n"] for r in records) == list(range(40))
    by_key = {r.key: (r.partition, r.offset) for r in records}
    for m, i in zip(metadata, range(40), strict=True):
        assert by_key[f"k{i}"] == (m.partition, m.offset)


def test_keyed_order_and_partitioning(backend: Backend) -> None:
    topic = unique("keyed")
    backend.create_topic(topic, 4)
    keys = [f"user-{n}".encode() for n in range(8)]
    with backend.producer(linger_ms=5) as producer:
        futures = [(k, i, producer.send(topic, b"%d" % i, key=k)) for i in range(60) for k in keys]
        producer.flush(timeout=20)
        partition_of = {}
        for key, _, future in futures:
            partition = future.get(timeout=10).partition
            assert partition_of.setdefault(key, partition) == partition  # one key, one partition
    consumer = backend.consumer(group_id=unique("ordered"), auto_offset_reset="earliest")
    consumer.subscribe([topic])
    seen: dict[bytes, list[int]] = defaultdict(list)
    for record in drain(consumer, 60 * len(keys)):
        seen[record.key].append(int(record.value))
    consumer.close()
    for key in keys:
        assert seen[key] == list(range(60)), f"order broken for {key!r}"


def test_group_rebalance_between_two_consumers(backend: Backend) -> None:
    topic = unique("shared")
    group = unique("workers")
    backend.create_topic(topic, 4)
    events: list[tuple[str, str, set[Any]]] = []

    class Recorder(backend.module.ConsumerRebalanceListener):  # type: ignore[name-defined,misc]
        def __init__(self, name: str) -> None:
            self.name = name

        def on_partitions_revoked(self, revoked: Any) -> None:
            events.append((self.name, "revoked", set(revoked)))

        def on_partitions_assigned(self, assigned: Any) -> None:
            events.append((self.name, "assigned", set(assigned)))

    first = backend.consumer(group_id=group, auto_offset_reset="earliest")
    first.subscribe([topic], listener=Recorder("first"))
    wait_for(lambda: first.poll(timeout_ms=100) == {} and len(first.assignment()) == 4, 20,
             "the first consumer to own every partition")  # fmt: skip
    second = backend.consumer(group_id=group, auto_offset_reset="earliest")
    second.subscribe([topic], listener=Recorder("second"))

    def split() -> bool:
        first.poll(timeout_ms=50)
        second.poll(timeout_ms=50)
        a, b = first.assignment(), second.assignment()
        return len(a) == 2 and len(b) == 2 and not a & b

    wait_for(split, 30, "the group to share the partitions two and two")
    assert first.assignment() | second.assignment() == {
        backend.module.TopicPartition(topic, p) for p in range(4)
    }
    assert any(e[0] == "first" and e[1] == "revoked" and e[2] for e in events)
    assert any(e[0] == "second" and e[1] == "assigned" and e[2] for e in events)

    with backend.producer() as producer:
        for i in range(40):
            producer.send(topic, b"%d" % i, partition=i % 4)
        producer.flush(timeout=20)
    got: list[Any] = []
    deadline = time.monotonic() + 20
    while len(got) < 40 and time.monotonic() < deadline:
        for consumer in (first, second):
            for records in consumer.poll(timeout_ms=100).values():
                got.extend(records)
    assert sorted(int(r.value) for r in got) == list(range(40))
    second.close()
    wait_for(lambda: first.poll(timeout_ms=50) == {} and len(first.assignment()) == 4, 30,
             "the partitions to return to the first consumer")  # fmt: skip
    first.close()


def test_seek_position_and_bounds(backend: Backend) -> None:
    topic = unique("seekable")
    backend.create_topic(topic, 1)
    tp = backend.module.TopicPartition(topic, 0)
    with backend.producer() as producer:
        for i in range(20):
            producer.send(topic, b"%d" % i, partition=0)
        producer.flush(timeout=20)
    consumer = backend.consumer(auto_offset_reset="earliest", enable_auto_commit=False)
    consumer.assign([tp])
    assert consumer.assignment() == {tp}
    wait_end(consumer, tp, 20)
    assert consumer.beginning_offsets([tp]) == {tp: 0}
    assert consumer.end_offsets([tp]) == {tp: 20}
    consumer.seek(tp, 15)
    assert consumer.position(tp) == 15
    assert [r.offset for r in drain(consumer, 5)] == [15, 16, 17, 18, 19]
    assert consumer.position(tp) == 20
    consumer.seek_to_beginning(tp)
    assert consumer.position(tp) == 0
    first = drain(consumer, 3)[:3]
    assert [r.offset for r in first] == [0, 1, 2]
    consumer.seek_to_end()
    assert consumer.position(tp) == 20
    assert consumer.poll(timeout_ms=300) == {}
    consumer.close()


def test_commit_and_committed(backend: Backend) -> None:
    topic = unique("committed")
    group = unique("committers")
    backend.create_topic(topic, 2)
    tps = [backend.module.TopicPartition(topic, p) for p in range(2)]
    with backend.producer() as producer:
        for i in range(10):
            producer.send(topic, b"x", partition=i % 2)
        producer.flush(timeout=20)
    consumer = backend.consumer(group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")  # fmt: skip
    consumer.assign(tps)
    assert consumer.committed(tps[0]) is None
    drain(consumer, 10)
    consumer.commit()
    assert {tp: consumer.committed(tp) for tp in tps} == {tps[0]: 5, tps[1]: 5}
    consumer.commit({tps[0]: backend.module.OffsetAndMetadata(2, "", -1)})
    assert consumer.committed(tps[0]) == 2
    assert consumer.committed(tps[0], metadata=True).offset == 2
    results: list[Any] = []
    consumer.commit_async({tps[1]: backend.module.OffsetAndMetadata(3, "", -1)},
                          callback=lambda offsets, response: results.append(offsets))  # fmt: skip
    wait_for(lambda: consumer.poll(timeout_ms=50) == {} and results, 10, "the commit callback")
    assert consumer.committed(tps[1]) == 3
    consumer.close()

    # a new member of the group starts where the group committed
    again = backend.consumer(group_id=group, enable_auto_commit=False)
    again.assign(tps)
    assert again.position(tps[0]) == 2
    assert again.position(tps[1]) == 3
    assert sorted((r.partition, r.offset) for r in drain(again, 5)) == [
        (0, 2), (0, 3), (0, 4), (1, 3), (1, 4),
    ]  # fmt: skip
    again.close()


def test_auto_commit_on_close(backend: Backend) -> None:
    topic = unique("autocommit")
    group = unique("auto")
    backend.create_topic(topic, 1)
    tp = backend.module.TopicPartition(topic, 0)
    with backend.producer() as producer:
        for _ in range(6):
            producer.send(topic, b"a", partition=0)
        producer.flush(timeout=20)
    consumer = backend.consumer(topic, group_id=group, auto_offset_reset="earliest")
    drain(consumer, 6)
    consumer.close()
    checker = backend.consumer(group_id=group, enable_auto_commit=False)
    assert checker.committed(tp) == 6
    checker.close()


def test_pause_and_resume(backend: Backend) -> None:
    topic = unique("pausable")
    backend.create_topic(topic, 2)
    tps = [backend.module.TopicPartition(topic, p) for p in range(2)]
    consumer = backend.consumer(auto_offset_reset="earliest")
    consumer.assign(tps)
    consumer.pause(tps[0])
    assert consumer.paused() == {tps[0]}
    with backend.producer() as producer:
        for i in range(10):
            producer.send(topic, b"%d" % i, partition=i % 2)
        producer.flush(timeout=20)
    got = drain(consumer, 5)
    assert {r.partition for r in got} == {1}
    assert consumer.poll(timeout_ms=500) == {}
    consumer.resume(tps[0])
    assert consumer.paused() == set()
    assert {r.partition for r in drain(consumer, 5)} == {0}
    consumer.close()


def test_offsets_for_times(backend: Backend) -> None:
    topic = unique("timed")
    backend.create_topic(topic, 1)
    tp = backend.module.TopicPartition(topic, 0)
    with backend.producer() as producer:
        for i in range(5):
            producer.send(topic, b"early-%d" % i, partition=0).get(timeout=10)
        time.sleep(0.3)
        middle = int(time.time() * 1000)
        time.sleep(0.3)
        for i in range(5):
            producer.send(topic, b"late-%d" % i, partition=0).get(timeout=10)
    consumer = backend.consumer()
    wait_end(consumer, tp, 10)
    found = consumer.offsets_for_times({tp: middle})
    assert found[tp].offset == 5
    assert found[tp].timestamp >= middle
    assert consumer.offsets_for_times({tp: 0})[tp].offset == 0
    assert consumer.offsets_for_times({tp: int(time.time() * 1000) + 3_600_000})[tp] is None
    consumer.assign([tp])
    consumer.seek(tp, found[tp].offset)
    assert [r.value for r in drain(consumer, 5)] == [b"late-%d" % i for i in range(5)]
    consumer.close()


def test_headers_timestamps_keys_and_null_values(backend: Backend) -> None:
    topic = unique("carried")
    backend.create_topic(topic, 1)
    headers = [("trace", b"\x00\x01binary"), ("trace", b"again"), ("ct", b"json")]
    with backend.producer() as producer:
        producer.send(topic, b"v", key=b"\xff\xfe", headers=headers, timestamp_ms=1_234_567)
        producer.send(topic, None, key=b"tombstone")
        producer.send(topic, b"", key=b"empty")
        producer.flush(timeout=20)
    consumer = backend.consumer(topic, auto_offset_reset="earliest")
    first, tombstone, empty = sorted(drain(consumer, 3), key=lambda r: r.offset)
    consumer.close()
    assert (first.key, first.value, first.headers) == (b"\xff\xfe", b"v", headers)
    assert first.timestamp == 1_234_567 and first.timestamp_type == 0
    assert (tombstone.key, tombstone.value) == (b"tombstone", None)
    assert (empty.key, empty.value) == (b"empty", b"")
    assert first.serialized_header_size == sum(len(k) + len(v) for k, v in headers)


def test_iteration_stops_after_consumer_timeout(backend: Backend) -> None:
    topic = unique("iterated")
    backend.create_topic(topic, 2)
    with backend.producer() as producer:
        for i in range(12):
            producer.send(topic, b"%d" % i)
        producer.flush(timeout=20)
    consumer = backend.consumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=1500)
    started = time.monotonic()
    values = sorted(int(record.value) for record in consumer)
    assert values == list(range(12))
    assert time.monotonic() - started < 15
    consumer.close()


def test_pattern_subscription_and_topics(backend: Backend) -> None:
    prefix = unique("pat")
    names = [f"{prefix}-a", f"{prefix}-b"]
    for name in names:
        backend.create_topic(name, 1)
    other = unique("unrelated")
    backend.create_topic(other, 1)
    consumer = backend.consumer(group_id=unique("patterns"), auto_offset_reset="earliest")
    assert set(names) <= consumer.topics()
    assert consumer.partitions_for_topic(names[0]) == {0}
    consumer.subscribe(pattern=f"^{prefix}-.*")
    with backend.producer() as producer:
        for name in [*names, other]:
            producer.send(name, name.encode())
        producer.flush(timeout=20)
    got = drain(consumer, 2)
    assert sorted(r.value.decode() for r in got) == names
    assert consumer.subscription() == set(names)
    consumer.close()


def test_no_group_subscribe_reads_every_partition(backend: Backend) -> None:
    topic = unique("broadcast")
    backend.create_topic(topic, 3)
    with backend.producer() as producer:
        for i in range(9):
            producer.send(topic, b"%d" % i, partition=i % 3)
        producer.flush(timeout=20)
    readers = [backend.consumer(topic, auto_offset_reset="earliest") for _ in range(2)]
    for reader in readers:
        assert sorted(int(r.value) for r in drain(reader, 9)) == list(range(9))
        assert len(reader.assignment()) == 3
        reader.close()


def test_producer_callbacks_and_metrics(backend: Backend) -> None:
    topic = unique("callbacks")
    backend.create_topic(topic, 1)
    successes: list[Any] = []
    with backend.producer(acks=1) as producer:
        future = producer.send(topic, b"one")
        future.add_callback(successes.append).add_errback(lambda exc: successes.append(exc))
        producer.flush(timeout=20)
        assert future.get(timeout=5).offset == successes[0].offset
        assert isinstance(producer.metrics(), dict)
    with backend.producer(acks=0) as producer:
        assert producer.send(topic, b"fire-and-forget").get(timeout=10).offset == -1


def test_admin_topics_and_groups(backend: Backend) -> None:
    topic = unique("administered")
    group = unique("audited")
    admin = backend.admin()
    result = admin.create_topics([backend.admin_module.NewTopic(topic, 3, 1)])
    assert result is not None
    assert topic in admin.list_topics()
    (described,) = admin.describe_topics([topic])
    assert described["name"] == topic
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]
    assert admin.describe_cluster()["brokers"]

    tp = backend.module.TopicPartition(topic, 1)
    consumer = backend.consumer(group_id=group, enable_auto_commit=False)
    consumer.assign([tp])
    consumer.commit({tp: backend.module.OffsetAndMetadata(0, "", -1)})
    consumer.close()
    assert group in {g["group_id"] for g in admin.list_groups()}
    offsets = admin.list_group_offsets({group: None})[group]
    assert {t: om.offset for t, om in offsets.items()} == {tp: 0}

    admin.delete_topics([topic])
    wait_for(lambda: topic not in admin.list_topics(), 10, f"{topic} to disappear")
    admin.close()
