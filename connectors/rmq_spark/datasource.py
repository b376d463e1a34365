"""``RocketMQDataSource``: the PySpark Python data source named ``rocketmq``."""

from __future__ import annotations

from typing import Any

from pyspark.sql.datasource import DataSource
from pyspark.sql.types import StructType

from rmq_spark.options import WriteOptions, read_options, write_options
from rmq_spark.queue_client import queue_client
from rmq_spark.reader import RocketMQBatchReader
from rmq_spark.schema import READ_SCHEMA, check_write_schema
from rmq_spark.stream_reader import RocketMQStreamReader
from rmq_spark.writer import RocketMQBatchWriter, RocketMQStreamWriter

__all__ = ["RocketMQDataSource", "register"]


class RocketMQDataSource(DataSource):
    """Batch and streaming reads and writes of rmq (RocketMQ) topics.

    Options are checked when the reader or writer is made, on the driver as the query
    starts; a bad one raises :class:`~rmq_spark.errors.RocketMQOptionError` naming it.
    """

    @classmethod
    def name(cls) -> str:
        return "rocketmq"

    def schema(self) -> StructType:
        return READ_SCHEMA

    def reader(self, schema: StructType) -> RocketMQBatchReader:
        return RocketMQBatchReader(read_options(self.options, streaming=False))

    def streamReader(self, schema: StructType) -> RocketMQStreamReader:
        return RocketMQStreamReader(read_options(self.options, streaming=True))

    def writer(self, schema: StructType, overwrite: bool) -> RocketMQBatchWriter:
        return RocketMQBatchWriter(_checked_write_options(self.options, schema))

    def streamWriter(self, schema: StructType, overwrite: bool) -> RocketMQStreamWriter:
        return RocketMQStreamWriter(_checked_write_options(self.options, schema))


def _checked_write_options(raw: Any, schema: StructType) -> WriteOptions:
    """Options and columns checked, and a NameServer reached, before any task starts."""
    options = write_options(raw)
    check_write_schema(schema)
    queue_client(options.namesrv, options.request_timeout).check_namesrv()
    return options


def register(spark: Any) -> str:
    """Register the ``rocketmq`` format with ``spark`` (a SparkSession); returns its name."""
    spark.dataSource.register(RocketMQDataSource)
    return RocketMQDataSource.name()
