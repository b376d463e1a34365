"""kafka-python's default partitioner: murmur2 of the serialized key, random without a key.

:func:`murmur2` is the 32-bit MurmurHash2 variant of Kafka's Java client
(``Utils.murmur2``: seed ``0x9747b28c``, little-endian 4-byte blocks, signed result), so a key
lands on the same partition number here as with kafka-python or the Java client, given the
same partition count.
"""

from __future__ import annotations

import random
import struct
from abc import ABC, abstractmethod
from typing import Any, Protocol

__all__ = ["DefaultPartitioner", "PartitionSource", "Partitioner", "murmur2"]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of ``data`` as a signed 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK32
    whole = length - length % 4
    for (k,) in struct.iter_unpack("<I", data[:whole]):
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = ((h * _M) & _MASK32) ^ k
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


class PartitionSource(Protocol):
    """The cluster view a partitioner gets (kafka-python's ``ClusterMetadata`` subset)."""

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...

    def available_partitions_for_topic(self, topic: str) -> set[int] | None: ...


class Partitioner(ABC):
    """Base of partitioners: :meth:`partition` (what the producer calls) looks up the topic's
    partitions and hands them to :meth:`choose`, which subclasses implement with kafka-python's
    partitioner arguments. Any object with a ``partition`` method of this signature serves as
    ``partitioner`` too (for choices that need the record's key or value objects)."""

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: bytes | None,
        cluster: PartitionSource,
    ) -> int:
        """The partition number of a record for ``topic`` (ValueError when it has none)."""
        every = sorted(cluster.partitions_for_topic(topic) or ())
        if not every:
            raise ValueError(f"topic {topic} has no partitions")
        available = sorted(cluster.available_partitions_for_topic(topic) or ())
        return self.choose(serialized_key, every, available)

    @abstractmethod
    def choose(
        self, serialized_key: bytes | None, all_partitions: list[int], available: list[int]
    ) -> int:
        """One of ``all_partitions`` (sorted, not empty); ``available`` (sorted, maybe empty)
        are those with a leader."""


class DefaultPartitioner(Partitioner):
    """``murmur2(key) & 0x7fffffff`` modulo the partition count; a random partition if no key."""

    def choose(
        self, serialized_key: bytes | None, all_partitions: list[int], available: list[int]
    ) -> int:
        if serialized_key is not None:
            index = (murmur2(bytes(serialized_key)) & 0x7FFFFFFF) % len(all_partitions)
            return all_partitions[index]
        return random.choice(available or all_partitions)
