"""Partitions spread over two brokers: numbering, keyed routing and group consumption."""

from __future__ import annotations

import time
from typing import Any

from rmq_integrations.kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, NewTopic
from rmq_integrations.kafka import TopicPartition as TP
from tests.integration.kafka.conftest import ThreadCluster, unique, wait_for


def test_partitions_over_two_brokers(two_broker_cluster: ThreadCluster) -> None:
    servers = two_broker_cluster.namesrv
    topic = unique("spread")
    with KafkaAdminClient(bootstrap_servers=servers) as admin:
        admin.create_topics([NewTopic(topic, 5, 1)])
        (described,) = admin.describe_topics([topic])
        layout = [(p["broker_name"], p["queue_id"]) for p in described["partitions"]]
        assert len(admin.describe_cluster()["brokers"]) == 2
    # partition n = n-th queue in (broker name, queue id) order; 5 queues split 3 + 2
    assert layout == [("broker-a", 0), ("broker-a", 1), ("broker-a", 2),
                      ("broker-b", 0), ("broker-b", 1)]  # fmt: skip

    with KafkaProducer(bootstrap_servers=servers) as producer:
        assert producer.partitions_for(topic) == set(range(5))
        sent = {}
        for i in range(50):
            md = producer.send(topic, b"%d" % i, key=b"key-%d" % (i % 10)).get(timeout=10)
            sent[i] = (md.partition, md.offset)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id=unique("spread-group"),
        auto_offset_reset="earliest",
    )
    got: dict[int, Any] = {}
    deadline = time.monotonic() + 20
    while len(got) < 50 and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                got[int(record.value)] = (record.partition, record.offset)
    assert got == sent  # same partition numbers on both sides, queue ids 0 on both brokers
    assert consumer.end_offsets([TP(topic, 3)])[TP(topic, 3)] == sum(
        1 for p, _ in sent.values() if p == 3
    )
    consumer.close()


def test_group_members_split_two_brokers(two_broker_cluster: ThreadCluster) -> None:
    servers = two_broker_cluster.namesrv
    topic, group = unique("split"), unique("split-group")
    with KafkaAdminClient(bootstrap_servers=servers) as admin:
        admin.create_topics([NewTopic(topic, 4, 1)])
    members = [
        KafkaConsumer(
            topic, bootstrap_servers=servers, group_id=group, auto_offset_reset="earliest"
        )
        for _ in range(2)
    ]

    def balanced() -> bool:
        for member in members:
            member.poll(timeout_ms=50)
        a, b = (m.assignment() for m in members)
        return len(a) == 2 and len(b) == 2 and not a & b

    wait_for(balanced, 30, "two members with two partitions each")
    with KafkaProducer(bootstrap_servers=servers) as producer:
        for i in range(40):
            producer.send(topic, b"%d" % i, partition=i % 4)
        producer.flush(timeout=20)
    values: list[int] = []
    deadline = time.monotonic() + 20
    while len(values) < 40 and time.monotonic() < deadline:
        for member in members:
            for records in member.poll(timeout_ms=100).values():
                values.extend(int(r.value) for r in records)
    assert sorted(values) == list(range(40))
    for member in members:
        member.close()
