"""Bad input fails fast with the cause: missing options, an unreachable NameServer or unknown
topic at build time (and at run time when validation is off), a bad SQL92 filter, a missing
jar, and a deserializer that fails on a message (the job fails, naming the message)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from py4j.protocol import Py4JJavaError
from pyflink.common import WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.common.typeinfo import Types
from pyflink.datastream.formats.json import JsonRowDeserializationSchema
from rmq_flink import (
    RocketMQOffsetsInitializer,
    RocketMQOptionError,
    RocketMQSink,
    RocketMQSource,
    RocketMQSourceBuilder,
)

from tests.flink.support import Broker, Job, create_topic, make_env, produce, unique

JOB_TIMEOUT = 90.0  # s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def source(namesrv: str, topic: str) -> RocketMQSourceBuilder:
    return (
        RocketMQSource.builder()
        .set_namesrv(namesrv)
        .set_topics(topic)
        .set_group("g")
        .set_value_only_deserializer(SimpleStringSchema())
    )


def test_missing_options_name_the_option(flink_jar: Path) -> None:
    make_env()
    with pytest.raises(RocketMQOptionError, match="namesrv"):
        RocketMQSource.builder().set_topics("t").set_group("g").build()
    with pytest.raises(RocketMQOptionError, match="topics"):
        RocketMQSource.builder().set_namesrv("127.0.0.1:1").set_group("g").build()
    with pytest.raises(RocketMQOptionError, match="group"):
        RocketMQSource.builder().set_namesrv("127.0.0.1:1").set_topics("t").build()
    with pytest.raises(RocketMQOptionError, match="deserializer"):
        RocketMQSource.builder().set_namesrv("127.0.0.1:1").set_topics("t").set_group("g").build()
    with pytest.raises(RocketMQOptionError, match="producer_group"):
        RocketMQSink.builder().set_namesrv("127.0.0.1:1").set_topic("t").build()
    with pytest.raises(RocketMQOptionError, match="serializer"):
        (
            RocketMQSink.builder()
            .set_namesrv("127.0.0.1:1")
            .set_topic("t")
            .set_producer_group("p")
            .build()
        )


def test_bad_sql92_filter_fails_at_build_with_the_position(flink_jar: Path) -> None:
    make_env()
    builder = source("127.0.0.1:1", "t").set_sql_filter("a > AND b")
    with pytest.raises(RocketMQOptionError, match="sql_filter"):
        builder.build()


def test_unreachable_namesrv_fails_at_build_within_the_timeout(flink_jar: Path) -> None:
    make_env()
    builder = source(f"127.0.0.1:{free_port()}", "t").set_request_timeout(1.0)
    with pytest.raises(RocketMQOptionError, match=r"namesrv.*unreachable"):
        builder.build()
    sink = (
        RocketMQSink.builder()
        .set_namesrv(f"127.0.0.1:{free_port()}")
        .set_topic("t")
        .set_producer_group("p")
        .set_value_serializer(SimpleStringSchema())
    )
    with pytest.raises(RocketMQOptionError, match=r"namesrv.*unreachable"):
        sink.build()


def test_unknown_topic_fails_at_build(broker: Broker, flink_jar: Path) -> None:
    make_env()
    with pytest.raises(RocketMQOptionError, match=r"topic.*does not exist"):
        source(broker.namesrv, unique("nosuch")).build()


def test_unknown_topic_without_validation_fails_the_job_with_the_cause(
    broker: Broker, flink_jar: Path
) -> None:
    env = make_env(parallelism=1)
    missing = unique("nosuch")
    built = source(broker.namesrv, missing).set_validate(False).build()
    env.from_source(built, WatermarkStrategy.no_watermarks(), "rmq").print()
    job = Job(env, "unknown-topic")
    with pytest.raises(Py4JJavaError) as failure:
        job.wait(JOB_TIMEOUT)
    assert f"topic '{missing}' does not exist" in str(failure.value)


def test_failing_deserializer_fails_the_job_naming_the_message(
    broker: Broker, flink_jar: Path
) -> None:
    topic = create_topic(broker.namesrv, unique("badjson"), queues=1)
    produce(broker.namesrv, topic, ['{"n": 1}', "not json", '{"n": 3}'])
    env = make_env(parallelism=1)
    schema = (
        JsonRowDeserializationSchema.builder()
        .type_info(Types.ROW_NAMED(["n"], [Types.INT()]))
        .build()
    )
    built = (
        RocketMQSource.builder()
        .set_namesrv(broker.namesrv)
        .set_topics(topic)
        .set_group(unique("g"))
        .set_starting_offsets(RocketMQOffsetsInitializer.earliest())
        .set_bounded(RocketMQOffsetsInitializer.latest())
        .set_value_only_deserializer(schema)
        .build()
    )
    env.from_source(built, WatermarkStrategy.no_watermarks(), "rmq").print()
    job = Job(env, "bad-json")
    with pytest.raises(Py4JJavaError) as failure:
        job.wait(JOB_TIMEOUT)
    text = str(failure.value)
    assert "the deserializer failed on the message at offset 1" in text
