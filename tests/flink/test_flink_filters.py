"""Tag and SQL92 filters: a bounded read returns exactly the matching messages."""

from __future__ import annotations

from pathlib import Path

from pyflink.common import WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from rmq_flink import RocketMQOffsetsInitializer, RocketMQSource, RocketMQSourceBuilder

from tests.flink.support import Broker, create_topic, make_env, produce, unique


def run_bounded(builder: RocketMQSourceBuilder) -> list[str]:
    env = make_env(parallelism=2)
    ds = env.from_source(builder.build(), WatermarkStrategy.no_watermarks(), "rmq")
    with ds.execute_and_collect() as results:
        return sorted(str(r) for r in results)


def bounded_source(namesrv: str, topic: str) -> RocketMQSourceBuilder:
    return (
        RocketMQSource.builder()
        .set_namesrv(namesrv)
        .set_topics(topic)
        .set_group(unique("filter"))
        .set_starting_offsets(RocketMQOffsetsInitializer.earliest())
        .set_bounded(RocketMQOffsetsInitializer.latest())
        .set_value_only_deserializer(SimpleStringSchema())
    )


def test_tag_and_sql92_filters_select_exactly_the_matching_messages(
    broker: Broker, flink_jar: Path
) -> None:
    topic = create_topic(broker.namesrv, unique("filters"), queues=2)
    produce(broker.namesrv, topic, [f"a-{i}" for i in range(6)], tags="A", properties={"n": "1"})
    produce(broker.namesrv, topic, [f"b-{i}" for i in range(6)], tags="B", properties={"n": "7"})
    produce(broker.namesrv, topic, [f"c-{i}" for i in range(6)], tags="C", properties={"n": "9"})

    tagged = run_bounded(bounded_source(broker.namesrv, topic).set_tag_filter("A || C"))
    assert tagged == sorted([f"a-{i}" for i in range(6)] + [f"c-{i}" for i in range(6)])

    selected = run_bounded(bounded_source(broker.namesrv, topic).set_sql_filter("n > 5 AND n < 8"))
    assert selected == sorted(f"b-{i}" for i in range(6))
