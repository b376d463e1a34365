"""``KafkaProducer``: kafka-python's producer API over rmq's async ``Producer``.

``send()`` serializes, picks a partition (murmur2 of the key, like kafka-python) and hands the
record to that partition's sender, a task on the rmq client's background loop. A sender sends
its records in order, one request at a time: whatever queued up while a request was in flight
goes out as the next SEND_BATCH_MESSAGE (up to ``batch_size`` bytes), so records of one
partition (and so of one key) are stored in the order they were sent, retries included.

``acks``: 0 = oneway sends (offset -1); 1 = the broker answers once the record is in its
commit log (``WAIT=false``); ``all``/-1 (default) = the broker answers after its configured
flush and replication (``WAIT=true``: SYNC_FLUSH fsync, SYNC_MASTER slave copy), and a
flush or slave timeout fails the record with ``RequestTimedOutError`` /
``NotEnoughReplicas*Error``.

Futures are resolved on a small callback thread, never on the loop, so callbacks may call the
producer. ``flush()`` waits until every record sent before it is acknowledged or failed.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import logging
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rmq_core.client import Message, MessageQueue, Producer, SendResult, SendStatus
from rmq_core.client.sync import background_loop
from rmq_core.errors import RocketMQError
from rmq_integrations.kafka import config as cfg
from rmq_integrations.kafka import errors, names, records
from rmq_integrations.kafka.cluster import Cluster
from rmq_integrations.kafka.future import FutureRecordMetadata
from rmq_integrations.kafka.partitioner import DefaultPartitioner, Partitioner
from rmq_integrations.kafka.serializer import Serializer, as_serializer
from rmq_integrations.kafka.structs import RecordMetadata, TopicPartition
from rmq_integrations.kafka.translate import call, to_kafka

__all__ = ["KafkaProducer"]

log = logging.getLogger(__name__)

_CLIENT_IDS = itertools.count(1)
_MAX_BATCH_RECORDS = 256  # records per SEND_BATCH_MESSAGE, whatever batch_size allows
_LIFECYCLE_TIMEOUT = 30.0  # s for starting and stopping the rmq clients
EXIT_FLUSH_TIMEOUT = 1.0  # s a producer left open gets at interpreter exit, as in kafka-python
_STATUS_ERRORS = {
    SendStatus.FLUSH_DISK_TIMEOUT: "RequestTimedOutError",
    SendStatus.FLUSH_SLAVE_TIMEOUT: "NotEnoughReplicasAfterAppendError",
    SendStatus.SLAVE_NOT_AVAILABLE: "NotEnoughReplicasError",
}


@dataclass(eq=False, slots=True)
class _Record:
    msg: Message
    future: FutureRecordMetadata
    tp: TopicPartition
    timestamp: int
    sizes: tuple[int, int, int]
    deadline: float  # monotonic s: delivery_timeout_ms after send()


@dataclass(eq=False)
class _PartitionSender:
    """Sends one queue's records in order (runs on the background loop)."""

    mq: MessageQueue
    pending: deque[_Record] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class _PartitionView:
    """What a partitioner sees: ``partitions_for_topic`` of the topic being sent to."""

    def __init__(self, topic: str, count: int) -> None:
        self._topic = topic
        self._partitions = set(range(count))

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self._partitions) if topic == self._topic else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


def _is_header(item: Any) -> bool:
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], bytes)
    )


def _bytes_or_none(data: Any, what: str) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(
        f"Unsupported type for serialized {what}: {type(data)} (configure a {what}_serializer "
        "that returns bytes)"
    )


class KafkaProducer:
    """kafka-python's ``KafkaProducer(**configs)`` on rmq (see the module docstring)."""

    DEFAULT_CONFIG = cfg.PRODUCER_DEFAULTS

    def __init__(self, **configs: Any) -> None:
        self._closed = True
        self.config = cfg.resolve("KafkaProducer", configs)
        conf = self.config
        acks = conf["acks"]
        if acks == "all":
            acks = -1
        if acks not in (0, 1, -1):
            raise errors.KafkaConfigurationError(f"acks must be 0, 1, -1 or 'all', not {acks!r}")
        self._acks = acks
        if conf["compression_type"] not in (None, "gzip", "snappy", "lz4", "zstd"):
            raise ValueError(f"Not supported codec: {conf['compression_type']}")
        self._key_serializer = as_serializer(conf["key_serializer"], "key_serializer")
        self._value_serializer = as_serializer(conf["value_serializer"], "value_serializer")
        partitioner = conf["partitioner"] or DefaultPartitioner()
        if not hasattr(partitioner, "partition"):
            raise errors.KafkaConfigurationError("partitioner must have a partition() method")
        self._partitioner: Partitioner = partitioner
        if conf["client_id"] is None:
            conf["client_id"] = f"kafka-python-producer-{next(_CLIENT_IDS)}"
        for key in ("max_block_ms", "request_timeout_ms", "delivery_timeout_ms"):
            cfg.positive_ms(conf, key)
        self._max_block = cfg.positive_ms(conf, "max_block_ms")
        self._request_timeout = max(cfg.positive_ms(conf, "request_timeout_ms"), 0.001)
        self._delivery_timeout = cfg.positive_ms(conf, "delivery_timeout_ms")
        self._linger = cfg.positive_ms(conf, "linger_ms")
        self._retry_backoff = cfg.positive_ms(conf, "retry_backoff_ms")
        namesrv = cfg.bootstrap_addresses(conf["bootstrap_servers"])
        self._cluster = Cluster(
            namesrv,
            timeout=min(self._request_timeout, 30.0),
            metadata_max_age=cfg.positive_ms(conf, "metadata_max_age_ms"),
        )
        self._producer = Producer(
            _group_name(conf["client_id"]),
            list(namesrv),
            instance_name=f"kafka-producer-{uuid.uuid4().hex[:12]}",
            send_msg_timeout=self._request_timeout,
            retry_times_when_send_failed=0,
            max_message_size=max(int(conf["max_request_size"]), 1),
        )
        self._senders: dict[MessageQueue, _PartitionSender] = {}
        self._queues: dict[str, tuple[float, list[MessageQueue]]] = {}
        self._outstanding: set[FutureRecordMetadata] = set()
        self._outstanding_lock = threading.Lock()
        self._callbacks = concurrent.futures.ThreadPoolExecutor(1, "kafka-producer-callbacks")
        self._metrics = {"record-send-total": 0, "record-error-total": 0, "record-retry-total": 0,
                         "batch-total": 0, "request-total": 0}  # fmt: skip
        call(self._start(), max(self._max_block, 1.0) + _LIFECYCLE_TIMEOUT, "bootstrap")
        self._closed = False
        # like kafka-python: records still queued at interpreter exit get a short last chance
        self._atexit = _close_at_exit(weakref.ref(self))
        atexit.register(self._atexit)

    async def _start(self) -> None:
        await self._cluster.start()
        try:
            await self._cluster.admin.cluster_info()
        except RocketMQError as exc:
            await self._cluster.close()
            raise errors.NoBrokersAvailable(
                f"no NameServer answered at {', '.join(self._cluster.admin.namesrv_addrs)}: {exc}"
            ) from exc
        await self._producer.start()

    def __repr__(self) -> str:
        return f"<KafkaProducer client_id={self.config['client_id']} transactional_id=None>"

    def __enter__(self) -> KafkaProducer:
        return self

    def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        self.close()

    # --- metadata -------------------------------------------------------------------------

    def bootstrap_connected(self) -> bool:
        return not self._closed and self._cluster.connected

    def _partition_queues(self, topic: str) -> list[MessageQueue]:
        cached = self._queues.get(topic)
        if cached is not None and time.monotonic() - cached[0] < self._cluster.metadata_max_age:
            return cached[1]
        rmq_topic = names.topic_to_rmq(topic)
        queues = call(self._fetch_queues(topic, rmq_topic), self._max_block + 5.0, f"topic {topic}")
        if not queues:
            raise errors.UnknownTopicOrPartitionError(f"topic {topic!r} has no writable queue")
        self._queues[topic] = (time.monotonic(), queues)
        return queues

    async def _fetch_queues(self, topic: str, rmq_topic: str) -> list[MessageQueue]:
        try:
            return await self._cluster.write_queues(topic, refresh=True)
        except errors.UnknownTopicOrPartitionError:
            if not self.config["allow_auto_create_topics"]:
                raise errors.UnknownTopicOrPartitionError(
                    f"topic {topic!r} does not exist and allow_auto_create_topics is False"
                ) from None
        try:
            queues = await self._producer.fetch_publish_message_queues(rmq_topic)
        except RocketMQError as exc:
            raise errors.UnknownTopicOrPartitionError(
                f"topic {topic!r} does not exist and the broker does not create topics "
                f"on first send (autoCreateTopicEnable=false): {exc}"
            ) from exc
        return sorted(queues)

    def partitions_for(self, topic: str) -> set[int]:
        """Partition numbers of ``topic`` (its writable queues)."""
        self._check_open()
        return set(range(len(self._partition_queues(topic))))

    # --- sending --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise errors.IllegalStateError("KafkaProducer already closed!")

    def _serialize(self, serializer: Serializer | None, topic: str, headers: Any, data: Any) -> Any:
        if serializer is None:
            return data
        return serializer.serialize(topic, headers, data)

    def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> FutureRecordMetadata:
        """Send one record; returns a future resolving to :class:`RecordMetadata`."""
        self._check_open()
        if value is None and key is None:
            raise ValueError("Need at least one: key or value")
        headers = [] if headers is None else headers
        if not isinstance(headers, list):
            raise TypeError("headers must be list-type")
        if not all(_is_header(h) for h in headers):
            raise TypeError("All headers items must be (str, bytes) tuples")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, not {type(topic).__name__}")
        key_bytes = _bytes_or_none(
            self._serialize(self._key_serializer, topic, headers, key), "key"
        )
        value_bytes = _bytes_or_none(
            self._serialize(self._value_serializer, topic, headers, value), "value"
        )
        rmq_topic = names.topic_to_rmq(topic)
        queues = self._partition_queues(topic)
        index = self._choose_partition(topic, partition, key, key_bytes, value, value_bytes, queues)
        size = len(key_bytes or b"") + len(value_bytes or b"")
        size += max(records.header_size(headers), 0)
        if size > self.config["max_request_size"]:
            raise errors.MessageSizeTooLargeError(
                f"The message is {size} bytes when serialized which is larger than the maximum "
                f"request size you have configured with the max_request_size configuration "
                f"({self.config['max_request_size']})"
            )
        stamp = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
        msg = records.encode(rmq_topic, key_bytes, value_bytes, headers, stamp)
        if records.properties_length(msg) > records.MAX_PROPERTIES_LENGTH:
            raise errors.MessageSizeTooLargeError(
                f"key and headers take {records.properties_length(msg)} bytes of message "
                f"properties; RocketMQ allows {records.MAX_PROPERTIES_LENGTH}"
            )
        msg.wait_store_msg_ok = self._acks == -1
        future = FutureRecordMetadata()
        sizes = (
            -1 if key_bytes is None else len(key_bytes),
            -1 if value_bytes is None else len(value_bytes),
            records.header_size(headers),
        )
        record = _Record(
            msg, future, TopicPartition(topic, index), stamp, sizes,
            time.monotonic() + self._delivery_timeout,
        )  # fmt: skip
        with self._outstanding_lock:
            self._outstanding.add(future)
        future.add_both(self._settled, future)
        background_loop().loop.call_soon_threadsafe(self._enqueue, queues[index], record)
        return future

    def _choose_partition(
        self,
        topic: str,
        partition: int | None,
        key: Any,
        key_bytes: bytes | None,
        value: Any,
        value_bytes: bytes | None,
        queues: Sequence[MessageQueue],
    ) -> int:
        if partition is not None:
            if not isinstance(partition, int) or partition < 0:
                raise ValueError("partition must be >= 0")
            if partition >= len(queues):
                raise ValueError(f"Unrecognized partition {partition} for topic {topic}")
            return partition
        view = _PartitionView(topic, len(queues))
        chosen = self._partitioner.partition(topic, key, key_bytes, value, value_bytes, view)
        if not isinstance(chosen, int) or not 0 <= chosen < len(queues):
            raise ValueError(f"Partitioner did not assign a valid partition for topic {topic}!")
        return chosen

    def _settled(self, future: FutureRecordMetadata, _outcome: Any) -> None:
        with self._outstanding_lock:
            self._outstanding.discard(future)

    # --- the per-partition senders (background loop) --------------------------------------

    def _enqueue(self, mq: MessageQueue, record: _Record) -> None:
        sender = self._senders.get(mq)
        if sender is None:
            sender = self._senders[mq] = _PartitionSender(mq)
        sender.pending.append(record)
        if sender.task is None or sender.task.done():
            sender.task = asyncio.get_running_loop().create_task(self._drain(sender))

    def _take_batch(self, sender: _PartitionSender) -> list[_Record]:
        batch: list[_Record] = []
        size = 0
        limit = max(int(self.config["batch_size"]), 1)
        while sender.pending and len(batch) < _MAX_BATCH_RECORDS:
            body = len(sender.pending[0].msg.body)
            if batch and size + body > limit:
                break
            batch.append(sender.pending.popleft())
            size += body
        return batch

    async def _drain(self, sender: _PartitionSender) -> None:
        while sender.pending:
            if self._linger > 0 and len(sender.pending) < _MAX_BATCH_RECORDS:
                await asyncio.sleep(self._linger)
            batch = self._take_batch(sender)
            try:
                await self._send_batch(sender.mq, batch)
            except Exception as exc:  # every record of the batch must be settled
                log.exception("kafka shim: send to %s failed unexpectedly", sender.mq)
                self._fail(batch, to_kafka(exc, f"send to {batch[0].tp}"))

    async def _send_batch(self, mq: MessageQueue, batch: list[_Record]) -> None:
        attempt = 0
        while True:
            self._metrics["request-total"] += 1
            try:
                offsets = await self._send_once(mq, batch)
            except (RocketMQError, TimeoutError, errors.KafkaError) as exc:
                error = to_kafka(exc, f"send to {batch[0].tp} ({mq.broker_name}:{mq.queue_id})")
                attempt += 1
                in_time = time.monotonic() + self._retry_backoff < batch[0].deadline
                if error.retriable and attempt <= self.config["retries"] and in_time:
                    self._metrics["record-retry-total"] += len(batch)
                    await asyncio.sleep(self._retry_backoff)
                    continue
                self._fail(batch, error)
                return
            self._succeed(batch, offsets)
            return

    async def _send_once(self, mq: MessageQueue, batch: list[_Record]) -> list[int]:
        if self._acks == 0:
            for record in batch:
                await self._producer.send_oneway(record.msg, mq)
            return [-1] * len(batch)
        timeout = max(min(self._request_timeout, batch[0].deadline - time.monotonic()), 0.001)
        result: SendResult
        if len(batch) == 1:
            result = await self._producer.send(batch[0].msg, mq, timeout=timeout)
        else:
            self._metrics["batch-total"] += 1
            result = await self._producer.send_batch([r.msg for r in batch], mq, timeout=timeout)
        failed = _STATUS_ERRORS.get(result.status)
        if failed is not None:
            raise getattr(errors, failed)(
                f"broker answered {result.status.value} for {batch[0].tp} (acks=all)"
            )
        return [result.queue_offset + i for i in range(len(batch))]

    def _succeed(self, batch: list[_Record], offsets: list[int]) -> None:
        self._metrics["record-send-total"] += len(batch)
        for record, offset in zip(batch, offsets, strict=True):
            metadata = RecordMetadata(
                record.tp.topic, record.tp.partition, record.tp, offset, record.timestamp,
                None, *record.sizes,
            )  # fmt: skip
            self._callbacks.submit(record.future.success, metadata)

    def _fail(self, batch: list[_Record], error: errors.KafkaError) -> None:
        self._metrics["record-error-total"] += len(batch)
        for record in batch:
            self._callbacks.submit(record.future.failure, error)

    # --- flush, close, metrics ------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record sent so far is acknowledged or failed (``timeout`` s)."""
        with self._outstanding_lock:
            waiting = list(self._outstanding)
        deadline = None if timeout is None else time.monotonic() + timeout
        for future in waiting:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not future.wait(remaining):
                raise errors.KafkaTimeoutError(
                    f"Failed to flush buffered records within {timeout} secs"
                )

    def close(self, timeout: float | None = None, null_logger: bool = False) -> None:
        """Flush (up to ``timeout`` s, else the delivery timeout), then stop the clients."""
        if self._closed:
            return
        if timeout is not None and timeout < 0:
            raise ValueError(f"Invalid timeout: {timeout}")
        try:
            self.flush(self._delivery_timeout + 5.0 if timeout is None else timeout)
        except errors.KafkaTimeoutError:
            log.warning("KafkaProducer closed with records still unacknowledged")
        self._closed = True
        atexit.unregister(self._atexit)
        try:
            call(self._stop(), _LIFECYCLE_TIMEOUT, "close")
        finally:
            self._callbacks.shutdown(wait=True)
            for serializer in (self._key_serializer, self._value_serializer):
                close = getattr(serializer, "close", None)
                if callable(close):
                    close()

    async def _stop(self) -> None:
        for sender in list(self._senders.values()):
            if sender.task is not None and not sender.task.done():
                sender.task.cancel()
        try:
            await self._producer.shutdown()
        finally:
            await self._cluster.close()

    def metrics(self, raw: bool = False) -> dict[str, Any] | None:
        """Counters of this producer (``{'producer-metrics': {...}}``); None when disabled."""
        if not self.config["metrics_enabled"]:
            return None
        return {"producer-metrics": {k: float(v) for k, v in self._metrics.items()}}

    @classmethod
    def max_usable_produce_magic(cls, api_version: Any) -> int:
        return 2

    # --- transactions: not offered (rmq has its own transactional producer) ---------------

    def _no_transactions(self) -> None:
        if self.config["transactional_id"] is None:
            raise errors.IllegalStateError(
                "Cannot use transactional methods without enabling transactions"
            )
        raise errors.UnsupportedVersionError(
            "Kafka transactions are not available on rmq; use rmq_core's TransactionProducer "
            "(RocketMQ half messages) instead"
        )

    def init_transactions(self) -> None:
        self._no_transactions()

    def begin_transaction(self) -> None:
        self._no_transactions()

    def commit_transaction(self) -> None:
        self._no_transactions()

    def abort_transaction(self) -> None:
        self._no_transactions()

    def send_offsets_to_transaction(self, offsets: Any, group_metadata: Any) -> None:
        self._no_transactions()


def _close_at_exit(ref: weakref.ref[KafkaProducer]) -> Callable[[], None]:
    def close() -> None:
        producer = ref()
        if producer is not None:
            try:
                producer.close(timeout=EXIT_FLUSH_TIMEOUT)
            except Exception:  # the interpreter is going away; nothing can be done
                log.debug("closing a KafkaProducer at exit failed", exc_info=True)

    return close


def _group_name(client_id: str) -> str:
    """A legal RocketMQ producer group derived from ``client_id``."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(client_id))[:200]
    return cleaned or "kafka-python-producer"
