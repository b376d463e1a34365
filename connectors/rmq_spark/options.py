"""Parsing and checking the options of ``format("rocketmq")`` (see docs/spark.md for the table).

Spark hands options over as a case-insensitive mapping whose keys are **lower-cased**; every
lookup here is by the lower-cased name, and every error names the option as documented
(``startingOffsets``, not ``startingoffsets``). Checks that need no broker happen here, when
the query is planned on the driver; checks that need routes (unknown topic, unknown queue in
an offsets JSON, NameServer down) happen right after, in :mod:`rmq_spark.planning`, still on
the driver and before any task starts.

Offsets JSON (``startingOffsets``/``endingOffsets``) has the shape of Spark's Kafka source,
with RocketMQ's queue identity ``"<brokerName>:<queueId>"`` as the inner key::

    {"Orders": {"broker-a:0": 42, "broker-a:1": -2}}

where ``-2`` means earliest and ``-1`` latest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.client.message_selector import MessageSelector
from rmq_core.errors import FilterError
from rmq_spark.errors import RocketMQOptionError

__all__ = [
    "EARLIEST",
    "LATEST",
    "OffsetSpec",
    "ReadOptions",
    "WriteOptions",
    "parse_queue_key",
    "queue_key",
    "read_options",
    "write_options",
]

EARLIEST = -2  # offsets JSON: start of the queue
LATEST = -1  # offsets JSON: end of the queue
DEFAULT_REQUEST_TIMEOUT_MS = 3000
DEFAULT_PULL_BATCH_SIZE = 32
MAX_PULL_BATCH_SIZE = 1024
DEFAULT_READER_GROUP = "RMQ_SPARK_READER"
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,100}$")
_QUEUE_KEY = re.compile(r"^(?P<broker>.+):(?P<queue>\d+)$")


def queue_key(broker_name: str, queue_id: int) -> str:
    """The offsets-JSON key of a queue: ``"<brokerName>:<queueId>"``."""
    return f"{broker_name}:{queue_id}"


def parse_queue_key(key: str) -> tuple[str, int] | None:
    """``(broker_name, queue_id)`` of an offsets-JSON key, or None when malformed."""
    match = _QUEUE_KEY.match(key)
    if match is None:
        return None
    return match.group("broker"), int(match.group("queue"))


@dataclass(frozen=True, slots=True)
class OffsetSpec:
    """Where reading starts or ends: ``earliest``, ``latest`` or per-queue offsets.

    ``offsets`` (kind ``json`` only) maps topic -> queue key -> offset, ``-2`` earliest and
    ``-1`` latest; queues it leaves out use ``default`` (``earliest`` or ``latest``).
    """

    kind: str
    offsets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    default: str = "earliest"


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Checked read options. Times are seconds; offsets are queue offsets (messages)."""

    namesrv: str
    topics: tuple[str, ...]
    starting: OffsetSpec
    ending: OffsetSpec
    starting_timestamp_ms: int | None
    max_messages_per_trigger: int | None
    selector: MessageSelector
    group: str
    commit_group: bool
    fail_on_data_loss: bool
    pull_batch_size: int
    request_timeout: float


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Checked write options; ``topic`` is the default for rows without a ``topic`` value."""

    namesrv: str
    topic: str | None
    sink_id: str
    commit_topic: str
    request_timeout: float

    @property
    def producer_group(self) -> str:
        """The producer group of the sink's half messages (answers the broker's checks)."""
        return f"RMQ_SPARK_SINK_{self.sink_id}"


def _get(options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name.lower())
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(options: Mapping[str, Any], name: str, *, minimum: int) -> int | None:
    raw = _get(options, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise RocketMQOptionError(name, f"expected an integer, got {raw!r}") from None
    if value < minimum:
        raise RocketMQOptionError(name, f"must be >= {minimum}, got {value}")
    return value


def _bool(options: Mapping[str, Any], name: str, default: bool) -> bool:
    raw = _get(options, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise RocketMQOptionError(name, f"expected true or false, got {raw!r}")
    return lowered == "true"


def _namesrv(options: Mapping[str, Any]) -> str:
    raw = _get(options, "namesrv")
    if raw is None:
        raise RocketMQOptionError("namesrv", "is required: the NameServer 'host:port[;host:port]'")
    for addr in raw.split(";"):
        host, sep, port = addr.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RocketMQOptionError("namesrv", f"{addr!r} is not 'host:port'")
    return raw


def _timeout(options: Mapping[str, Any]) -> float:
    millis = _int(options, "requestTimeoutMs", minimum=1)
    return (millis if millis is not None else DEFAULT_REQUEST_TIMEOUT_MS) / 1000.0


def _check_name(option: str, value: str, what: str) -> str:
    if not _NAME.match(value):
        raise RocketMQOptionError(
            option, f"{what} {value!r} must be 1-100 characters of a-z, A-Z, 0-9, '_' or '-'"
        )
    return value


def _topic_name(option: str, value: str) -> str:
    if not re.match(r"^[%|a-zA-Z0-9_-]{1,127}$", value):
        raise RocketMQOptionError(option, f"{value!r} is not a legal topic name")
    return value


def _topics(options: Mapping[str, Any]) -> tuple[str, ...]:
    single, several = _get(options, "topic"), _get(options, "topics")
    if single is not None and several is not None:
        raise RocketMQOptionError("topics", "give either 'topic' or 'topics', not both")
    if single is None and several is None:
        raise RocketMQOptionError("topic", "is required (or 'topics', comma-separated)")
    option = "topic" if single is not None else "topics"
    raw = single if single is not None else several
    assert raw is not None
    names = [t.strip() for t in raw.split(",") if t.strip()]
    if not names:
        raise RocketMQOptionError(option, "names no topic")
    if len(set(names)) != len(names):
        raise RocketMQOptionError(option, f"names a topic twice: {raw!r}")
    return tuple(_topic_name(option, t) for t in names)


def _offset_spec(
    options: Mapping[str, Any], name: str, topics: tuple[str, ...], default: str
) -> OffsetSpec:
    raw = _get(options, name)
    if raw is None:
        return OffsetSpec(default, default=default)
    if raw.lower() in ("earliest", "latest"):
        return OffsetSpec(raw.lower(), default=raw.lower())
    try:
        data = json.loads(raw)
    except ValueError:
        raise RocketMQOptionError(
            name, f"expected 'earliest', 'latest' or a JSON object, got {raw!r}"
        ) from None
    if not isinstance(data, dict):
        raise RocketMQOptionError(name, 'JSON must be an object {"topic": {"broker:queue": n}}')
    offsets: dict[str, dict[str, int]] = {}
    for topic, queues in data.items():
        if topic not in topics:
            raise RocketMQOptionError(
                name, f"topic {topic!r} is not one of the topics read: {', '.join(topics)}"
            )
        if not isinstance(queues, dict):
            raise RocketMQOptionError(name, f"the value of {topic!r} must be an object")
        per_queue: dict[str, int] = {}
        for key, offset in queues.items():
            if parse_queue_key(key) is None:
                raise RocketMQOptionError(
                    name, f"key {key!r} of topic {topic!r} is not '<brokerName>:<queueId>'"
                )
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < EARLIEST:
                raise RocketMQOptionError(
                    name,
                    f"offset of {topic} {key} must be an integer >= 0, or -2 (earliest) / "
                    f"-1 (latest), got {offset!r}",
                )
            per_queue[key] = offset
        offsets[topic] = per_queue
    return OffsetSpec("json", offsets, default=default)


def _selector(options: Mapping[str, Any]) -> MessageSelector:
    tags, sql = _get(options, "tags"), _get(options, "filter")
    if tags is not None and sql is not None:
        raise RocketMQOptionError("filter", "give either 'tags' or 'filter' (SQL92), not both")
    try:
        if sql is not None:
            return MessageSelector.by_sql(sql)
        return MessageSelector.by_tag(tags or "*")
    except FilterError as exc:
        raise RocketMQOptionError("filter" if sql is not None else "tags", str(exc)) from None


def read_options(options: Mapping[str, Any], *, streaming: bool) -> ReadOptions:
    """Check the read options (batch when ``streaming`` is False); raises RocketMQOptionError."""
    namesrv = _namesrv(options)
    topics = _topics(options)
    starting = _offset_spec(
        options, "startingOffsets", topics, "latest" if streaming else "earliest"
    )
    ending = _offset_spec(options, "endingOffsets", topics, "latest")
    if streaming and _get(options, "endingOffsets") is not None:
        raise RocketMQOptionError("endingOffsets", "applies to batch reads only")
    if not streaming and starting.kind == "latest":
        raise RocketMQOptionError("startingOffsets", "'latest' is not allowed in batch reads")
    if not streaming and ending.kind == "earliest":
        raise RocketMQOptionError("endingOffsets", "'earliest' is not allowed in batch reads")
    if not streaming and any(o == EARLIEST for q in ending.offsets.values() for o in q.values()):
        raise RocketMQOptionError("endingOffsets", "-2 (earliest) is not allowed as an end")
    max_per_trigger = _int(options, "maxMessagesPerTrigger", minimum=1)
    if max_per_trigger is not None and not streaming:
        raise RocketMQOptionError("maxMessagesPerTrigger", "applies to streaming reads only")
    group = _get(options, "group")
    return ReadOptions(
        namesrv=namesrv,
        topics=topics,
        starting=starting,
        ending=ending,
        starting_timestamp_ms=_int(options, "startingTimestamp", minimum=0),
        max_messages_per_trigger=max_per_trigger,
        selector=_selector(options),
        group=_check_name("group", group, "group") if group else DEFAULT_READER_GROUP,
        commit_group=group is not None,
        fail_on_data_loss=_bool(options, "failOnDataLoss", True),
        pull_batch_size=_pull_batch_size(options),
        request_timeout=_timeout(options),
    )


def _pull_batch_size(options: Mapping[str, Any]) -> int:
    size = _int(options, "pullBatchSize", minimum=1)
    if size is None:
        return DEFAULT_PULL_BATCH_SIZE
    if size > MAX_PULL_BATCH_SIZE:
        raise RocketMQOptionError("pullBatchSize", f"must be <= {MAX_PULL_BATCH_SIZE}")
    return size


def write_options(options: Mapping[str, Any]) -> WriteOptions:
    """Check the write options; raises RocketMQOptionError."""
    namesrv = _namesrv(options)
    topic = _get(options, "topic")
    if topic is not None:
        _topic_name("topic", topic)
    sink_id = _get(options, "sinkId")
    if sink_id is None:
        if topic is None:
            raise RocketMQOptionError(
                "sinkId", "is required when no 'topic' option names the default topic"
            )
        sink_id = topic
    _check_name("sinkId", sink_id, "sink id")
    commit_topic = _get(options, "commitTopic") or f"RMQ_SPARK_COMMITS_{sink_id}"
    return WriteOptions(
        namesrv=namesrv,
        topic=topic,
        sink_id=sink_id,
        commit_topic=_topic_name("commitTopic", commit_topic),
        request_timeout=_timeout(options),
    )
