"""murmur2 and the default partitioner agree with kafka-python's (and so Kafka's Java client)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_murmur2

from rmq_integrations.kafka.partitioner import DefaultPartitioner, Partitioner, murmur2

# Kafka's Java client values (signed 32-bit) for a few keys.
KNOWN = {b"": 275646681, b"a": -1563381124, b"ab": 316155434, b"abc": 479470107,
         b"abcd": -1323649548, b"k0": -704538303}  # fmt: skip


def test_known_values() -> None:
    for data, expected in KNOWN.items():
        assert murmur2(data) == expected


@given(st.binary(max_size=64))
def test_same_partition_as_kafka_python(data: bytes) -> None:
    assert murmur2(data) & 0x7FFFFFFF == kafka_murmur2(data) & 0x7FFFFFFF


class Cluster:
    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(6))

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return {2}


def test_default_partitioner_keys_and_no_keys() -> None:
    partitioner = DefaultPartitioner()
    for key in (b"user-1", b"user-2", b"\x00\xff"):
        expected = (kafka_murmur2(key) & 0x7FFFFFFF) % 6
        assert partitioner.partition("t", key, key, None, None, Cluster()) == expected
    assert partitioner.partition("t", None, None, b"v", b"v", Cluster()) == 2


class LastAvailable(Partitioner):
    """A custom partitioner written against the base class's kafka-python-style hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes | None, list[int], list[int]]] = []

    def choose(
        self, serialized_key: bytes | None, all_partitions: list[int], available: list[int]
    ) -> int:
        self.calls.append((serialized_key, all_partitions, available))
        return available[-1]


def test_custom_partitioner_implements_only_choose() -> None:
    partitioner = LastAvailable()
    assert partitioner.partition("t", "k", b"k", "v", b"v", Cluster()) == 2
    assert partitioner.calls == [(b"k", [0, 1, 2, 3, 4, 5], [2])]


class NoPartitions:
    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return None


def test_a_topic_without_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match="topic t has no partitions"):
        DefaultPartitioner().partition("t", None, None, b"v", b"v", NoPartitions())
