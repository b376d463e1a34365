"""Batch read (``spark.read.format("rocketmq")``) and the worker side of every read.

The driver resolves ``startingOffsets``/``startingTimestamp`` and ``endingOffsets`` to
concrete offsets once, in :meth:`RocketMQBatchReader.partitions`, so every task reads a
fixed range: a batch read sees the messages present when it was planned, each exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyspark.sql.datasource import DataSourceReader, InputPartition

from rmq_spark.options import ReadOptions
from rmq_spark.planning import QueueRange, discover, partition_indexes, plan_ranges, resolve
from rmq_spark.queue_client import queue_client
from rmq_spark.schema import message_row

__all__ = ["RocketMQBatchReader", "read_queue_range"]


def read_queue_range(options: ReadOptions, partition: InputPartition) -> Iterator[tuple[Any, ...]]:
    """Rows of one planned range (runs in a Python worker on a pickled reader).

    Spark substitutes a bare ``InputPartition(None)`` when nothing was planned; it yields
    nothing.
    """
    if not isinstance(partition, QueueRange):
        return
    client = queue_client(options.namesrv, options.request_timeout)
    messages = client.read_range(
        partition.mq,
        partition.start,
        partition.end,
        selector=options.selector,
        group=options.group,
        batch_size=options.pull_batch_size,
        fail_on_data_loss=options.fail_on_data_loss,
    )
    for msg in messages:
        yield message_row(msg, partition.broker, partition.partition)


class RocketMQBatchReader(DataSourceReader):
    """Plans one range per queue between the resolved start and end offsets."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options

    def partitions(self) -> list[QueueRange]:
        options = self.options
        client = queue_client(options.namesrv, options.request_timeout)
        queues = discover(client, options.topics)
        start = resolve(
            client,
            queues,
            options.starting,
            "startingTimestamp" if options.starting_timestamp_ms is not None else "startingOffsets",
            timestamp_ms=options.starting_timestamp_ms,
        )
        end = resolve(client, queues, options.ending, "endingOffsets")
        return plan_ranges(start, end, partition_indexes(queues))

    def read(self, partition: InputPartition) -> Iterator[tuple[Any, ...]]:
        yield from read_queue_range(self.options, partition)
