"""``TransactionalMessageBridge``: every store access of the transaction machinery.

Reads go straight to the store (synchronous, bounded: one half message or one batch of op
messages at a time); writes go through :meth:`BrokerContext.put_message` so they are counted
and follow the flush rules. Half/op messages are written with ``WAIT=false`` except the half
message itself, whose durability the producer waits for like any send.

Progress of the check service is kept as consumer offsets of group ``CID_RMQ_SYS_TRANS`` on
the half and op queues (``consumerOffset.json``), so it survives a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rmq_core.broker import perm as permission
from rmq_core.broker.context import BrokerContext, StoredOutcome
from rmq_core.broker.transaction.messages import (
    CHECK_GROUP,
    HALF_TOPIC,
    OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
    op_message,
    renewed_half_message,
    to_discard_message,
)
from rmq_core.common.message import MessageExt, MessageExtBrokerInner
from rmq_core.common.message_codec import MessageFormatError, decode_record

__all__ = ["OpBatch", "TransactionalMessageBridge"]

logger = logging.getLogger(__name__)

_FOUND = "FOUND"


@dataclass(slots=True)
class OpBatch:
    """Op messages read from one op queue: the messages and the offset to read next."""

    messages: list[MessageExt]
    next_offset: int


def _decode(raw: bytes | memoryview) -> MessageExt | None:
    try:
        msg, _end = decode_record(raw)
    except MessageFormatError as exc:
        logger.error("undecodable transaction record: %s", exc)
        return None
    return msg


class TransactionalMessageBridge:
    """Store reads and writes for half and op messages (module docstring)."""

    def __init__(self, ctx: BrokerContext) -> None:
        self.ctx = ctx

    # --- reads ---------------------------------------------------------------------------

    def look_half_message(self, commitlog_offset: int) -> MessageExt | None:
        """The half message stored at ``commitlog_offset``; None if there is none there."""
        if commitlog_offset < 0:
            return None
        try:
            msg = self.ctx.store.look_message_by_offset(commitlog_offset)
        except (MessageFormatError, ValueError, IndexError) as exc:
            logger.info("no record at commit-log offset %d: %s", commitlog_offset, exc)
            return None
        if not isinstance(msg, MessageExt) or msg.topic != HALF_TOPIC:
            return None
        return msg

    def read_half(self, queue_id: int, queue_offset: int) -> MessageExt | None:
        """The half message at ``queue_offset`` of half queue ``queue_id``, or None."""
        result = self.ctx.store.get_message(CHECK_GROUP, HALF_TOPIC, queue_id, queue_offset, 1)
        if result.status.name != _FOUND or not result.messages:
            return None
        return _decode(result.messages[0])

    def read_ops(self, queue_id: int, offset: int, max_count: int) -> OpBatch:
        """Up to ``max_count`` op messages from ``offset`` of op queue ``queue_id``."""
        result = self.ctx.store.get_message(CHECK_GROUP, OP_HALF_TOPIC, queue_id, offset, max_count)
        if result.status.name != _FOUND:
            return OpBatch([], offset)
        found: list[MessageExt] = []
        for raw in result.messages:
            msg = _decode(raw)
            if msg is not None:
                found.append(msg)
        return OpBatch(found, int(result.next_begin_offset))

    def half_queue_range(self, queue_id: int) -> tuple[int, int]:
        """(min, max) logical offsets of half queue ``queue_id`` (max = next write)."""
        store = self.ctx.store
        return (
            store.get_min_offset_in_queue(HALF_TOPIC, queue_id),
            store.get_max_offset_in_queue(HALF_TOPIC, queue_id),
        )

    def op_queue_min(self, queue_id: int) -> int:
        """Smallest readable offset of op queue ``queue_id``."""
        return self.ctx.store.get_min_offset_in_queue(OP_HALF_TOPIC, queue_id)

    def half_queue_ids(self) -> list[int]:
        """Queue ids of the half topic (its topic config; 1 queue by default)."""
        config = self.ctx.topics.select(HALF_TOPIC)
        count = config.queue_count if config is not None else 1
        return list(range(max(count, 1)))

    # --- progress ------------------------------------------------------------------------

    def progress(self, topic: str, queue_id: int) -> int:
        """The check service's committed offset on ``topic``/``queue_id`` (-1: none)."""
        return self.ctx.offsets.query_offset(CHECK_GROUP, topic, queue_id)

    def commit_progress(self, topic: str, queue_id: int, offset: int) -> None:
        """Record the check service's progress on ``topic``/``queue_id``."""
        self.ctx.offsets.commit_offset(self.ctx.broker_addr, CHECK_GROUP, topic, queue_id, offset)

    # --- writes --------------------------------------------------------------------------

    async def put(self, msg: MessageExtBrokerInner) -> StoredOutcome:
        """Store ``msg`` through the broker context."""
        return await self.ctx.put_message(msg)

    async def put_op(self, half_queue_offset: int, half_queue_id: int) -> bool:
        """Write the op record resolving half message ``half_queue_offset``; True if stored."""
        outcome = await self.put(op_message(half_queue_offset, half_queue_id, self.ctx.broker_addr))
        if not outcome.stored:
            logger.error(
                "op record for half offset %d not stored: %s", half_queue_offset, outcome.status
            )
        return outcome.stored

    async def put_back(self, half: MessageExt, *, count_check: bool = True) -> MessageExt | None:
        """Re-append ``half`` (one more check counted unless ``count_check`` is false);
        the new copy with its offsets, or None when it could not be stored."""
        renewed = renewed_half_message(half, count_check=count_check)
        outcome = await self.put(renewed)
        if not outcome.stored:
            logger.error("re-appending half message failed: %s", outcome.status)
            return None
        append = outcome.append_result
        renewed.commitlog_offset = append.wrote_offset
        renewed.queue_offset = append.queue_offset
        renewed.store_timestamp = append.store_timestamp
        return renewed

    async def discard(self, half: MessageExt) -> bool:
        """Park ``half`` in TRANS_CHECK_MAX_TIME_TOPIC (checked too often or too old)."""
        self.ctx.topics.create_topic_in_send_message_back_method(
            TRANS_CHECK_MAX_TIME_TOPIC, 1, permission.PERM_READ | permission.PERM_WRITE
        )
        outcome = await self.put(to_discard_message(half))
        return outcome.stored
