"""Flink connector for rmq: a FLIP-27 source and a Sink V2 for PyFlink; extra ``rmq[flink]``.

The sources and sinks are small Java classes (``org.rmq.flink``) speaking RocketMQ's remoting
protocol, compiled with ``javac`` against the installed PyFlink (see :mod:`rmq_flink.jar`) and
wrapped by Python builders shaped like PyFlink's Kafka connector. Call
:func:`add_connector_jar` on the environment first. The same jar registers the Table API / SQL
connector ``'connector' = 'rocketmq'`` (``CREATE TABLE ... WITH (...)``, no Python wrapper
needed). Guarantees and options: docs/flink.md.
"""

from rmq_flink.errors import RocketMQFlinkError, RocketMQOptionError
from rmq_flink.jar import add_connector_jar, connector_jar, jar_url
from rmq_flink.offsets import QueueRef, RocketMQOffsetsInitializer
from rmq_flink.sink import RocketMQSink, RocketMQSinkBuilder
from rmq_flink.source import RocketMQSource, RocketMQSourceBuilder

__all__ = [
    "QueueRef",
    "RocketMQFlinkError",
    "RocketMQOffsetsInitializer",
    "RocketMQOptionError",
    "RocketMQSink",
    "RocketMQSinkBuilder",
    "RocketMQSource",
    "RocketMQSourceBuilder",
    "add_connector_jar",
    "connector_jar",
    "jar_url",
]
