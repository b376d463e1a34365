"""``RocketMQSink``: the Python face of the Java Sink V2 (``org.rmq.flink``), for ``sink_to``.

Usage::

    sink = (
        RocketMQSink.builder()
        .set_namesrv("127.0.0.1:9876")
        .set_topic("orders-out")
        .set_producer_group("flink-orders-out")
        .set_value_serializer(SimpleStringSchema())
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .build()
    )
    ds.sink_to(sink)

At-least-once (the default) stores each message before the element is acknowledged;
exactly-once sends transactional half messages and commits them when the checkpoint covering
them completes (see docs/flink.md). The stream's type must match the serializer (``Types.STRING()``
for ``SimpleStringSchema``).
"""

from __future__ import annotations

from typing import Any

from pyflink.common.serialization import SerializationSchema
from pyflink.datastream.connectors.base import DeliveryGuarantee, Sink

from rmq_flink._java import java_class, validate_topics
from rmq_flink.errors import RocketMQOptionError

__all__ = ["RocketMQSink", "RocketMQSinkBuilder"]

DEFAULT_TIMEOUT_MS = 3000
DEFAULT_TRANSACTION_TIMEOUT = 900  # s


class RocketMQSink(Sink):
    """A RocketMQ sink for ``DataStream.sink_to``; create it with :meth:`builder`."""

    def __init__(self, j_sink: Any) -> None:
        super().__init__(j_sink)

    @staticmethod
    def builder() -> RocketMQSinkBuilder:
        return RocketMQSinkBuilder()


class RocketMQSinkBuilder:
    """Collects the sink's options; every setter returns the builder.

    Required: :meth:`set_namesrv`, :meth:`set_topic`, :meth:`set_producer_group`,
    :meth:`set_value_serializer`. Defaults: AT_LEAST_ONCE, no tag, 2 send retries, 3 s
    request timeout, 900 s transaction timeout.
    """

    def __init__(self) -> None:
        self._namesrv: str | None = None
        self._topic: str | None = None
        self._group: str | None = None
        self._tag: str | None = None
        self._serializer: SerializationSchema | None = None
        self._guarantee = DeliveryGuarantee.AT_LEAST_ONCE
        self._retries = 2
        self._timeout_ms = DEFAULT_TIMEOUT_MS
        self._transaction_timeout = DEFAULT_TRANSACTION_TIMEOUT
        self._validate = True

    def set_namesrv(self, namesrv: str) -> RocketMQSinkBuilder:
        self._namesrv = namesrv
        return self

    def set_topic(self, topic: str) -> RocketMQSinkBuilder:
        self._topic = topic
        return self

    def set_producer_group(self, group: str) -> RocketMQSinkBuilder:
        self._group = group
        return self

    def set_tag(self, tag: str) -> RocketMQSinkBuilder:
        """Tag every message carries (``TAGS`` property)."""
        self._tag = tag
        return self

    def set_value_serializer(self, schema: SerializationSchema) -> RocketMQSinkBuilder:
        """Serializes each element into a message body, e.g. ``SimpleStringSchema()``."""
        self._serializer = schema
        return self

    def set_delivery_guarantee(self, guarantee: DeliveryGuarantee) -> RocketMQSinkBuilder:
        """AT_LEAST_ONCE (default) or EXACTLY_ONCE (NONE behaves as AT_LEAST_ONCE)."""
        self._guarantee = guarantee
        return self

    def set_retries(self, retries: int) -> RocketMQSinkBuilder:
        self._retries = retries
        return self

    def set_request_timeout(self, seconds: float) -> RocketMQSinkBuilder:
        self._timeout_ms = round(seconds * 1000)
        return self

    def set_transaction_timeout(self, seconds: int) -> RocketMQSinkBuilder:
        """Exactly-once: how long a half message may wait for its checkpoint to complete."""
        self._transaction_timeout = int(seconds)
        return self

    def set_validate(self, validate: bool) -> RocketMQSinkBuilder:
        """Whether :meth:`build` asks the NameServer that the topic exists (default True)."""
        self._validate = validate
        return self

    def _check(self) -> None:
        if not self._namesrv or not self._namesrv.strip():
            raise RocketMQOptionError("namesrv", "set_namesrv('host:port') is required")
        if not self._topic or not self._topic.strip():
            raise RocketMQOptionError("topic", "set_topic(...) is required")
        if not self._group or not self._group.strip():
            raise RocketMQOptionError("producer_group", "set_producer_group(...) is required")
        if self._serializer is None:
            raise RocketMQOptionError("serializer", "set_value_serializer(...) is required")
        if self._retries < 0 or self._timeout_ms < 1 or self._transaction_timeout < 1:
            raise RocketMQOptionError(
                "retries/timeouts", "retries must be >= 0 and timeouts positive"
            )
        if not isinstance(self._guarantee, DeliveryGuarantee):
            raise RocketMQOptionError(
                "delivery_guarantee", f"not a DeliveryGuarantee: {self._guarantee!r}"
            )

    def build(self) -> RocketMQSink:
        self._check()
        assert self._namesrv is not None and self._topic is not None and self._group is not None
        assert self._serializer is not None
        if self._validate:
            validate_topics(
                self._namesrv, [self._topic], for_write=True, timeout_ms=self._timeout_ms
            )
        builder = java_class("RocketMQSink").builder()
        builder.setNamesrv(self._namesrv).setTopic(self._topic).setProducerGroup(self._group)
        if self._tag:
            builder.setTag(self._tag)
        builder.setExactlyOnce(self._guarantee == DeliveryGuarantee.EXACTLY_ONCE)
        builder.setRetries(self._retries).setTimeoutMs(self._timeout_ms)
        builder.setTransactionTimeoutSeconds(self._transaction_timeout)
        builder.setSerializer(self._serializer._j_serialization_schema)
        return RocketMQSink(builder.build())
