"""``RocketMQDataSource``: the PySpark Python data source named ``rocketmq``."""

from __future__ import annotations

from typing import Any

from pyspark.sql.datasource import DataSource
from pyspark.sql.types import StructType

from rmq_spark.options import read_options, write_options
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
        options = write_options(self.options)
        check_write_schema(schema)
        return RocketMQBatchWriter(options)

    def streamWriter(self, schema: StructType, overwrite: bool) -> RocketMQStreamWriter:
        options = write_options(self.options)
        check_write_schema(schema)
        return RocketMQStreamWriter(options)


def register(spark: Any) -> str:
    """Register the ``rocketmq`` format with ``spark`` (a SparkSession); returns its name."""
    spark.dataSource.register(RocketMQDataSource)
    return RocketMQDataSource.name()
