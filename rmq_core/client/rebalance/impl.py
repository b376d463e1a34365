"""``RebalanceImpl``: keep a consumer's set of owned queues in line with its group (§6.2).

For every subscribed topic the consumer computes the queues it should own (all of them when
BROADCASTING; the strategy's share of the sorted queue list for its client id among the
sorted client ids of the group when CLUSTERING) and updates its process-queue table: queues
it lost are dropped after their offset is persisted, new ones get a starting offset and a
pull task. The consumer supplies those actions by subclassing.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Iterable

from rmq_core.client.config import MessageModel
from rmq_core.client.consumer.process_queue import ProcessQueue
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.rebalance.strategies import AllocateMessageQueueStrategy
from rmq_core.common.message import MessageExt
from rmq_core.errors import ClientError

__all__ = ["PULL_MAX_IDLE_TIME", "RebalanceImpl"]

log = logging.getLogger(__name__)

PULL_MAX_IDLE_TIME = 120.0  # s without a pull before a push consumer's queue is recreated


class RebalanceImpl(abc.ABC):
    """Owned queues of one consumer group member. Use from the event loop only."""

    def __init__(
        self,
        group: str,
        message_model: MessageModel,
        strategy: AllocateMessageQueueStrategy,
    ) -> None:
        self.group = group
        self.message_model = message_model
        self.strategy = strategy
        self.process_queue_table: dict[MessageQueue, ProcessQueue[MessageExt]] = {}
        self.topic_subscribe_info: dict[str, list[MessageQueue]] = {}
        # One pass at a time (Java runs them on the RebalanceService thread only): a pass awaits
        # between its snapshot of the table and its drops/adds, so two at once could drop what
        # the other just added, or install a stale allocation.
        self._pass_lock = asyncio.Lock()

    # --- what the consumer provides --------------------------------------------------------

    @abc.abstractmethod
    def client_id(self) -> str: ...

    @abc.abstractmethod
    async def consumer_id_list(self, topic: str) -> list[str]: ...

    @abc.abstractmethod
    async def remove_unnecessary_mq(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> bool:
        """Release ``mq`` (persist its offset...); False keeps it for the next round."""

    @abc.abstractmethod
    async def compute_pull_from_where(self, mq: MessageQueue) -> int:
        """The offset to start pulling ``mq`` at, or -1 to skip it this round."""

    @abc.abstractmethod
    def dispatch_pull(self, mq: MessageQueue, pq: ProcessQueue[MessageExt], offset: int) -> None:
        """Start pulling ``mq`` at ``offset`` into ``pq``."""

    async def lock(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> bool:
        """Orderly consumers lock a queue before taking it; others need not."""
        return True

    def message_queue_changed(
        self, topic: str, mq_all: list[MessageQueue], mq_divided: list[MessageQueue]
    ) -> None:
        """Hook called after the owned queues of ``topic`` changed (default: log)."""
        log.debug("group %s: %s owns %s", self.group, topic, mq_divided)

    @abc.abstractmethod
    async def refresh_route(self, topic: str) -> None:
        """Fetch the route of a topic that has none yet."""

    def is_pull_idle_drop_enabled(self) -> bool:
        """Push consumers recreate queues whose pulls stalled for 2 minutes."""
        return False

    # --- the algorithm ---------------------------------------------------------------------

    async def do_rebalance(self, topics: Iterable[str]) -> None:
        """Rebalance every topic in ``topics``, then drop queues of other topics.

        Passes are serialised: one that starts while another runs waits for it to finish."""
        wanted = set(topics)
        async with self._pass_lock:
            await self._rebalance_all(wanted)

    async def _rebalance_all(self, wanted: set[str]) -> None:
        for topic in sorted(wanted):
            try:
                await self.rebalance_topic(topic)
            except ClientError as exc:
                log.warning("rebalance of %s for group %s failed: %s", topic, self.group, exc)
        for mq, pq in list(self.process_queue_table.items()):
            if mq.topic not in wanted:
                pq.dropped = True
                if await self.remove_unnecessary_mq(mq, pq):
                    self._forget(mq, pq)

    async def rebalance_topic(self, topic: str) -> bool:
        """Rebalance one topic; returns True when the owned queues changed."""
        if not self.topic_subscribe_info.get(topic):
            await self.refresh_route(topic)
        mq_all = sorted(self.topic_subscribe_info.get(topic, []))
        if not mq_all:
            log.debug("group %s: no route for topic %s yet", self.group, topic)
            return False
        if self.message_model is MessageModel.BROADCASTING:
            allocated = mq_all
        else:
            cid_all = sorted(await self.consumer_id_list(topic))
            if not cid_all:
                log.info("group %s: broker lists no consumer for topic %s", self.group, topic)
                return False
            allocated = self.strategy.allocate(self.group, self.client_id(), mq_all, cid_all)
        changed = await self.update_process_queue_table(topic, set(allocated))
        if changed:
            log.info(
                "group %s client %s: topic %s now owns %d of %d queues",
                self.group,
                self.client_id(),
                topic,
                len(allocated),
                len(mq_all),
            )
            self.message_queue_changed(topic, mq_all, sorted(allocated))
        return changed

    async def update_process_queue_table(self, topic: str, allocated: set[MessageQueue]) -> bool:
        changed = False
        for mq, pq in list(self.process_queue_table.items()):
            if mq.topic != topic:
                continue
            stale = self.is_pull_idle_drop_enabled() and pq.is_pull_expired(PULL_MAX_IDLE_TIME)
            if mq not in allocated or stale:
                pq.dropped = True
                if await self.remove_unnecessary_mq(mq, pq):
                    self._forget(mq, pq)
                    changed = True
        for mq in sorted(allocated - set(self.process_queue_table)):
            fresh: ProcessQueue[MessageExt] = ProcessQueue()
            if not await self.lock(mq, fresh):
                log.info("group %s: queue %s is locked by another client", self.group, mq)
                continue
            offset = await self.compute_pull_from_where(mq)
            if offset < 0:
                log.warning("group %s: no start offset for %s this round", self.group, mq)
                continue
            held = self.process_queue_table.get(mq)
            if held is not None and not held.dropped:
                # Taken while this pass awaited (Java's putIfAbsent): a second pull loop would
                # pull it twice. A dropped entry left in the table is replaced instead.
                continue
            self.process_queue_table[mq] = fresh
            self.dispatch_pull(mq, fresh, offset)
            changed = True
        return changed

    def _forget(self, mq: MessageQueue, pq: ProcessQueue[MessageExt]) -> None:
        """Remove ``mq``'s entry only while it still holds ``pq`` (never a newer one)."""
        if self.process_queue_table.get(mq) is pq:
            del self.process_queue_table[mq]

    def remove_process_queue(self, mq: MessageQueue) -> None:
        """Forget ``mq`` (its offset moved); the next rebalance recreates it."""
        pq = self.process_queue_table.pop(mq, None)
        if pq is not None:
            pq.dropped = True
