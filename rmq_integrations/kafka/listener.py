"""``ConsumerRebalanceListener``: told which partitions a consumer lost and gained.

On rmq the group's queues are shared out by RocketMQ's rebalance (each member computes its
share of the sorted queues among the sorted member ids; moves are incremental). The shim
notices a change when it next polls and then calls ``on_partitions_revoked(revoked)`` and
``on_partitions_assigned(added)`` with the partitions that changed (sets, as kafka-python's
cooperative protocol does); on close it calls ``on_partitions_revoked`` with what it owned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rmq_integrations.kafka.structs import TopicPartition

__all__ = ["ConsumerRebalanceListener", "is_listener"]


class ConsumerRebalanceListener(ABC):
    @abstractmethod
    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None: ...

    @abstractmethod
    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None: ...

    def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        """Partitions taken away without a chance to commit (defaults to revoked)."""
        self.on_partitions_revoked(lost)


def is_listener(obj: Any) -> bool:
    """True for a ConsumerRebalanceListener or any object with both callbacks."""
    return isinstance(obj, ConsumerRebalanceListener) or (
        callable(getattr(obj, "on_partitions_revoked", None))
        and callable(getattr(obj, "on_partitions_assigned", None))
    )
