"""Topic metadata and offset look-ups for the shim, over rmq's admin client.

:class:`Cluster` answers the questions kafka-python's ``ClusterMetadata`` and offset APIs
answer, in RocketMQ terms:

- partitions of a topic: partition ``n`` is the n-th queue of the topic in the stable
  ``(broker name, queue id)`` order; consumers see the readable queues, producers the writable
  ones (the same when a topic's read and write queue counts match, the default);
- beginning / end / by-time offsets of a partition: the queue's min / max offset and the
  broker's search by store time;
- a group's committed offset of a partition (``None`` when the group never stored one).

Routes are cached for ``metadata_max_age`` seconds and refreshed when a partition is missing.
All coroutines run on the rmq client's background loop (see :mod:`.translate`); they raise
rmq errors, which callers translate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rmq_core.admin import AdminClient
from rmq_core.client import MessageQueue
from rmq_core.client.route import TopicRouteData, publish_queues, subscribe_queues
from rmq_core.common.message import MessageExt
from rmq_core.errors import TopicNotExistError
from rmq_integrations.kafka import errors, names, records
from rmq_integrations.kafka.structs import TopicPartition

__all__ = ["Cluster"]


class Cluster:
    """Metadata and offsets of one rmq cluster, reached through its NameServers."""

    def __init__(
        self, namesrv_addrs: Sequence[str], *, timeout: float, metadata_max_age: float
    ) -> None:
        self.admin = AdminClient(list(namesrv_addrs), timeout=timeout)
        self.metadata_max_age = metadata_max_age
        self._routes: dict[str, tuple[float, TopicRouteData]] = {}
        self.connected = False

    async def start(self) -> None:
        await self.admin.start()
        self.connected = True

    async def close(self) -> None:
        await self.admin.close()

    # --- routes and partitions ------------------------------------------------------------

    async def route(self, rmq_topic: str, *, refresh: bool = False) -> TopicRouteData:
        """The route of ``rmq_topic``; TopicNotExistError when the NameServer has none."""
        cached = self._routes.get(rmq_topic)
        if (
            cached is not None
            and not refresh
            and time.monotonic() - cached[0] < self.metadata_max_age
        ):
            return cached[1]
        route = await self.admin.topic_route(rmq_topic)
        self._routes[rmq_topic] = (time.monotonic(), route)
        return route

    def forget(self, rmq_topic: str) -> None:
        self._routes.pop(rmq_topic, None)

    async def _route_or_unknown(self, topic: str, refresh: bool) -> tuple[str, TopicRouteData]:
        """The rmq name and route of Kafka ``topic``; UnknownTopicOrPartitionError when the
        NameServer has no route for it."""
        rmq_topic = names.topic_to_rmq(topic)
        try:
            return rmq_topic, await self.route(rmq_topic, refresh=refresh)
        except TopicNotExistError as exc:
            raise errors.UnknownTopicOrPartitionError(
                f"topic {topic!r} does not exist (no route on the NameServer)"
            ) from exc

    async def read_queues(self, topic: str, *, refresh: bool = False) -> list[MessageQueue]:
        """The queues consumers read, in partition order (UnknownTopicOrPartitionError)."""
        rmq_topic, route = await self._route_or_unknown(topic, refresh)
        return subscribe_queues(rmq_topic, route)

    async def write_queues(self, topic: str, *, refresh: bool = False) -> list[MessageQueue]:
        """The queues producers write, in partition order (UnknownTopicOrPartitionError)."""
        rmq_topic, route = await self._route_or_unknown(topic, refresh)
        return sorted(publish_queues(rmq_topic, route).queues)

    async def queue_of(self, tp: TopicPartition) -> MessageQueue:
        """The readable queue behind ``tp`` (one route refresh if the partition is unknown)."""
        queues = await self.read_queues(tp.topic)
        if not 0 <= tp.partition < len(queues):
            queues = await self.read_queues(tp.topic, refresh=True)
        if not 0 <= tp.partition < len(queues):
            raise errors.UnknownTopicOrPartitionError(
                f"{tp} does not exist: topic {tp.topic!r} has partitions 0..{len(queues) - 1}"
            )
        return queues[tp.partition]

    async def partition_of(self, mq: MessageQueue) -> TopicPartition:
        """The partition number of readable queue ``mq``."""
        topic = names.topic_from_rmq(mq.topic)
        queues = await self.read_queues(topic)
        if mq not in queues:
            queues = await self.read_queues(topic, refresh=True)
        if mq not in queues:
            raise errors.UnknownTopicOrPartitionError(f"{mq} is no longer a queue of {topic!r}")
        return TopicPartition(topic, queues.index(mq))

    # --- topics ---------------------------------------------------------------------------

    async def topics(self, *, exclude_internal: bool = True) -> set[str]:
        """Kafka names of the cluster's topics (RocketMQ's system topics left out)."""
        listed = await self.admin.list_topics()
        if not exclude_internal:
            return {names.topic_from_rmq(t) for t in listed}
        info = await self.admin.cluster_info()
        own = set(info.clusters) | set(info.brokers)
        return {names.topic_from_rmq(t) for t in listed if not names.is_internal_topic(t, own)}

    # --- offsets --------------------------------------------------------------------------

    async def min_offset(self, mq: MessageQueue) -> int:
        return await self.admin.min_offset(mq)

    async def max_offset(self, mq: MessageQueue) -> int:
        return await self.admin.max_offset(mq)

    async def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        """First offset stored at or after ``timestamp_ms`` (the end offset if none)."""
        return await self.admin.search_offset(mq, timestamp_ms / 1000)

    async def committed(self, group: str, mq: MessageQueue) -> int | None:
        """``group``'s stored offset of ``mq``; None when it has none (never a stand-in 0)."""
        return await self.admin.consumer_offset(group, mq)

    async def store_offset(self, group: str, mq: MessageQueue, offset: int) -> None:
        await self.admin.update_consumer_offset(group, mq, offset)

    async def fetch_one(self, group: str, mq: MessageQueue, offset: int) -> MessageExt | None:
        """The message at ``offset`` of ``mq`` (a one-message pull that commits nothing)."""
        result = await self.admin.pull(mq, offset, 1, group=group)
        for msg in result.messages:
            if msg.queue_offset == offset:
                return msg
        return None

    async def offset_for_time(
        self, group: str, mq: MessageQueue, timestamp_ms: int
    ) -> tuple[int, int] | None:
        """``(offset, record timestamp)`` of the first message of ``mq`` stored at or after
        ``timestamp_ms``; None when none is that recent."""
        offset = await self.search_offset(mq, timestamp_ms)
        if offset >= await self.max_offset(mq):
            return None
        found = await self.fetch_one(group, mq, offset)
        return None if found is None else (offset, records.record_timestamp(found))

    async def describe(self, topic: str) -> dict[str, Any]:
        """kafka-python's describe_topics entry for ``topic`` (broker index as node id)."""
        rmq_topic = names.topic_to_rmq(topic)
        route = await self.route(rmq_topic, refresh=True)
        node_ids = {b.broker_name: i for i, b in enumerate(sorted(route.broker_datas, key=_name))}
        partitions = []
        for index, mq in enumerate(subscribe_queues(rmq_topic, route)):
            node = node_ids.get(mq.broker_name, -1)
            partitions.append(
                {
                    "error_code": 0,
                    "partition_index": index,
                    "leader_id": node,
                    "leader_epoch": -1,
                    "replica_nodes": [node],
                    "isr_nodes": [node],
                    "offline_replicas": [],
                    "broker_name": mq.broker_name,
                    "queue_id": mq.queue_id,
                }
            )
        return {
            "error_code": 0,
            "name": topic,
            "is_internal": False,
            "partitions": partitions,
        }


def _name(broker: Any) -> str:
    return str(broker.broker_name)
