"""Bounded reads: exact offset ranges on the 4 queues of a topic, parallelism 2; the job ends."""

from __future__ import annotations

from pathlib import Path

from pyflink.common import WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from rmq_flink import QueueRef, RocketMQOffsetsInitializer, RocketMQSource, RocketMQSourceBuilder

from tests.flink.support import Broker, create_topic, make_env, produce, unique


def collect(source_builder: RocketMQSourceBuilder, parallelism: int = 2) -> list[str]:
    env = make_env(parallelism)
    source = source_builder.build()
    ds = env.from_source(source, WatermarkStrategy.no_watermarks(), "rmq")
    with ds.execute_and_collect() as results:
        return sorted(str(r) for r in results)


def test_bounded_range_reads_exactly_the_range_on_every_queue(
    broker: Broker, flink_jar: Path
) -> None:
    topic = create_topic(broker.namesrv, unique("bounded"), queues=4)
    for q in range(4):
        produce(broker.namesrv, topic, [f"q{q}-{i:02d}" for i in range(12)], queue_id=q)
    start = {QueueRef(topic, q): 2 + q for q in range(4)}
    stop = {QueueRef(topic, q): 10 for q in range(4)}
    builder = (
        RocketMQSource.builder()
        .set_namesrv(broker.namesrv)
        .set_topics(topic)
        .set_group(unique("g"))
        .set_starting_offsets(RocketMQOffsetsInitializer.offsets(start))
        .set_bounded(RocketMQOffsetsInitializer.offsets(stop))
        .set_value_only_deserializer(SimpleStringSchema())
    )
    got = collect(builder)
    expected = sorted(f"q{q}-{i:02d}" for q in range(4) for i in range(2 + q, 10))
    assert got == expected
