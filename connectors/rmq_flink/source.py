"""``RocketMQSource``: the Python face of the Java FLIP-27 source (``org.rmq.flink``).

Usage, as with PyFlink's ``KafkaSource``::

    add_connector_jar(env)
    source = (
        RocketMQSource.builder()
        .set_namesrv("127.0.0.1:9876")
        .set_topics("orders")
        .set_group("flink-orders")
        .set_starting_offsets(RocketMQOffsetsInitializer.earliest())
        .set_value_only_deserializer(SimpleStringSchema())
        .build()
    )
    ds = env.from_source(source, WatermarkStrategy.no_watermarks(), "orders")

:meth:`RocketMQSourceBuilder.build` checks the options, compiles a SQL92 filter with rmq's own
parser, and (unless ``set_validate(False)``) asks the NameServer that the topics exist, so bad
input fails there with :class:`~rmq_flink.errors.RocketMQOptionError` naming the option.
"""

from __future__ import annotations

from typing import Any

from pyflink.common.serialization import DeserializationSchema
from pyflink.datastream.connectors.base import Source

from rmq_core.errors import FilterError
from rmq_core.filter import compile_sql92
from rmq_flink._java import java_class, validate_topics
from rmq_flink.errors import RocketMQOptionError
from rmq_flink.offsets import RocketMQOffsetsInitializer

__all__ = ["RocketMQSource", "RocketMQSourceBuilder"]

DEFAULT_TIMEOUT_MS = 3000


class RocketMQSource(Source):
    """A RocketMQ source for ``env.from_source``; create it with :meth:`builder`."""

    def __init__(self, j_source: Any) -> None:
        super().__init__(j_source)

    @staticmethod
    def builder() -> RocketMQSourceBuilder:
        return RocketMQSourceBuilder()


class RocketMQSourceBuilder:
    """Collects the source's options; every setter returns the builder.

    Required: :meth:`set_namesrv`, :meth:`set_topics`, :meth:`set_group`,
    :meth:`set_value_only_deserializer`. Defaults: start at the group's committed offsets (else
    the earliest), unbounded, no filter, 32 messages per pull, 100 ms idle poll interval,
    3 s request timeout, no offset commit to the group.
    """

    def __init__(self) -> None:
        self._namesrv: str | None = None
        self._topics: list[str] = []
        self._group: str | None = None
        self._starting = RocketMQOffsetsInitializer.committed_offsets()
        self._stopping: RocketMQOffsetsInitializer | None = None
        self._filter: tuple[str, str] = ("TAG", "*")
        self._deserializer: DeserializationSchema | None = None
        self._commit = False
        self._batch_size = 32
        self._poll_interval_ms = 100
        self._timeout_ms = DEFAULT_TIMEOUT_MS
        self._validate = True

    def set_namesrv(self, namesrv: str) -> RocketMQSourceBuilder:
        """NameServer address(es): ``host:port`` or ``host:port;host:port``."""
        self._namesrv = namesrv
        return self

    def set_topics(self, *topics: str) -> RocketMQSourceBuilder:
        self._topics = list(topics)
        return self

    def set_group(self, group: str) -> RocketMQSourceBuilder:
        """Consumer group: used for committed offsets and offset commits."""
        self._group = group
        return self

    def set_starting_offsets(self, offsets: RocketMQOffsetsInitializer) -> RocketMQSourceBuilder:
        self._starting = offsets
        return self

    def set_bounded(self, stopping: RocketMQOffsetsInitializer) -> RocketMQSourceBuilder:
        """Make the source bounded: each queue ends before its stopping offset (exclusive)."""
        self._stopping = stopping
        return self

    def set_unbounded(self) -> RocketMQSourceBuilder:
        self._stopping = None
        return self

    def set_tag_filter(self, expression: str) -> RocketMQSourceBuilder:
        """Tag subscription, e.g. ``"TagA || TagB"`` (``"*"`` = every message)."""
        self._filter = ("TAG", expression)
        return self

    def set_sql_filter(self, expression: str) -> RocketMQSourceBuilder:
        """SQL92 selector over message properties (the broker needs enablePropertyFilter)."""
        self._filter = ("SQL92", expression)
        return self

    def set_value_only_deserializer(self, schema: DeserializationSchema) -> RocketMQSourceBuilder:
        """Deserializes each message body, e.g. ``SimpleStringSchema()``."""
        self._deserializer = schema
        return self

    def set_commit_offsets_on_checkpoint(self, commit: bool = True) -> RocketMQSourceBuilder:
        """Write each completed checkpoint's offsets to the consumer group (for monitoring)."""
        self._commit = commit
        return self

    def set_batch_size(self, messages: int) -> RocketMQSourceBuilder:
        self._batch_size = messages
        return self

    def set_poll_interval(self, seconds: float) -> RocketMQSourceBuilder:
        """How long an idle reader waits before pulling again."""
        self._poll_interval_ms = round(seconds * 1000)
        return self

    def set_request_timeout(self, seconds: float) -> RocketMQSourceBuilder:
        """Bound of every request (connect + answer) to the NameServer and brokers."""
        self._timeout_ms = round(seconds * 1000)
        return self

    def set_validate(self, validate: bool) -> RocketMQSourceBuilder:
        """Whether :meth:`build` asks the NameServer that the topics exist (default True)."""
        self._validate = validate
        return self

    def _check(self) -> None:
        if not self._namesrv or not self._namesrv.strip():
            raise RocketMQOptionError("namesrv", "set_namesrv('host:port') is required")
        if not self._topics or not all(isinstance(t, str) and t.strip() for t in self._topics):
            raise RocketMQOptionError("topics", "set_topics(...) needs at least one topic name")
        if not self._group or not self._group.strip():
            raise RocketMQOptionError("group", "set_group(...) is required")
        if self._deserializer is None:
            raise RocketMQOptionError(
                "deserializer", "set_value_only_deserializer(...) is required"
            )
        if self._batch_size < 1 or self._poll_interval_ms < 1 or self._timeout_ms < 1:
            raise RocketMQOptionError("batch_size/poll_interval/timeout", "must be positive")
        kind, expression = self._filter
        if kind == "SQL92":
            try:
                compile_sql92(expression)
            except FilterError as exc:
                raise RocketMQOptionError("sql_filter", str(exc)) from None

    def build(self) -> RocketMQSource:
        self._check()
        assert self._namesrv is not None and self._group is not None
        assert self._deserializer is not None
        if self._validate:
            validate_topics(
                self._namesrv, self._topics, for_write=False, timeout_ms=self._timeout_ms
            )
        builder = java_class("RocketMQSource").builder()
        builder.setNamesrv(self._namesrv).setGroup(self._group)
        for topic in self._topics:
            builder.addTopic(topic)
        builder.setStartingOffsets(self._starting._to_java())
        if self._stopping is not None:
            builder.setBounded(self._stopping._to_java())
        builder.setFilter(*self._filter)
        builder.setBatchSize(self._batch_size).setPollIntervalMs(self._poll_interval_ms)
        builder.setTimeoutMs(self._timeout_ms).setCommitOffsetsOnCheckpoint(self._commit)
        builder.setDeserializer(self._deserializer._j_deserialization_schema)
        return RocketMQSource(builder.build())
