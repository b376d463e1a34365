"""Bad options fail when the query starts, with an error naming the option."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    BinaryType,
    IntegerType,
    MapType,
    StringType,
    StructField,
    StructType,
)
from rmq_spark.errors import RocketMQOptionError
from rmq_spark.options import read_options, write_options
from rmq_spark.schema import check_write_schema

from tests.spark.fixtures import create_topic, unique_topic


@pytest.fixture(scope="module")
def topic(namesrv: str) -> str:
    name = unique_topic("SparkBad")
    create_topic(namesrv, name)
    return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _batch(spark: SparkSession, options: dict[str, Any]) -> None:
    reader = spark.read.format("rocketmq")
    for name, value in options.items():
        reader = reader.option(name, value)
    reader.load().collect()


def _stream(spark: SparkSession, options: dict[str, Any], checkpoint: Path) -> None:
    reader = spark.readStream.format("rocketmq")
    for name, value in options.items():
        reader = reader.option(name, value)
    query = (
        reader.load()
        .writeStream.format("noop")
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination(60)
    finally:
        query.stop()


BAD_READ_OPTIONS = [
    ({"namesrv": None}, "namesrv", "is required"),
    ({"namesrv": "nowhere"}, "namesrv", "not 'host:port'"),
    ({"topic": None}, "topic", "is required"),
    ({"topics": "A,A"}, "topics", "names a topic twice"),
    ({"topic": "bad topic"}, "topic", "not a legal topic name"),
    ({"startingOffsets": "{not json"}, "startingOffsets", "JSON object"),
    ({"startingOffsets": "[1]"}, "startingOffsets", "must be an object"),
    ({"startingOffsets": '{"T": {}}'}, "startingOffsets", "not one of the topics"),
    ({"startingOffsets": '{"@T": {"b": 1}}'}, "startingOffsets", "not '<brokerName>:<queueId>'"),
    ({"startingOffsets": '{"@T": {"b:0": -5}}'}, "startingOffsets", "integer >= 0"),
    ({"startingOffsets": '{"@T": {"b:0": "x"}}'}, "startingOffsets", "integer >= 0"),
    ({"startingOffsets": "latest"}, "startingOffsets", "not allowed in batch"),
    ({"endingOffsets": "earliest"}, "endingOffsets", "not allowed in batch"),
    ({"endingOffsets": '{"@T": {"b:0": -2}}'}, "endingOffsets", "not allowed as an end"),
    ({"maxMessagesPerTrigger": "5"}, "maxMessagesPerTrigger", "streaming reads only"),
    ({"filter": "a >"}, "filter", ""),
    ({"tags": "A", "filter": "a > 1"}, "filter", "not both"),
    ({"requestTimeoutMs": "-1"}, "requestTimeoutMs", ">= 1"),
    ({"pullBatchSize": "5000"}, "pullBatchSize", "<= 1024"),
    ({"startingTimestamp": "soon"}, "startingTimestamp", "integer"),
    ({"failOnDataLoss": "maybe"}, "failOnDataLoss", "true or false"),
    ({"group": "bad group!"}, "group", "must be"),
]


def _merged(base: dict[str, Any], options: dict[str, Any], topic: str) -> dict[str, Any]:
    merged = dict(base)
    for name, value in options.items():
        merged[name] = value.replace("@T", topic) if isinstance(value, str) else value
    if "topics" in merged:
        merged.pop("topic", None)
    return {k.lower(): v for k, v in merged.items() if v is not None}


@pytest.mark.parametrize(("options", "option", "text"), BAD_READ_OPTIONS)
def test_read_options_are_checked(options: dict[str, Any], option: str, text: str) -> None:
    """Every check that needs no broker, as Spark hands options over (lower-cased keys)."""
    merged = _merged({"namesrv": "127.0.0.1:9876", "topic": "T1"}, options, "T1")
    with pytest.raises(RocketMQOptionError, match=f"^option '{option}': [^\n]*{text}"):
        read_options(merged, streaming=False)


@pytest.mark.parametrize(
    ("options", "option", "text"),
    [
        ({"namesrv": None}, "namesrv", "is required"),
        ({"topic": "NoSuchTopic_spark"}, "topic", "does not exist"),
        ({"startingOffsets": '{"@T": {"nobroker:0": 1}}'}, "startingOffsets", "is not a queue"),
    ],
)
def test_batch_read_fails_at_start_naming_the_option(
    spark: SparkSession, namesrv: str, topic: str, options: dict[str, Any], option: str, text: str
) -> None:
    merged = _merged({"namesrv": namesrv, "topic": topic}, options, topic)
    with pytest.raises(Exception, match=f"option '{option}': [^\n]*{text}"):
        _batch(spark, merged)


def test_namesrv_down_is_named(spark: SparkSession, topic: str) -> None:
    with pytest.raises(Exception, match="option 'namesrv': no NameServer answers"):
        _batch(spark, {"namesrv": f"127.0.0.1:{_free_port()}", "topic": topic})


@pytest.mark.parametrize(
    ("options", "option", "text"),
    [
        ({"maxMessagesPerTrigger": "-3"}, "maxMessagesPerTrigger", ">= 1"),
    ],
)
def test_stream_read_rejects(
    spark: SparkSession,
    namesrv: str,
    topic: str,
    tmp_path: Path,
    options: dict[str, Any],
    option: str,
    text: str,
) -> None:
    merged = {"namesrv": namesrv, "topic": topic, **options}
    with pytest.raises(Exception, match=f"option '{option}': [^\n]*{text}"):
        _stream(spark, merged, tmp_path / "cp")


def test_write_rejects_missing_value_and_sink(spark: SparkSession, namesrv: str) -> None:
    df = spark.createDataFrame([("x",)], "body string")
    with pytest.raises(Exception, match=r"option 'value': .*needs a 'value' column"):
        df.write.format("rocketmq").option("namesrv", namesrv).option("topic", "T").mode(
            "append"
        ).save()
    values = spark.createDataFrame([("x",)], "value string")
    down = f"127.0.0.1:{_free_port()}"
    with pytest.raises(Exception, match="option 'namesrv': no NameServer answers"):
        values.write.format("rocketmq").option("namesrv", down).option("topic", "T").mode(
            "append"
        ).save()
    with pytest.raises(Exception, match="option 'sinkId': is required"):
        values.write.format("rocketmq").option("namesrv", namesrv).mode("append").save()


@pytest.mark.parametrize(
    ("options", "option", "text"),
    [
        ({"maxMessagesPerTrigger": "0"}, "maxMessagesPerTrigger", ">= 1"),
        ({"endingOffsets": "latest"}, "endingOffsets", "batch reads only"),
        ({"startingOffsets": "sometime"}, "startingOffsets", "'earliest', 'latest' or a JSON"),
    ],
)
def test_stream_read_options_are_checked(options: dict[str, Any], option: str, text: str) -> None:
    merged = _merged({"namesrv": "127.0.0.1:9876", "topic": "T1"}, options, "T1")
    with pytest.raises(RocketMQOptionError, match=f"^option '{option}': [^\\n]*{text}"):
        read_options(merged, streaming=True)


@pytest.mark.parametrize(
    ("options", "option", "text"),
    [
        ({"topic": None, "sinkId": None}, "sinkId", "is required"),
        ({"sinkId": "a b"}, "sinkId", "must be"),
        ({"topic": "bad topic"}, "topic", "not a legal topic name"),
        ({"commitTopic": "bad topic"}, "commitTopic", "not a legal topic name"),
        ({"requestTimeoutMs": "x"}, "requestTimeoutMs", "integer"),
    ],
)
def test_write_options_are_checked(options: dict[str, Any], option: str, text: str) -> None:
    merged = _merged({"namesrv": "127.0.0.1:9876", "topic": "T1"}, options, "T1")
    with pytest.raises(RocketMQOptionError, match=f"^option '{option}': [^\\n]*{text}"):
        write_options(merged)


def test_write_schema_is_checked() -> None:
    schema = StructType([StructField("value", StringType()), StructField("tags", IntegerType())])
    with pytest.raises(RocketMQOptionError, match="option 'tags': column 'tags' must be string"):
        check_write_schema(schema)
    props = MapType(StringType(), IntegerType())
    schema = StructType([StructField("value", BinaryType()), StructField("properties", props)])
    with pytest.raises(RocketMQOptionError, match="map<string,string>"):
        check_write_schema(schema)
