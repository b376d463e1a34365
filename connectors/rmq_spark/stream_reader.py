"""Streaming read (``spark.readStream.format("rocketmq")``), micro-batch with admission control.

What runs where (PySpark 4.3): ``initialOffset``, ``latestOffset``, ``partitions``,
``commit`` and ``prepareForTriggerAvailableNow`` run in one long-lived Python process on the
driver per query run; ``read`` runs in Python workers on a pickled copy of this reader.

- Offsets are ``{topic: {"<broker>:<queueId>": next_offset}}`` (JSON, sorted keys) plus the
  queues' ``partition`` indexes (``"@partitions"``, see :mod:`rmq_spark.planning`), which a
  queue keeps for the life of the query. Spark stores them in its checkpoint; a restart
  replays the unfinished batch with the same ranges and continues after the last finished
  one, so every message is read exactly once.
- ``latestOffset(start, limit)`` looks up every queue's end; a queue that appeared since the
  last batch (new broker, more queues) joins the returned offsets at its earliest offset and
  is read from the next batch on. A batch's plan is therefore a function of its (start, end)
  offsets alone: a batch replayed after a restart reads the same ranges even when retention
  has moved a queue's earliest offset in between. ``ReadMaxRows``
  (from ``maxMessagesPerTrigger``) caps a batch, shared between queues in proportion to
  their backlog. With ``Trigger.AvailableNow`` the ends seen by
  :meth:`prepareForTriggerAvailableNow` are the final target.
- ``commit(end)`` stores ``end`` as the offsets of option ``group`` when it is set (admin
  tools then show the query's lag). Spark calls it lazily (when planning the next batch),
  so the group lags up to one batch; the checkpoint remains the source of truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from pyspark.sql.datasource import DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

from rmq_core.client import MessageQueue
from rmq_spark.options import ReadOptions
from rmq_spark.planning import (
    OffsetsJson,
    QueueRange,
    discover,
    extend_partitions,
    offsets_from_json,
    offsets_to_json,
    partition_indexes,
    partitions_from_json,
    plan_ranges,
    resolve,
    share_limit,
)
from rmq_spark.queue_client import QueueClient, queue_client
from rmq_spark.reader import read_queue_range

__all__ = ["RocketMQStreamReader"]

log = logging.getLogger(__name__)


class RocketMQStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Micro-batch reader of one or more topics (see the module docstring)."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options
        self._target: dict[MessageQueue, int] | None = None  # availableNow end, driver only

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "_target": None}

    def _client(self) -> QueueClient:
        return queue_client(self.options.namesrv, self.options.request_timeout)

    # --- offsets (driver) ------------------------------------------------------------------

    def initialOffset(self) -> OffsetsJson:
        options = self.options
        client = self._client()
        queues = discover(client, options.topics)
        by_timestamp = options.starting_timestamp_ms is not None
        start = resolve(
            client,
            queues,
            options.starting,
            "startingTimestamp" if by_timestamp else "startingOffsets",
            timestamp_ms=options.starting_timestamp_ms,
        )
        return offsets_to_json(start, partition_indexes(start))

    def _ends(self) -> dict[MessageQueue, int]:
        client = self._client()
        return {mq: client.max_offset(mq) for mq in discover(client, self.options.topics)}

    def _joining(
        self, start: dict[MessageQueue, int], ends: dict[MessageQueue, int]
    ) -> dict[MessageQueue, int]:
        """The earliest offset of each queue of ``ends`` that ``start`` does not know yet."""
        client = self._client()
        joining = {}
        for mq in sorted(ends):
            if mq not in start:
                joining[mq] = client.min_offset(mq)
                log.info("new queue %s joins the stream at offset %d", mq, joining[mq])
        return joining

    def latestOffset(self, start: OffsetsJson, limit: ReadLimit) -> OffsetsJson:
        begin = offsets_from_json(start)
        ends = self._ends() if self._target is None else dict(self._target)
        latest = {mq: max(ends.get(mq, offset), offset) for mq, offset in begin.items()}
        if isinstance(limit, ReadMaxRows):
            latest = share_limit(begin, latest, limit.max_rows)
        # new queues end this batch where they start: their first range is planned from
        # offsets recorded in the checkpoint, never from a second look at the broker
        latest.update(self._joining(begin, ends))
        return offsets_to_json(latest, extend_partitions(partitions_from_json(start), latest))

    def getDefaultReadLimit(self) -> ReadLimit:
        if self.options.max_messages_per_trigger is not None:
            return ReadMaxRows(self.options.max_messages_per_trigger)
        return ReadAllAvailable()

    def reportLatestOffset(self) -> OffsetsJson:
        return offsets_to_json(self._ends())

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self._ends()

    def partitions(self, start: OffsetsJson, end: OffsetsJson) -> list[QueueRange]:
        return plan_ranges(
            offsets_from_json(start), offsets_from_json(end), partitions_from_json(end)
        )

    def commit(self, end: OffsetsJson) -> None:
        options = self.options
        if not options.commit_group:
            return
        client = self._client()
        for mq, offset in offsets_from_json(end).items():
            try:
                client.commit_offset(options.group, mq, offset)
            except Exception as exc:  # progress reporting only: never fail the query for it
                log.warning(
                    "committing %s=%d for group %s failed: %s", mq, offset, options.group, exc
                )

    def stop(self) -> None:
        self._target = None

    # --- reading (workers) -----------------------------------------------------------------

    def read(self, partition: InputPartition) -> Iterator[tuple[Any, ...]]:
        yield from read_queue_range(self.options, partition)
