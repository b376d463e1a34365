"""Spark connector for rmq: the PySpark Python data source ``rocketmq`` (extra ``rmq[spark]``).

::

    from rmq_spark import register
    register(spark)
    df = spark.read.format("rocketmq").option("namesrv", "127.0.0.1:9876") \
        .option("topic", "Orders").load()

Batch and streaming reads and writes; streaming writes are exactly once per micro-batch.
See docs/spark.md for the options and the delivery guarantees.
"""

import logging

try:
    import pyspark.sql.datasource  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("rmq_spark needs PySpark 4.3: pip install 'rmq[spark]'") from exc

from rmq_spark.datasource import RocketMQDataSource, register
from rmq_spark.errors import RocketMQOptionError
from rmq_spark.schema import READ_SCHEMA

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["READ_SCHEMA", "RocketMQDataSource", "RocketMQOptionError", "register"]
