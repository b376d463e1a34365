"""Exactly-once publishing: half messages from tasks, committed or rolled back by the driver.

A write is a two-phase commit over RocketMQ transactional messages:

1. **Tasks** (:class:`TaskPublisher`) send every row as a *half* message (stored, invisible
   to consumers) with the producer group ``RMQ_SPARK_SINK_<sinkId>`` and three properties
   naming the Spark query, batch and task attempt. Their commit message to the driver lists
   the half messages' handles (broker, half-queue offset, commit-log offset, ids).
2. **The driver** (:class:`SinkCommitter`) decides. A batch id that the sink's
   :class:`~rmq_spark.commit_log.CommitLog` already records for this query is a replay:
   its new half messages are rolled back, so nothing is published twice. Otherwise it first
   appends the commit record (the decision, listing the task ids), then sends
   END_TRANSACTION COMMIT for every handle, making the batch visible.
3. **Abort** rolls back every handle it is given. Tasks that were interrupted hand over
   nothing; their half messages stay invisible and the broker's transaction check resolves
   them: every producer of the group (task producers, the driver's committer) answers checks
   from the commit records — COMMIT when the half's task id is recorded for its batch (the
   driver died between the record and its END_TRANSACTIONs), ROLLBACK when the batch's
   record lists other tasks or a later batch of the query is recorded, UNKNOW otherwise
   (still in flight; the broker asks again, and drops it after ``transactionCheckMax``
   checks: it never becomes visible).

Half messages are sent without client retries: a retried send could leave a duplicate half
whose handle the task never learnt. A failed send fails the task, and its attempt's halves
are rolled back (by the task at once when it can, by the check otherwise).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql.datasource import WriterCommitMessage

from rmq_core.client import Message, SendStatus
from rmq_core.client.sync import run_sync
from rmq_core.client.transaction_producer import (
    LocalTransactionState,
    TransactionHandle,
    TransactionProducer,
    TransactionSendResult,
)
from rmq_core.common.message import MessageExt
from rmq_core.errors import BrokerError, RocketMQError
from rmq_core.remoting.codes import ResponseCode
from rmq_spark.commit_log import CommitLog, CommitRecord
from rmq_spark.options import WriteOptions
from rmq_spark.queue_client import queue_client
from rmq_spark.schema import row_message

__all__ = [
    "PROPERTY_BATCH",
    "PROPERTY_QUERY",
    "PROPERTY_TASK",
    "HalfHandle",
    "SinkCommitter",
    "TaskCommit",
    "TaskPublisher",
]

log = logging.getLogger(__name__)

PROPERTY_QUERY = "RMQ_SPARK_QUERY"
PROPERTY_BATCH = "RMQ_SPARK_BATCH"
PROPERTY_TASK = "RMQ_SPARK_TASK"
SEND_CHUNK = 256  # rows handed to the event loop at once
SEND_CONCURRENCY = 64  # half messages in flight per task
END_CONCURRENCY = 64  # END_TRANSACTION requests in flight on the driver
CALL_MARGIN = 30.0  # s added to a chunk's own timeouts while a blocking call waits


HalfHandle = TransactionHandle
"""What END_TRANSACTION needs to commit or roll back one half message (picklable)."""


@dataclass
class TaskCommit(WriterCommitMessage):
    """A task's commit message: its identity and the half messages it sent."""

    query: str
    batch: int
    task: str
    handles: list[HalfHandle] = field(default_factory=list)


# --- transaction checks ---------------------------------------------------------------------


class _SinkListener:
    """Answers the broker's transaction checks from the sink's commit records."""

    def __init__(self, options: WriteOptions) -> None:
        self.options = options

    def execute_local_transaction(self, msg: Message, arg: Any) -> LocalTransactionState:
        return LocalTransactionState.UNKNOW  # the driver decides, after every task is done

    def check_local_transaction(self, msg: MessageExt) -> LocalTransactionState:
        query = msg.properties.get(PROPERTY_QUERY)
        batch = msg.properties.get(PROPERTY_BATCH)
        task = msg.properties.get(PROPERTY_TASK)
        if not query or not task or batch is None or not batch.lstrip("-").isdigit():
            log.warning("transaction check of a half message without sink properties")
            return LocalTransactionState.UNKNOW
        record, later = _commit_log(self.options).find(query, int(batch))
        if record is not None:
            if task in record.tasks:
                return LocalTransactionState.COMMIT_MESSAGE
            return LocalTransactionState.ROLLBACK_MESSAGE
        if later:
            return LocalTransactionState.ROLLBACK_MESSAGE
        return LocalTransactionState.UNKNOW


_PRODUCERS: dict[tuple[int, str, str, float], TransactionProducer] = {}
_LOGS: dict[tuple[int, str, str], CommitLog] = {}
_SHARED_LOCK = threading.Lock()


def _commit_log(options: WriteOptions) -> CommitLog:
    key = (os.getpid(), options.namesrv, options.commit_topic)
    with _SHARED_LOCK:
        commit_log = _LOGS.get(key)
        if commit_log is None:
            client = queue_client(options.namesrv, options.request_timeout)
            commit_log = CommitLog(client, options.commit_topic, options.producer_group)
            _LOGS[key] = commit_log
        return commit_log


def sink_producer(options: WriteOptions) -> TransactionProducer:
    """The process's started transactional producer of the sink's group.

    It stays up while the process lives (Spark reuses Python workers), so a producer of the
    group is usually connected to answer the broker's checks.
    """
    key = (os.getpid(), options.namesrv, options.producer_group, options.request_timeout)
    with _SHARED_LOCK:
        producer = _PRODUCERS.get(key)
        if producer is not None:
            return producer
        producer = TransactionProducer(
            options.producer_group,
            options.namesrv,
            listener=_SinkListener(options),
            send_msg_timeout=options.request_timeout,
            retry_times_when_send_failed=0,
            retry_times_when_send_async_failed=0,
        )
        run_sync(producer.start(), options.request_timeout + CALL_MARGIN)
        _PRODUCERS[key] = producer
        return producer


# --- tasks ----------------------------------------------------------------------------------


class TaskPublisher:
    """Sends one task's rows as half messages (see the module docstring)."""

    def __init__(self, options: WriteOptions, query: str, batch: int, task: str) -> None:
        self.options = options
        self.query = query
        self.batch = batch
        self.task = task

    def _message(self, row: Any) -> Message:
        msg = row_message(row, self.options.topic)
        msg.put_user_property(PROPERTY_QUERY, self.query)
        msg.put_user_property(PROPERTY_BATCH, str(self.batch))
        msg.put_user_property(PROPERTY_TASK, self.task)
        return msg

    def publish(self, rows: Iterable[Any]) -> TaskCommit:
        """Send every row; on any failure roll back what was sent, then raise."""
        producer = sink_producer(self.options)
        commit = TaskCommit(self.query, self.batch, self.task)
        try:
            for chunk in _chunks((self._message(row) for row in rows), SEND_CHUNK):
                wait = self.options.request_timeout * len(chunk) + CALL_MARGIN
                commit.handles.extend(run_sync(_send_halves(producer, chunk), wait))
        except BaseException:
            _rollback_quietly(self.options, commit.handles)
            raise
        return commit


def _chunks(items: Iterator[Message], size: int) -> Iterator[list[Message]]:
    chunk: list[Message] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _send_halves(producer: TransactionProducer, msgs: Sequence[Message]) -> list[HalfHandle]:
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(msg: Message) -> TransactionSendResult:
        async with gate:
            return await producer.send_message_in_transaction(msg)

    results = await asyncio.gather(*(one(m) for m in msgs), return_exceptions=True)
    handles = [HalfHandle.of(r) for r in results if isinstance(r, TransactionSendResult)]
    for result in results:
        if isinstance(result, BaseException):
            _rollback_later(producer, handles)
            raise result
        if result.status is not SendStatus.SEND_OK:
            _rollback_later(producer, handles)
            raise BrokerError(
                ResponseCode.SYSTEM_ERROR,
                f"half message to {result.message_queue} stored with {result.status.value}",
            )
    return handles


def _rollback_later(producer: TransactionProducer, handles: list[HalfHandle]) -> None:
    task = asyncio.ensure_future(
        _end_all(producer, handles, LocalTransactionState.ROLLBACK_MESSAGE)
    )
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _rollback_quietly(options: WriteOptions, handles: list[HalfHandle]) -> None:
    if not handles:
        return
    try:
        producer = sink_producer(options)
        end = _end_all(producer, handles, LocalTransactionState.ROLLBACK_MESSAGE)
        run_sync(end, options.request_timeout + CALL_MARGIN)
    except (RocketMQError, TimeoutError, OSError) as exc:
        log.warning(
            "rolling back %d half messages failed (the broker will check): %s", len(handles), exc
        )


# --- END_TRANSACTION ------------------------------------------------------------------------


async def _end_all(
    producer: TransactionProducer, handles: Sequence[HalfHandle], state: LocalTransactionState
) -> None:
    gate = asyncio.Semaphore(END_CONCURRENCY)

    async def one(handle: HalfHandle) -> None:
        async with gate:
            await producer.end_transaction(handle, state)

    results = await asyncio.gather(*(one(h) for h in handles), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


# --- driver ---------------------------------------------------------------------------------


class SinkCommitter:
    """The driver's side: records decisions and ends the transactions of a batch."""

    def __init__(self, options: WriteOptions) -> None:
        self.options = options

    def _wait(self, count: int) -> float:
        return self.options.request_timeout * (1 + count // END_CONCURRENCY) + CALL_MARGIN

    def commit(self, query: str, batch: int, commits: Sequence[TaskCommit]) -> int:
        """Publish the batch's half messages unless ``(query, batch)`` is recorded already
        (then roll them back); returns how many messages became visible."""
        handles = [h for c in commits for h in c.handles]
        producer = sink_producer(self.options)
        commit_log = _commit_log(self.options)
        last = commit_log.last_batch(query)
        if last is not None and batch <= last:
            log.info(
                "sink %s: batch %d of query %s was committed before; rolling back its replay",
                self.options.sink_id,
                batch,
                query,
            )
            end = _end_all(producer, handles, LocalTransactionState.ROLLBACK_MESSAGE)
            run_sync(end, self._wait(len(handles)))
            return 0
        if not handles:
            return 0
        record = CommitRecord(query, batch, tuple(sorted(c.task for c in commits)))
        self._append(producer, commit_log, record)
        run_sync(
            _end_all(producer, handles, LocalTransactionState.COMMIT_MESSAGE),
            self._wait(len(handles)),
        )
        return len(handles)

    def _append(
        self, producer: TransactionProducer, commit_log: CommitLog, record: CommitRecord
    ) -> None:
        mq = commit_log.queue(create=True)
        assert mq is not None
        msg = Message(mq.topic, record.encode())
        msg.keys = f"{record.query}:{record.batch}"
        result = run_sync(producer.send(msg, mq), self.options.request_timeout + CALL_MARGIN)
        if result.status is not SendStatus.SEND_OK:
            raise BrokerError(
                ResponseCode.SYSTEM_ERROR,
                f"sink commit record for batch {record.batch} stored with {result.status.value}",
            )

    def abort(self, commits: Iterable[TaskCommit | None]) -> None:
        """Roll back every half message handed over (the rest are resolved by checks)."""
        handles = [h for c in commits if c is not None for h in c.handles]
        if not handles:
            return
        producer = sink_producer(self.options)
        end = _end_all(producer, handles, LocalTransactionState.ROLLBACK_MESSAGE)
        run_sync(end, self._wait(len(handles)))
