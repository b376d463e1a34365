"""``MessageQueue``: one queue of a topic on one broker (``C/message/MessageQueue.java``).

Invariants: instances are immutable and hashable; their natural order is (topic, broker name,
queue id), the order RocketMQ sorts ``mqAll`` in before a rebalance; ``str(mq)`` is the Java
``toString()`` the consistent-hash strategy hashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MessageQueue"]


@dataclass(frozen=True, slots=True, order=True)
class MessageQueue:
    """Queue ``queue_id`` of ``topic`` hosted by the broker group ``broker_name``."""

    topic: str
    broker_name: str
    queue_id: int

    def __str__(self) -> str:
        return (
            f"MessageQueue [topic={self.topic}, brokerName={self.broker_name}, "
            f"queueId={self.queue_id}]"
        )

    def to_json(self) -> dict[str, Any]:
        """The fastjson object form: ``{"brokerName":…,"queueId":…,"topic":…}``."""
        return {"brokerName": self.broker_name, "queueId": self.queue_id, "topic": self.topic}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageQueue:
        """Parse the fastjson object form (``queueId`` may arrive as a string)."""
        return cls(str(data["topic"]), str(data["brokerName"]), int(data["queueId"]))
