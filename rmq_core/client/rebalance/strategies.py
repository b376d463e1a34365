"""Queue allocation strategies (``CL/consumer/rebalance/*.java``, reference §6.2).

A strategy answers one question: given every queue of a topic (``mq_all``) and every consumer
id of the group (``cid_all``), which queues does ``current_cid`` take? Callers pass both lists
sorted (queues by their natural order, ids as strings); every strategy is a pure function of
its inputs, so all consumers of a group computing it independently agree, and every queue
goes to exactly one consumer when all of them see the same lists.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from rmq_core.client.message_queue import MessageQueue
from rmq_core.errors import ClientError

__all__ = [
    "AllocateMessageQueueAveragely",
    "AllocateMessageQueueAveragelyByCircle",
    "AllocateMessageQueueByConfig",
    "AllocateMessageQueueConsistentHash",
    "AllocateMessageQueueStrategy",
    "md5_hash",
]

DEFAULT_VIRTUAL_NODES = 10


class AllocateMessageQueueStrategy(Protocol):
    """The strategy interface; ``name`` is reported in consumer running info."""

    @property
    def name(self) -> str: ...

    def allocate(
        self,
        consumer_group: str,
        current_cid: str,
        mq_all: Sequence[MessageQueue],
        cid_all: Sequence[str],
    ) -> list[MessageQueue]: ...


def _check(current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]) -> bool:
    """Validate the inputs the way RocketMQ does; False when this client is not in the group."""
    if not current_cid:
        raise ClientError("allocate: currentCID is empty")
    if not mq_all:
        raise ClientError("allocate: mqAll is null or mqAll empty")
    if not cid_all:
        raise ClientError("allocate: cidAll is null or cidAll empty")
    return current_cid in cid_all


class AllocateMessageQueueAveragely:
    """Contiguous blocks: the first ``m % n`` consumers take one queue more (the default)."""

    name = "AVG"

    def allocate(
        self,
        consumer_group: str,
        current_cid: str,
        mq_all: Sequence[MessageQueue],
        cid_all: Sequence[str],
    ) -> list[MessageQueue]:
        if not _check(current_cid, mq_all, cid_all):
            return []
        index = list(cid_all).index(current_cid)
        m, n = len(mq_all), len(cid_all)
        mod = m % n
        size = 1 if m <= n else m // n + (1 if mod > 0 and index < mod else 0)
        start = index * size if mod > 0 and index < mod else index * size + mod
        count = min(size, m - start)
        return [mq_all[(start + i) % m] for i in range(max(count, 0))]


class AllocateMessageQueueAveragelyByCircle:
    """Round-robin: consumer ``i`` of ``n`` takes the queues ``j`` with ``j % n == i``."""

    name = "AVG_BY_CIRCLE"

    def allocate(
        self,
        consumer_group: str,
        current_cid: str,
        mq_all: Sequence[MessageQueue],
        cid_all: Sequence[str],
    ) -> list[MessageQueue]:
        if not _check(current_cid, mq_all, cid_all):
            return []
        index = list(cid_all).index(current_cid)
        n = len(cid_all)
        return [mq for j, mq in enumerate(mq_all) if j >= index and j % n == index]


def md5_hash(key: str) -> int:
    """RocketMQ's ``MD5Hash``: the first 4 bytes of MD5(key UTF-8) as an unsigned int."""
    digest = hashlib.md5(key.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big")


class _HashRing:
    """``ConsistentHashRouter``: ``virtual_nodes`` points per client, keyed ``cid-k``."""

    def __init__(self, cids: Iterable[str], virtual_nodes: int) -> None:
        ring: dict[int, str] = {}  # a later colliding point wins, like a TreeMap put
        for cid in cids:
            for k in range(virtual_nodes):
                ring[md5_hash(f"{cid}-{k}")] = cid
        self._keys = sorted(ring)
        self._owners = [ring[key] for key in self._keys]

    def route(self, key: str) -> str:
        """The owner of the first point at or after ``hash(key)``, wrapping around."""
        index = bisect.bisect_left(self._keys, md5_hash(key))
        return self._owners[index % len(self._keys)]


class AllocateMessageQueueConsistentHash:
    """Consistent hashing of ``str(mq)`` onto a ring of ``virtual_nodes`` points per client.

    Adding or removing a consumer moves only the queues next to its points.
    """

    name = "CONSISTENT_HASH"

    def __init__(self, virtual_nodes: int = DEFAULT_VIRTUAL_NODES) -> None:
        if virtual_nodes <= 0:
            raise ClientError(f"virtual_nodes must be positive, got {virtual_nodes}")
        self.virtual_nodes = virtual_nodes

    def allocate(
        self,
        consumer_group: str,
        current_cid: str,
        mq_all: Sequence[MessageQueue],
        cid_all: Sequence[str],
    ) -> list[MessageQueue]:
        if not _check(current_cid, mq_all, cid_all):
            return []
        ring = _HashRing(cid_all, self.virtual_nodes)
        return [mq for mq in mq_all if ring.route(str(mq)) == current_cid]


class AllocateMessageQueueByConfig:
    """A fixed, user-chosen list of queues, whatever the group looks like."""

    name = "CONFIG"

    def __init__(self, message_queues: Iterable[MessageQueue]) -> None:
        self.message_queues = list(message_queues)

    def allocate(
        self,
        consumer_group: str,
        current_cid: str,
        mq_all: Sequence[MessageQueue],
        cid_all: Sequence[str],
    ) -> list[MessageQueue]:
        return list(self.message_queues)
