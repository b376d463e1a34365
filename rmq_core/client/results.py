"""Result and status types of the client API (``SendResult``, ``PullResult``, statuses)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from rmq_core.client.message_queue import MessageQueue
from rmq_core.common.message import MessageExt

__all__ = [
    "ConsumeOrderlyStatus",
    "ConsumeStatus",
    "PullResult",
    "PullStatus",
    "SendResult",
    "SendStatus",
]


class SendStatus(enum.StrEnum):
    """How a broker stored a sent message. Every status means "stored"."""

    SEND_OK = "SEND_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The answer to a send.

    ``msg_id`` is the client message id (UNIQ_KEY; comma-joined for a batch);
    ``offset_msg_id`` the broker's offset id(s); ``queue_offset`` the consume-queue offset of
    the (first) message in ``message_queue``.
    """

    status: SendStatus
    msg_id: str
    offset_msg_id: str
    message_queue: MessageQueue
    queue_offset: int
    transaction_id: str | None = None
    region_id: str = "DefaultRegion"
    trace_on: bool = True


class PullStatus(enum.StrEnum):
    """Outcome of one pull (reference §2.3 response code mapping)."""

    FOUND = "FOUND"
    NO_NEW_MSG = "NO_NEW_MSG"
    NO_MATCHED_MSG = "NO_MATCHED_MSG"
    OFFSET_ILLEGAL = "OFFSET_ILLEGAL"


@dataclass(slots=True)
class PullResult:
    """Messages of one pull (already tag-filtered client side) and the offsets to go on with."""

    status: PullStatus
    next_begin_offset: int
    min_offset: int
    max_offset: int
    messages: list[MessageExt] = field(default_factory=list)
    suggest_which_broker_id: int = 0


class ConsumeStatus(enum.StrEnum):
    """What a concurrent listener returns: done, or retry the messages later."""

    CONSUME_SUCCESS = "CONSUME_SUCCESS"
    RECONSUME_LATER = "RECONSUME_LATER"


class ConsumeOrderlyStatus(enum.StrEnum):
    """What an orderly listener returns: done, or pause the queue and redeliver locally."""

    SUCCESS = "SUCCESS"
    SUSPEND_CURRENT_QUEUE_A_MOMENT = "SUSPEND_CURRENT_QUEUE_A_MOMENT"
