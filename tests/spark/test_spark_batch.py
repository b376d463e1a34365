"""Batch reads and writes through a real local SparkSession."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from tests.spark.fixtures import (
    broker_name,
    create_topic,
    produce,
    read_topic,
    settled_topic,
    unique_topic,
)


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


def test_batch_read_offsets_json_tags_and_sql92(spark: SparkSession, namesrv: str) -> None:
    topic = unique_topic("SparkBatchFilter")
    create_topic(namesrv, topic, queues=1)
    produce(namesrv, topic, [f"a{i}" for i in range(6)], tags="TagA", properties={"n": "1"})
    produce(namesrv, topic, [f"b{i}" for i in range(6)], tags="TagB", properties={"n": "7"})

    def load(**options: str) -> list[str]:
        reader = spark.read.format("rocketmq").option("namesrv", namesrv).option("topic", topic)
        for name, value in options.items():
            reader = reader.option(name, value)
        return sorted(bytes(r.value).decode() for r in reader.load().collect())

    assert load(tags="TagB") == [f"b{i}" for i in range(6)]
    assert load(filter="n > 5 AND TAGS = 'TagB'") == [f"b{i}" for i in range(6)]
    queue = f'{{"{topic}": {{"{broker_name(namesrv, topic)}:0": %d}}}}'
    assert load(startingOffsets=queue % 4, endingOffsets=queue % 8) == ["a4", "a5", "b0", "b1"]
    assert load(startingOffsets=queue % 10, tags="TagA") == []


def test_batch_read_starting_timestamp(spark: SparkSession, namesrv: str) -> None:
    topic = unique_topic("SparkBatchTime")
    create_topic(namesrv, topic, queues=2)
    produce(namesrv, topic, ["early0", "early1"])
    time.sleep(0.05)
    middle = int(time.time() * 1000)
    time.sleep(0.05)
    produce(namesrv, topic, ["late0", "late1", "late2"])
    df = (
        spark.read.format("rocketmq")
        .option("namesrv", namesrv)
        .option("topic", topic)
        .option("startingTimestamp", str(middle))
        .load()
    )
    assert sorted(bytes(r.value).decode() for r in df.collect()) == ["late0", "late1", "late2"]


def test_batch_write_then_read_back(spark: SparkSession, namesrv: str) -> None:
    first, second = unique_topic("SparkWriteA"), unique_topic("SparkWriteB")
    create_topic(namesrv, first)
    create_topic(namesrv, second)
    rows = [
        (f"v{i}", f"key{i}", "TagW" if i % 2 else None, {"i": str(i)}, first if i < 6 else second)
        for i in range(10)
    ]
    df = spark.createDataFrame(
        rows, "value string, key string, tags string, properties map<string,string>, topic string"
    ).repartition(3)
    df.write.format("rocketmq").option("namesrv", namesrv).option("sinkId", "batchw").mode(
        "append"
    ).save()
    settled_topic(namesrv, first, 6)
    settled_topic(namesrv, second, 4)
    back = (
        spark.read.format("rocketmq")
        .option("namesrv", namesrv)
        .option("topics", f"{first},{second}")
        .load()
        .collect()
    )
    got = sorted(
        (bytes(r.value).decode(), r.key, r.tags, r.properties.get("i"), r.topic) for r in back
    )
    assert got == sorted((v, k, t, p["i"], tp) for v, k, t, p, tp in rows)
    # the sink's bookkeeping properties travel with the messages
    assert all(r.properties["RMQ_SPARK_QUERY"].startswith("write-") for r in back)


def test_failed_batch_write_leaves_nothing(spark: SparkSession, namesrv: str) -> None:
    topic = unique_topic("SparkWriteFail")
    create_topic(namesrv, topic)

    def poison(value):  # no type hints: Spark would take it for a pandas UDF
        if value == "v7":
            raise ValueError("injected failure in a write task")
        return value

    df = spark.createDataFrame([(f"v{i}",) for i in range(8)], "value string").repartition(2)
    bad = df.select(F.udf(poison, StringType())(F.col("value")).alias("value"))
    with pytest.raises(Exception, match="injected failure"):
        bad.write.format("rocketmq").option("namesrv", namesrv).option("topic", topic).mode(
            "append"
        ).save()
    time.sleep(3.0)  # past the broker's transaction check interval
    assert read_topic(namesrv, topic) == []
