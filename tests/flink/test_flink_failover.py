"""A streaming job with checkpointing and an injected failure mid-stream: after the restart
from the last checkpoint, the output topic holds every input exactly once (exactly-once sink)
or at least once (default sink). The source runs with parallelism 2 over 4 queues."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pyflink.common import Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream.connectors.base import DeliveryGuarantee
from rmq_flink import RocketMQOffsetsInitializer, RocketMQSink, RocketMQSource

from rmq_core.admin.sync import AdminClient
from tests.flink.jobs import FailOnce
from tests.flink.support import (
    Broker,
    Job,
    bodies,
    create_topic,
    make_env,
    produce,
    read_topic,
    unique,
    wait_for,
)

COUNT = 60
CHECKPOINT_MS = 1000
OUTPUT_TIMEOUT = 120.0  # s
SETTLE = 2.0  # s: a few more checkpoints, so late duplicates would show up


def run_failover_job(
    broker: Broker, tmp_path: Path, guarantee: DeliveryGuarantee, group: str
) -> tuple[str, list[str], list[str]]:
    """Run the job while the input is produced; returns (input topic, expected, output)."""
    source_topic = create_topic(broker.namesrv, unique("fo_in"), queues=4)
    sink_topic = create_topic(broker.namesrv, unique("fo_out"), queues=2)
    inputs = [f"m-{i:03d}" for i in range(COUNT)]
    expected = sorted(f"out-{m}" for m in inputs)
    marker = tmp_path / "failed"

    env = make_env(parallelism=2, checkpoint_ms=CHECKPOINT_MS, restarts=3)
    source = (
        RocketMQSource.builder()
        .set_namesrv(broker.namesrv)
        .set_topics(source_topic)
        .set_group(group)
        .set_starting_offsets(RocketMQOffsetsInitializer.earliest())
        .set_value_only_deserializer(SimpleStringSchema())
        .set_commit_offsets_on_checkpoint(True)
        .build()
    )
    sink = (
        RocketMQSink.builder()
        .set_namesrv(broker.namesrv)
        .set_topic(sink_topic)
        .set_producer_group(unique("pg"))
        .set_value_serializer(SimpleStringSchema())
        .set_delivery_guarantee(guarantee)
        .build()
    )
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), "rmq-in")
        .map(FailOnce("m-030", str(marker)), output_type=Types.STRING())
        .sink_to(sink)
    )
    job = Job(env, f"failover-{guarantee}")
    feeder = threading.Thread(
        target=produce, args=(broker.namesrv, source_topic, inputs), kwargs={"pause": 0.05}
    )
    try:
        feeder.start()
        wait_for(
            lambda: set(bodies(read_topic(broker.namesrv, sink_topic))) >= set(expected),
            OUTPUT_TIMEOUT,
            "every input in the output topic",
            every=0.5,
        )
        assert marker.exists(), "the injected failure did not happen"
        time.sleep(SETTLE)
        output = bodies(read_topic(broker.namesrv, sink_topic))
    finally:
        feeder.join(30)
        job.cancel()
    return source_topic, expected, output


def committed_total(namesrv: str, group: str, topic: str) -> int:
    with AdminClient(namesrv) as admin:
        return sum(max(q.consumer_offset, 0) for q in admin.consumer_progress(group, topic).queues)


def test_exactly_once_sink_after_failover_holds_every_input_once(
    broker: Broker, flink_jar: Path, tmp_path: Path
) -> None:
    group = unique("eo")
    topic, expected, output = run_failover_job(
        broker, tmp_path, DeliveryGuarantee.EXACTLY_ONCE, group
    )
    assert output == expected  # every input, none twice
    # offsets of completed checkpoints were committed to the group (4 queues, 60 messages)
    assert committed_total(broker.namesrv, group, topic) == COUNT


def test_at_least_once_sink_after_failover_holds_every_input(
    broker: Broker, flink_jar: Path, tmp_path: Path
) -> None:
    _, expected, output = run_failover_job(
        broker, tmp_path, DeliveryGuarantee.AT_LEAST_ONCE, unique("alo")
    )
    print(f"at-least-once output: {len(output)} messages for {len(expected)} inputs")
    assert set(output) == set(expected)
    assert len(output) >= len(expected)
