"""``BrokerContext``: the narrow object processors and broker services receive.

It holds the broker's state and nothing of its wiring (servers, timers, NameServer clients
live in the controller). Everything here is used from the event loop only.

Attributes (stable API; helpers such as the delay/retry service rely on them):

- ``config``: the current :class:`BrokerConfig`. **Re-read it on each use**:
  UPDATE_BROKER_CONFIG replaces it (``ctx.config = ctx.config.with_properties(...)``);
- ``store_config``: the store's :class:`StoreConfig` (fixed while running);
- ``store``: the message store (:class:`BrokerStore` protocol below);
- ``topics``: :class:`TopicConfigManager` (``select``, ``create_topic_in_send_message_method``,
  ``create_topic_in_send_message_back_method`` ...);
- ``offsets``: :class:`ConsumerOffsetManager`;
- ``groups``: :class:`SubscriptionGroupManager` (``find_subscription_group_config``);
- ``producers`` / ``consumers``: :class:`ProducerManager` / :class:`ConsumerManager`;
- ``locks``: :class:`RebalanceLockManager` (orderly consumers' queue locks);
- ``stats``: :class:`BrokerStats` (``put_message`` counts stored messages);
- ``delay_levels``: :class:`DelayLevelTable` of ``store_config.message_delay_level`` (a value
  set on ``config`` only is folded into ``store_config``; two different values are a
  ConfigError, see :func:`~rmq_core.broker.conf_file.reconcile_delay_levels`);
- ``broker_addr``: ``ip:port`` published to NameServers and used as the store host;
- ``writer``: the :class:`ConfigWriter` every JSON config file goes through;
- ``config_dir``: ``<storePathRootDir>/config`` (None: nothing is persisted).

Helpers: :meth:`config_path`, :meth:`broker_config` (callable form of ``config``),
:meth:`put_message`, :meth:`put_messages` and :meth:`put_encoded_batch` (the store puts with
``WAIT``/SYNC_FLUSH handling, awaitable: they wait on the store's :class:`FlushWaiter` for the
event loop, one cross-thread wake-up per fdatasync rather than a future per message).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from rmq_core.broker.conf_file import reconcile_delay_levels
from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.managers.consumers import ConsumerManager
from rmq_core.broker.managers.offsets import ConsumerOffsetManager
from rmq_core.broker.managers.persistence import (
    CONSUMER_OFFSET_FILE,
    SUBSCRIPTION_GROUP_FILE,
    TOPICS_FILE,
    ConfigWriter,
    SyncConfigWriter,
)
from rmq_core.broker.managers.producers import ProducerManager
from rmq_core.broker.managers.rebalance_lock import RebalanceLockManager
from rmq_core.broker.managers.subscription_groups import SubscriptionGroupManager
from rmq_core.broker.managers.topics import TopicConfigManager
from rmq_core.broker.schedule import DelayLevelTable
from rmq_core.broker.stats import BrokerStats
from rmq_core.common.message import MessageExt, MessageExtBrokerInner
from rmq_core.errors import StoreError
from rmq_core.store.batch import EncodedBatch
from rmq_core.store.config import StoreConfig
from rmq_core.store.message_filter import MessageFilter
from rmq_core.store.report import RecoveryReport
from rmq_core.store.results import (
    AppendMessageResult,
    GetMessageResult,
    PutMessageResult,
    QueryMessageResult,
)

__all__ = ["ArrivalListener", "BrokerContext", "BrokerStore", "FlushWaiter", "StoredOutcome"]

ArrivalListener = Callable[[str, int, int, "int | None", int, "Mapping[str, str] | None"], None]

# PutMessageStatus names meaning "the message is stored" (FLUSH_DISK_TIMEOUT too: it is in the
# log, only the fsync missed its deadline).
_STORED = frozenset({"PUT_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT", "SLAVE_NOT_AVAILABLE"})


class FlushWaiter(Protocol):
    """Awaits SYNC_FLUSH group commit on one event loop (the store's ``AsyncFlushWaiter``)."""

    async def wait(self, end_offset: int, timeout: float | None = None) -> bool:
        """True once commit-log bytes below ``end_offset`` are on disk; False when that took
        longer than ``timeout`` seconds (default: the store's sync flush timeout) or the flush
        failed."""


class BrokerStore(Protocol):
    """The message store operations the broker uses (see :mod:`rmq_core.store`).

    Results are the store's own types; the broker reads their ``status`` by enum name
    (``result.status.name``: ``PUT_OK``, ``FOUND``...), as RocketMQ's processors switch on it.
    """

    def start(self) -> RecoveryReport:
        """Recover and start the store's services (blocking; run off the event loop)."""

    def shutdown(self) -> None:
        """Stop the services and flush (blocking)."""

    def put_message(
        self,
        msg: MessageExtBrokerInner,
        *,
        flush_future: bool = True,
        defer_dispatch: bool = False,
    ) -> PutMessageResult:
        """Append one message (``flush_future=False``: no per-message flush future; await
        :meth:`flush_waiter` instead). ``defer_dispatch=True`` allows the store to make the
        message readable after this returns (the broker asks for it only when it then awaits
        the waiter under SYNC_FLUSH); the store's :meth:`flush_waiter` must then answer True
        only once the message is readable. False (the default): readable on return, save a
        hand-off to a store thread."""

    def put_messages(
        self, batch: Sequence[MessageExtBrokerInner | MessageExt], *, flush_future: bool = True
    ) -> PutMessageResult:
        """Append a batch (one append, consecutive queue offsets)."""

    def put_encoded_batch(
        self, batch: EncodedBatch, *, flush_future: bool = True
    ) -> PutMessageResult:
        """Append an already-split batch (one topic and queue, properties bytes stored as
        given, valid UTF-8) without a message object per entry; results as put_messages."""

    def flush_waiter(self, loop: asyncio.AbstractEventLoop) -> FlushWaiter | None:
        """A waiter for SYNC_FLUSH group commit on ``loop``; None under ASYNC_FLUSH."""

    def get_message(
        self,
        group: str,
        topic: str,
        queue_id: int,
        offset: int,
        max_count: int,
        message_filter: MessageFilter | None = None,
    ) -> GetMessageResult:
        """Read up to ``max_count`` records from a consume queue."""

    def get_max_offset_in_queue(self, topic: str, queue_id: int) -> int:
        """Next logical offset to be written."""

    def get_min_offset_in_queue(self, topic: str, queue_id: int) -> int:
        """Smallest logical offset still readable."""

    def get_offset_in_queue_by_time(
        self, topic: str, queue_id: int, timestamp_ms: int, boundary: str = "LOWER"
    ) -> int:
        """Logical offset of the first/last message stored at ``timestamp_ms``."""

    def get_earliest_message_time(self, topic: str, queue_id: int) -> int:
        """Store time (ms) of the queue's oldest message, -1 if none."""

    def look_message_by_offset(self, commitlog_offset: int) -> MessageExt | None:
        """The MessageExt at a commit-log offset, or None."""

    def select_one_message_by_offset(self, commitlog_offset: int) -> bytes | None:
        """The raw record at a commit-log offset, or None."""

    def query_message(
        self, topic: str, key: str, max_num: int, begin_ms: int, end_ms: int
    ) -> QueryMessageResult:
        """Index lookup by message key."""

    def delete_topics(self, topics: set[str]) -> int:
        """Drop the consume queues of ``topics``; how many were removed."""

    def add_arrival_listener(self, listener: ArrivalListener) -> None:
        """Call ``listener`` for every message that becomes readable."""

    def runtime_info(self) -> dict[str, str]:
        """Store statistics for GET_BROKER_RUNTIME_INFO."""

    @property
    def max_phy_offset(self) -> int:
        """Commit-log offset just past the newest record."""


class StoredOutcome:
    """Result of :meth:`BrokerContext.put_message`: the store result and the final status
    name (``FLUSH_DISK_TIMEOUT`` when a SYNC_FLUSH fsync failed or timed out)."""

    __slots__ = ("result", "status")

    def __init__(self, result: PutMessageResult, status: str) -> None:
        self.result = result
        self.status = status

    @property
    def stored(self) -> bool:
        """True when the message is in the commit log."""
        return self.status in _STORED

    @property
    def append_result(self) -> AppendMessageResult:
        """Where the records landed; always there when :attr:`stored` is true (a stored status
        without one is reported as UNKNOWN_ERROR by :meth:`BrokerContext.put_message`)."""
        append = self.result.append_result
        if append is None:
            raise StoreError(f"no append result for a put that ended {self.status}")
        return append


class BrokerContext:
    """Broker state shared by processors and services (see the module docstring)."""

    def __init__(
        self,
        config: BrokerConfig,
        store_config: StoreConfig,
        store: BrokerStore,
        *,
        config_dir: Path | None = None,
        writer: ConfigWriter | None = None,
        broker_addr: str = "",
    ) -> None:
        self.config = config
        self.store_config = reconcile_delay_levels(config, store_config)
        self.store = store
        self.config_dir = config_dir
        self.writer: ConfigWriter = writer or SyncConfigWriter()
        self.broker_addr = broker_addr or f"{config.broker_ip1}:{config.listen_port}"
        self.delay_levels = DelayLevelTable.from_delays_ms(self.store_config.delay_levels_ms())
        self.topics = TopicConfigManager(
            self.broker_config, self.config_path(TOPICS_FILE), self.writer
        )
        self.offsets = ConsumerOffsetManager(self.config_path(CONSUMER_OFFSET_FILE), self.writer)
        self.groups = SubscriptionGroupManager(
            self.broker_config, self.config_path(SUBSCRIPTION_GROUP_FILE), self.writer
        )
        self.producers = ProducerManager()
        self.consumers = ConsumerManager()
        self.locks = RebalanceLockManager()
        self.stats = BrokerStats()
        self.start_time_ms = time.time_ns() // 1_000_000
        self._flush_waiter: FlushWaiter | None = None
        self._flush_waiter_loop: asyncio.AbstractEventLoop | None = None
        self._store_never_waits = False  # the store answered no waiter (ASYNC_FLUSH)

    def broker_config(self) -> BrokerConfig:
        """The current broker config (callable form for the managers)."""
        return self.config

    def config_path(self, name: str) -> Path | None:
        """``<config_dir>/<name>``, or None when nothing is persisted."""
        return None if self.config_dir is None else self.config_dir / name

    def load(self) -> None:
        """Load topics, subscription groups and consumer offsets from their files."""
        self.topics.load()
        self.groups.load()
        self.offsets.load()

    def persist(self) -> None:
        """Write every table (shutdown)."""
        self.topics.persist()
        self.groups.persist()
        self.offsets.persist()

    async def put_message(self, msg: MessageExtBrokerInner) -> StoredOutcome:
        """Store one message, then for SYNC_FLUSH (and ``WAIT`` not false) await the flush:
        FLUSH_DISK_TIMEOUT when it took longer than ``syncFlushTimeout`` or failed.

        Counts stored messages in ``stats``.
        """
        waiter = self._waiter() if msg.wait_store_msg_ok else None
        result = self.store.put_message(msg, flush_future=False, defer_dispatch=waiter is not None)
        return await self._finish_put(result, waiter, 1)

    async def put_messages(
        self, batch: Sequence[MessageExtBrokerInner], wait: bool, count: int
    ) -> StoredOutcome:
        """Store a batch (``count`` messages) with the same flush rule as :meth:`put_message`."""
        result = self.store.put_messages(batch, flush_future=False)
        return await self._finish_put(result, self._waiter() if wait else None, count)

    async def put_encoded_batch(self, batch: EncodedBatch, wait: bool) -> StoredOutcome:
        """Store an already-split batch with the same flush rule as :meth:`put_message`."""
        result = self.store.put_encoded_batch(batch, flush_future=False)
        return await self._finish_put(result, self._waiter() if wait else None, len(batch.entries))

    async def _finish_put(
        self, result: PutMessageResult, waiter: FlushWaiter | None, count: int
    ) -> StoredOutcome:
        """Count a stored append and, given ``waiter`` (SYNC_FLUSH and ``WAIT`` not false),
        await it: FLUSH_DISK_TIMEOUT when it answers False."""
        status = result.status.name
        if status not in _STORED:
            return StoredOutcome(result, status)
        append = result.append_result
        if append is None:
            return StoredOutcome(result, "UNKNOWN_ERROR")
        self.stats.record_put(_stored_count(result, count))
        if waiter is not None and status == "PUT_OK" and not await waiter.wait(append.end_offset):
            status = "FLUSH_DISK_TIMEOUT"
        return StoredOutcome(result, status)

    def _waiter(self) -> FlushWaiter | None:
        """The store's flush waiter for the running loop (made once per loop). A store that
        answers None (ASYNC_FLUSH, fixed for its life) is not asked again, and the running loop
        (a ``getpid`` system call per lookup on Python 3.11) is then not looked up per put."""
        if self._store_never_waits:
            return None
        loop = asyncio.get_running_loop()
        if self._flush_waiter_loop is not loop:
            self._flush_waiter = self.store.flush_waiter(loop)
            self._flush_waiter_loop = loop
            self._store_never_waits = self._flush_waiter is None
        return self._flush_waiter


def _stored_count(result: PutMessageResult, default: int) -> int:
    append = result.append_result
    count = None if append is None else append.msg_num
    return count if count is not None and count > 0 else default
