"""Batch and streaming writes (``df.write`` / ``df.writeStream`` ``.format("rocketmq")``).

Both go through :mod:`rmq_spark.sink`: tasks send half messages, the driver's ``commit``
makes them visible and ``abort`` rolls them back, so a failed write publishes nothing.

- A batch write is one transaction: its id is drawn when the write is planned.
- A streaming write is one transaction per micro-batch, identified by Spark's query id
  (kept in the checkpoint, so it survives restarts) and batch id; a batch id that the sink
  already committed for that query (a replay after a failure between the sink's commit and
  Spark's) publishes nothing.

What runs where (PySpark 4.3): ``writer()``/``streamWriter()`` run on the driver and the
writer is pickled to the tasks; ``write()`` runs in Python workers; ``commit``/``abort`` run
on the driver in another process on a fresh writer, seeing only the commit messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from pyspark import TaskContext
from pyspark.sql.datasource import DataSourceStreamWriter, DataSourceWriter, WriterCommitMessage

from rmq_spark.options import WriteOptions
from rmq_spark.sink import SinkCommitter, TaskCommit, TaskPublisher

__all__ = ["RocketMQBatchWriter", "RocketMQStreamWriter", "task_identity"]

BATCH_ID_PROPERTY = "streaming.sql.batchId"
QUERY_ID_PROPERTY = "sql.streaming.queryId"


def task_identity(epoch: str) -> tuple[str, int | None, str | None]:
    """``(task id, streaming batch id, streaming query id)`` of the running Spark task.

    The task id names this attempt of this partition in this planning of the write
    (``epoch``), so a retried or replayed attempt never shares it.
    """
    context = TaskContext.get()
    if context is None:
        raise RuntimeError("rocketmq writes must run inside a Spark task")
    task = f"{epoch}-p{context.partitionId()}-a{context.attemptNumber()}"
    raw_batch = context.getLocalProperty(BATCH_ID_PROPERTY)
    query = context.getLocalProperty(QUERY_ID_PROPERTY)
    return task, int(raw_batch) if raw_batch is not None else None, query


def _task_commits(messages: Sequence[WriterCommitMessage | None]) -> list[TaskCommit]:
    """The tasks' commit messages that arrived (interrupted tasks hand over None)."""
    return [m for m in messages if isinstance(m, TaskCommit)]


class RocketMQBatchWriter(DataSourceWriter):
    """``df.write.format("rocketmq")``: all rows or none."""

    def __init__(self, options: WriteOptions) -> None:
        self.options = options
        self.write_id = uuid.uuid4().hex

    def write(self, iterator: Iterator[Any]) -> TaskCommit:
        task, _batch, _query = task_identity(self.write_id)
        publisher = TaskPublisher(self.options, f"write-{self.write_id}", 0, task)
        return publisher.publish(iterator)

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        commits = _task_commits(messages)
        SinkCommitter(self.options).commit(f"write-{self.write_id}", 0, commits)

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        SinkCommitter(self.options).abort(_task_commits(messages))


class RocketMQStreamWriter(DataSourceStreamWriter):
    """``df.writeStream.format("rocketmq")``: exactly once per micro-batch."""

    def __init__(self, options: WriteOptions) -> None:
        self.options = options
        self.epoch = uuid.uuid4().hex

    def write(self, iterator: Iterator[Any]) -> TaskCommit:
        task, batch, query = task_identity(self.epoch)
        if batch is None or query is None:
            raise RuntimeError("a streaming rocketmq write ran outside a streaming query")
        return TaskPublisher(self.options, query, batch, task).publish(iterator)

    def commit(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        commits = _task_commits(messages)
        queries = {m.query for m in commits}
        if len(queries) > 1:
            raise RuntimeError(f"one micro-batch written by several queries: {sorted(queries)}")
        if not queries:
            return
        SinkCommitter(self.options).commit(queries.pop(), batchId, commits)

    def abort(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        SinkCommitter(self.options).abort(_task_commits(messages))
