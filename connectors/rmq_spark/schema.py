"""The row layout of ``format("rocketmq")``, modelled on Spark's Kafka source.

Read schema (every column always present):

==================  ====================  ==================================================
column              type                  meaning
==================  ====================  ==================================================
key                 string                the message's KEYS (space-separated when several)
value               binary                the body (decompressed)
topic               string                the topic
partition           int                   index of the queue in the topic's queues sorted by
                                          (broker name, queue id)
offset              bigint                the queue offset
broker              string                the broker name hosting the queue
queue_id            int                   the queue id on that broker
tags                string                the message's tag (null when none)
properties          map<string,string>    the user properties (system ones left out)
born_timestamp      timestamp             when the producer created it (producer's clock)
store_timestamp     timestamp             when the broker stored it
msg_id              string                the client message id (UNIQ_KEY), else the
                                          broker's offset message id
==================  ====================  ==================================================

Write rows need ``value`` (binary or string) and may have ``key`` (string or binary, UTF-8),
``tags`` (string), ``properties`` (map<string,string>) and ``topic`` (string; the ``topic``
option, when set, overrides it). Other columns are ignored, so a read DataFrame can be
written back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pyspark.sql.types import (
    BinaryType,
    DataType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from rmq_core.client import Message, MessageExt
from rmq_core.common.message import MessageConst
from rmq_spark.errors import RocketMQOptionError

__all__ = ["READ_SCHEMA", "WRITE_COLUMNS", "check_write_schema", "message_row", "row_message"]

READ_SCHEMA = StructType(
    [
        StructField("key", StringType(), True),
        StructField("value", BinaryType(), True),
        StructField("topic", StringType(), False),
        StructField("partition", IntegerType(), False),
        StructField("offset", LongType(), False),
        StructField("broker", StringType(), False),
        StructField("queue_id", IntegerType(), False),
        StructField("tags", StringType(), True),
        StructField("properties", MapType(StringType(), StringType(), True), True),
        StructField("born_timestamp", TimestampType(), True),
        StructField("store_timestamp", TimestampType(), True),
        StructField("msg_id", StringType(), True),
    ]
)

_STRING_OR_BINARY = (StringType, BinaryType)
WRITE_COLUMNS: dict[str, tuple[type[DataType], ...]] = {
    "value": _STRING_OR_BINARY,
    "key": _STRING_OR_BINARY,
    "tags": (StringType,),
    "properties": (MapType,),
    "topic": (StringType,),
}


def _timestamp(millis: int) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000.0, tz=UTC) if millis > 0 else None


def user_properties(properties: Mapping[str, str]) -> dict[str, str]:
    """The properties of a message that are not RocketMQ system properties."""
    return {k: v for k, v in properties.items() if k not in MessageConst.STRING_HASH_SET}


def message_row(msg: MessageExt, broker: str, partition: int) -> tuple[Any, ...]:
    """The read row of ``msg`` read from a queue of ``broker`` (order of :data:`READ_SCHEMA`)."""
    keys = msg.properties.get(MessageConst.PROPERTY_KEYS)
    uniq = msg.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    return (
        keys or None,
        bytes(msg.body),
        msg.topic,
        partition,
        msg.queue_offset,
        broker,
        msg.queue_id,
        msg.tags,
        user_properties(msg.properties),
        _timestamp(msg.born_timestamp),
        _timestamp(msg.store_timestamp),
        uniq or msg.msg_id,
    )


def check_write_schema(schema: StructType) -> None:
    """Raise RocketMQOptionError unless ``schema`` has a usable ``value`` column and the
    optional columns have usable types."""
    fields = {f.name: f for f in schema.fields}
    if "value" not in fields:
        raise RocketMQOptionError(
            "value", "the DataFrame written needs a 'value' column (binary or string)"
        )
    for name, allowed in WRITE_COLUMNS.items():
        column = fields.get(name)
        if column is None:
            continue
        data_type = column.dataType
        if not isinstance(data_type, allowed):
            wanted = " or ".join(t.__name__.replace("Type", "").lower() for t in allowed)
            raise RocketMQOptionError(
                name, f"column '{name}' must be {wanted}, not {data_type.simpleString()}"
            )
        if isinstance(data_type, MapType) and not (
            isinstance(data_type.keyType, StringType)
            and isinstance(data_type.valueType, StringType)
        ):
            raise RocketMQOptionError(name, "column 'properties' must be map<string,string>")


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8")
    return str(value)


def row_message(row: Any, default_topic: str | None) -> Message:
    """The message to send for one written row (a ``pyspark.sql.Row``).

    Raises ValueError naming the problem for a row without a topic or a value.
    """
    fields = row.asDict() if hasattr(row, "asDict") else dict(row)
    topic = default_topic or fields.get("topic")
    if not topic:
        raise ValueError("a written row has no 'topic' and no 'topic' option is set")
    value = fields.get("value")
    if value is None:
        raise ValueError(f"a row written to {topic} has a null 'value'")
    body = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    msg = Message(str(topic), body)
    key = fields.get("key")
    if key is not None:
        msg.keys = _text(key)
    tags = fields.get("tags")
    if tags:
        msg.tags = str(tags)
    for name, prop in (fields.get("properties") or {}).items():
        if prop:  # RocketMQ cannot store empty property values; they are left out
            msg.put_user_property(str(name), str(prop))
    return msg
