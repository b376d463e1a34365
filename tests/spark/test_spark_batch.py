"""Batch reads and writes through a real local SparkSession."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import SparkSession

from tests.spark.fixtures import bodies, create_topic, produce, read_topic, unique_topic


def test_batch_read_returns_exactly_the_topic(spark: SparkSession, namesrv: str) -> None:
    topic = unique_topic("SparkBatchRead")
    create_topic(namesrv, topic, queues=2)
    produce(namesrv, topic, [f"m{i}" for i in range(10)], tags="TagA", properties={"p": "v"})
    df = spark.read.format("rocketmq").option("namesrv", namesrv).option("topic", topic).load()
    assert df.columns == [
        "key", "value", "topic", "partition", "offset", "broker", "queue_id", "tags",
        "properties", "born_timestamp", "store_timestamp", "msg_id",
    ]  # fmt: skip
    rows = df.collect()
    assert sorted(bytes(r.value).decode() for r in rows) == sorted(f"m{i}" for i in range(10))
    for row in rows:
        assert row.topic == topic
        assert row.key == f"k-{bytes(row.value).decode()}"
        assert row.tags == "TagA"
        assert row.properties == {"p": "v"}
        assert row.partition == row.queue_id  # one broker: index == queue id
        assert isinstance(row.store_timestamp, datetime)
        assert len(row.msg_id) == 32
    per_queue = {}
    for row in rows:
        per_queue.setdefault(row.queue_id, []).append(row.offset)
    assert {q: sorted(o) for q, o in per_queue.items()} == {0: list(range(5)), 1: list(range(5))}
