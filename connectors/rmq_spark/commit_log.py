"""The sink's commit records: which (query, batch) published which tasks' messages.

Each sink (option ``sinkId``) owns a one-queue topic, ``commitTopic`` (default
``RMQ_SPARK_COMMITS_<sinkId>``), created on first use on one master broker. Before the driver
commits a batch's half messages it appends one record there (a synchronous send, stored
like any message under the broker's flush policy)::

    {"query": "<Spark query id>", "batch": 7, "tasks": ["<task id>", ...], "time": <ms>}

That record is the decision of a two-phase commit. It answers two questions later:

- *was batch b of query q already committed?* (a replayed batch id publishes nothing);
- *should this pending half message be committed?* (the broker's transaction check for a
  half whose END_TRANSACTION was lost): yes when its task id is in the record of its batch,
  no when the batch's record lists other tasks or a later batch of the query is recorded.

Records are found by scanning the queue backwards from its end (``SCAN_LIMIT`` records at
most): Spark commits batches in order, so the records asked about are near the end.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rmq_core.client import MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.route import TopicRouteData
from rmq_core.client.sync import run_sync
from rmq_core.errors import TopicNotExistError
from rmq_spark.queue_client import QueueClient

__all__ = ["CommitLog", "CommitRecord"]

log = logging.getLogger(__name__)

SCAN_LIMIT = 100_000  # records examined at most by one lookup
SCAN_STEP = 32  # records per pull while scanning backwards
ADMIN_WAIT = 30.0  # s for creating the commit topic


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One committed batch: the Spark query id, batch id and the ids of its tasks."""

    query: str
    batch: int
    tasks: tuple[str, ...]

    def encode(self) -> bytes:
        record = {
            "query": self.query,
            "batch": self.batch,
            "tasks": list(self.tasks),
            "time": int(time.time() * 1000),
        }
        return json.dumps(record, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> CommitRecord | None:
        """The record in ``body``, or None when it is not one (logged)."""
        try:
            data = json.loads(body)
            return cls(str(data["query"]), int(data["batch"]), tuple(map(str, data["tasks"])))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed sink commit record: %s", exc)
            return None


class CommitLog:
    """The commit records of one sink, on its commit topic's queue 0."""

    def __init__(self, client: QueueClient, topic: str, group: str) -> None:
        self.client = client
        self.topic = topic
        self.group = group
        self._mq: MessageQueue | None = None
        self._lock = threading.Lock()

    def queue(self, *, create: bool) -> MessageQueue | None:
        """The record queue; created (one queue on the first master) when ``create``."""
        with self._lock:
            if self._mq is not None:
                return self._mq
            try:
                route = self.client.route(self.topic)
            except TopicNotExistError:
                if not create:
                    return None
                route = self._create()
            names = sorted(q.broker_name for q in route.queue_datas if q.read_queue_nums > 0)
            if not names:
                raise TopicNotExistError(17, f"sink commit topic {self.topic} has no queue")
            self._mq = MessageQueue(self.topic, names[0], 0)
            return self._mq

    def _create(self) -> TopicRouteData:
        admin = self.client.admin
        masters = run_sync(admin.cluster_info(), ADMIN_WAIT).master_addrs()
        if not masters:
            raise TopicNotExistError(17, f"no master broker to create {self.topic} on")
        log.info("creating sink commit topic %s on %s", self.topic, masters[0])
        call = admin.create_topic(
            self.topic, broker_addr=masters[0], read_queue_nums=1, write_queue_nums=1
        )
        run_sync(call, ADMIN_WAIT)
        return self.client.route(self.topic)

    def _records_backwards(self) -> Iterator[CommitRecord]:
        mq = self.queue(create=False)
        if mq is None:
            return
        high = self.client.max_offset(mq)
        low_bound = max(self.client.min_offset(mq), high - SCAN_LIMIT)
        while high > low_bound:
            low = max(low_bound, high - SCAN_STEP)
            messages = self.client.read_range(
                mq,
                low,
                high,
                selector=MessageSelector.by_tag("*"),
                group=self.group,
                batch_size=SCAN_STEP,
                fail_on_data_loss=False,
            )
            for msg in reversed(list(messages)):
                record = CommitRecord.decode(msg.body)
                if record is not None:
                    yield record
            high = low

    def last_batch(self, query: str) -> int | None:
        """The highest batch id recorded for ``query``, None when none is."""
        for record in self._records_backwards():
            if record.query == query:
                return record.batch
        return None

    def find(self, query: str, batch: int) -> tuple[CommitRecord | None, bool]:
        """``(record of (query, batch) or None, whether a later batch of query is recorded)``."""
        later = False
        for record in self._records_backwards():
            if record.query != query:
                continue
            if record.batch == batch:
                return record, later
            if record.batch > batch:
                later = True
            else:
                return None, later
        return None, later
