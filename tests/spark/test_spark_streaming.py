"""Streaming reads and writes through a real local SparkSession: exactly once end to end."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import StringType

from rmq_core.admin.sync import AdminClient
from rmq_core.client import MessageQueue
from tests.spark.fixtures import (
    bodies,
    broker_name,
    create_topic,
    produce,
    read_topic,
    settled_topic,
    unique_topic,
)

QUERY_TIMEOUT = 90  # s for one availableNow run


def _source(spark: SparkSession, namesrv: str, topic: str, **options: Any) -> DataFrame:
    reader = spark.readStream.format("rocketmq").option("namesrv", namesrv).option("topic", topic)
    for name, value in options.items():
        reader = reader.option(name, value)
    return reader.load()


def _upper(df: DataFrame) -> DataFrame:
    """topic -> transformation -> topic: the body upper-cased, key and tags kept."""
    return df.select(
        F.upper(F.col("value").cast("string")).alias("value"), F.col("key"), F.col("tags")
    )


def _sink(df: DataFrame, namesrv: str, topic: str, checkpoint: Path, sink_id: str) -> Any:
    return (
        df.writeStream.format("rocketmq")
        .option("namesrv", namesrv)
        .option("topic", topic)
        .option("sinkId", sink_id)
        .option("checkpointLocation", str(checkpoint))
    )


def _run_available_now(writer: Any) -> StreamingQuery:
    query = writer.trigger(availableNow=True).start()
    assert query.awaitTermination(QUERY_TIMEOUT), "availableNow query did not finish"
    if query.exception() is not None:
        raise AssertionError(f"query failed: {query.exception()}")
    return query


def _batch_sizes(query: StreamingQuery) -> list[int]:
    return [p["numInputRows"] for p in query.recentProgress if p["numInputRows"] > 0]


def test_available_now_in_micro_batches_and_restart_exactly_once(
    spark: SparkSession, namesrv: str, tmp_path: Path
) -> None:
    source, target = unique_topic("SparkSrc"), unique_topic("SparkOut")
    create_topic(namesrv, source, queues=2)
    create_topic(namesrv, target, queues=2)
    produce(namesrv, source, [f"m{i:02d}" for i in range(30)], tags="T")
    checkpoint = tmp_path / "checkpoint"

    def run() -> StreamingQuery:
        df = _upper(_source(spark, namesrv, source, startingOffsets="earliest",
                            maxMessagesPerTrigger=12))  # fmt: skip
        return _run_available_now(_sink(df, namesrv, target, checkpoint, "avail"))

    first = run()
    assert _batch_sizes(first) == [12, 12, 6]
    assert bodies(settled_topic(namesrv, target, 30)) == [f"M{i:02d}" for i in range(30)]

    produce(namesrv, source, [f"n{i:02d}" for i in range(5)], tags="T")
    second = run()
    assert sum(_batch_sizes(second)) == 5
    out = settled_topic(namesrv, target, 35)
    expected = [f"M{i:02d}" for i in range(30)] + [f"N{i:02d}" for i in range(5)]
    assert bodies(out) == sorted(expected)
    assert {m.tags for m in out} == {"T"}
    assert {m.keys[0] for m in out} == {f"k-{b.lower()}" for b in expected}

    # Forget that Spark finished the last batch: the restart re-runs that batch id with the
    # same offsets, as after a crash between the sink's commit and Spark's. The sink knows
    # the batch is committed and publishes nothing again.
    commits = [p for p in (checkpoint / "commits").iterdir() if p.name.isdigit()]
    last = max(commits, key=lambda p: int(p.name))
    last.unlink()
    (last.parent / f".{last.name}.crc").unlink(missing_ok=True)
    replay = run()
    assert sum(_batch_sizes(replay)) == 5  # the last batch really ran again
    assert bodies(settled_topic(namesrv, target, 35)) == sorted(expected)


def _explode_on(marker: str) -> Any:
    def check(value):  # no type hints: Spark would take it for a pandas UDF
        if value == marker:
            raise ValueError(f"injected failure on {marker}")
        return value

    return F.udf(check, StringType())


def test_failing_write_task_aborts_the_batch(
    spark: SparkSession, namesrv: str, tmp_path: Path
) -> None:
    source, target = unique_topic("SparkAbortSrc"), unique_topic("SparkAbortOut")
    create_topic(namesrv, source, queues=2)
    create_topic(namesrv, target, queues=2)
    produce(namesrv, source, [f"a{i:02d}" for i in range(20)])
    checkpoint = tmp_path / "checkpoint"
    df = _source(spark, namesrv, source, startingOffsets="earliest")
    failing = df.select(_explode_on("a19")(F.col("value").cast("string")).alias("value"))
    query = _sink(failing, namesrv, target, checkpoint, "abort").trigger(availableNow=True).start()
    with pytest.raises(Exception, match="injected failure"):
        query.awaitTermination(QUERY_TIMEOUT)
    time.sleep(3.0)  # past the broker's check interval: stray halves would show by now
    assert read_topic(namesrv, target) == []

    # The same checkpoint without the failure: the batch is retried and published once.
    fixed = _source(spark, namesrv, source, startingOffsets="earliest").select(
        F.col("value").cast("string").alias("value")
    )
    _run_available_now(_sink(fixed, namesrv, target, checkpoint, "abort"))
    assert bodies(settled_topic(namesrv, target, 20)) == [f"a{i:02d}" for i in range(20)]


def test_processing_time_trigger_with_live_producer(
    spark: SparkSession, namesrv: str, tmp_path: Path
) -> None:
    source, target = unique_topic("SparkLiveSrc"), unique_topic("SparkLiveOut")
    create_topic(namesrv, source, queues=2)
    create_topic(namesrv, target, queues=2)
    produce(namesrv, source, ["old"])  # before the query: startingOffsets=latest skips it
    df = _source(spark, namesrv, source)  # default startingOffsets: latest
    writer = _sink(df.select("value", "key"), namesrv, target, tmp_path / "cp", "live")
    query = writer.trigger(processingTime="500 milliseconds").start()
    try:
        deadline = time.monotonic() + 60
        while not query.recentProgress and time.monotonic() < deadline:
            time.sleep(0.2)  # the initial offsets are taken with the first batch
        expected = [f"live{i:02d}" for i in range(40)]

        def feed() -> None:
            for i in range(0, 40, 4):
                produce(namesrv, source, expected[i : i + 4])
                time.sleep(0.2)

        feeder = threading.Thread(target=feed)
        feeder.start()
        feeder.join(60)
        while time.monotonic() < deadline:
            if len(read_topic(namesrv, target)) >= 40 or query.exception() is not None:
                break
            time.sleep(0.5)
        assert query.exception() is None
        assert bodies(settled_topic(namesrv, target, 40)) == expected
        batches = [p["numInputRows"] for p in query.recentProgress if p["numInputRows"] > 0]
        assert len(batches) >= 2, batches
    finally:
        query.stop()


def test_new_queues_are_picked_up_and_group_offsets_committed(
    spark: SparkSession, namesrv: str, tmp_path: Path
) -> None:
    topic = unique_topic("SparkGrow")
    group = unique_topic("SparkGroup")
    create_topic(namesrv, topic, queues=2)
    produce(namesrv, topic, [f"g{i}" for i in range(6)])
    checkpoint = tmp_path / "checkpoint"

    def run() -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []

        def collect(batch: DataFrame, _batch_id: int) -> None:
            seen.extend((r.value, r.queue_id) for r in batch.collect())

        df = _source(spark, namesrv, topic, startingOffsets="earliest", group=group)
        query = (
            df.selectExpr("cast(value as string) AS value", "queue_id")
            .writeStream.foreachBatch(collect)
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        assert query.awaitTermination(QUERY_TIMEOUT)
        assert query.exception() is None
        return sorted(seen)

    assert [v for v, _ in run()] == [f"g{i}" for i in range(6)]
    create_topic(namesrv, topic, queues=4)  # two more queues on the broker
    broker = broker_name(namesrv, topic)
    produce(namesrv, topic, ["new3"], queue=MessageQueue(topic, broker, 3))
    produce(namesrv, topic, ["new0"], queue=MessageQueue(topic, broker, 0))
    assert run() == [("new0", 0), ("new3", 3)]

    with AdminClient(namesrv) as admin:
        progress = admin.consumer_progress(group, topic)
    committed = {q.mq.queue_id: q.consumer_offset for q in progress.queues}
    assert committed.get(0, 0) >= 3 and committed.get(1, 0) >= 3, committed  # first run's ends
