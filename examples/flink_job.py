"""A PyFlink streaming job: read a topic, transform each message, write another topic.

Needs the flink extra (``pip install 'rmq[flink]'``, or ``make flink-env`` for .venv-flink)
and a JDK (java and javac) for the connector's Java half, compiled on first use.

    python examples/flink_job.py --namesrv 127.0.0.1:9876 --source-topic In --sink-topic Out

Runs until cancelled (Ctrl-C); ``--bounded`` reads what the source topic holds when the job
starts and ends. ``--exactly-once`` writes transactionally: messages appear in the sink topic
when the checkpoint covering them completes (every ``--checkpoint-interval`` seconds).
"""

from __future__ import annotations

import argparse
import os
import sys

from pyflink.common import Configuration, Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from rmq_flink import RocketMQOffsetsInitializer, RocketMQSink, RocketMQSource, add_connector_jar


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--source-topic", default="FlinkIn")
    parser.add_argument("--sink-topic", default="FlinkOut")
    parser.add_argument("--group", default="flink-example")
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--checkpoint-interval", type=float, default=1.0, help="seconds")
    parser.add_argument("--bounded", action="store_true", help="stop at the current end")
    parser.add_argument("--exactly-once", action="store_true", help="transactional sink")
    return parser.parse_args()


def shout(text: str) -> str:
    """The transformation: upper-case with a marker."""
    return f"{text.upper()}!"


def main() -> int:
    args = parse_args()
    config = Configuration()
    config.set_string("python.executable", sys.executable)  # Python workers use this venv
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(args.parallelism)
    env.enable_checkpointing(round(args.checkpoint_interval * 1000))
    add_connector_jar(env)

    source = (
        RocketMQSource.builder()
        .set_namesrv(args.namesrv)
        .set_topics(args.source_topic)
        .set_group(args.group)
        .set_starting_offsets(RocketMQOffsetsInitializer.committed_offsets())
        .set_value_only_deserializer(SimpleStringSchema())
        .set_commit_offsets_on_checkpoint(True)
    )
    if args.bounded:
        source.set_bounded(RocketMQOffsetsInitializer.latest())
    guarantee = (
        DeliveryGuarantee.EXACTLY_ONCE if args.exactly_once else DeliveryGuarantee.AT_LEAST_ONCE
    )
    sink = (
        RocketMQSink.builder()
        .set_namesrv(args.namesrv)
        .set_topic(args.sink_topic)
        .set_producer_group(f"{args.group}-out")
        .set_value_serializer(SimpleStringSchema())
        .set_delivery_guarantee(guarantee)
        .build()
    )
    (
        env.from_source(source.build(), WatermarkStrategy.no_watermarks(), "rocketmq-in")
        .map(shout, output_type=Types.STRING())
        .sink_to(sink)
    )
    env.execute("rmq flink example")
    print(f"job finished: {args.source_topic} -> {args.sink_topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
