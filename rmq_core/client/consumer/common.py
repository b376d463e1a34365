"""What push and lite-pull consumers share: subscriptions, offsets, start positions, pulls.

- :func:`compute_pull_from_where` implements reference §6.5 on top of an offset store;
- :func:`pull_header` builds the PULL_MESSAGE header (long polling: the broker may hold the
  request ``broker_suspend_max_time`` seconds, so the RPC timeout must be longer);
- :func:`post_process` does what RocketMQ's ``PullAPIWrapper.processPullResult`` does to each
  pulled message: exact client-side tag match (removing hash collisions), MIN/MAX_OFFSET
  properties, and retry-topic messages shown under their original topic.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from rmq_core.client.config import ConsumeFromWhere, MessageModel
from rmq_core.client.heartbeat import RETRY_GROUP_TOPIC_PREFIX, SubscriptionData
from rmq_core.client.instance import ClientInstance
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.offset_store import (
    LocalFileOffsetStore,
    OffsetStore,
    ReadOffsetType,
    RemoteBrokerOffsetStore,
)
from rmq_core.client.results import PullResult
from rmq_core.common.message import MessageConst, MessageExt
from rmq_core.errors import ClientError, RocketMQError
from rmq_core.remoting.headers import PullMessageRequestHeader

__all__ = [
    "InstanceOffsetBackend",
    "compute_pull_from_where",
    "make_offset_store",
    "post_process",
    "pull_header",
]

log = logging.getLogger(__name__)

PULL_FLAG_COMMIT_OFFSET = 0x1
PULL_FLAG_SUSPEND = 0x2
PULL_FLAG_SUBSCRIPTION = 0x4
PULL_FLAG_LITE_PULL = 0x10
DEFAULT_TIMESTAMP_LOOKBACK = 30 * 60.0  # s: CONSUME_FROM_TIMESTAMP default "30 minutes ago"


class InstanceOffsetBackend:
    """The broker calls of a :class:`RemoteBrokerOffsetStore`, through a client instance."""

    def __init__(self, instance: ClientInstance, *, set_zero_if_not_found: bool = True) -> None:
        self._instance = instance
        self._set_zero = set_zero_if_not_found

    async def query_consumer_offset(self, group: str, mq: MessageQueue) -> int | None:
        addr = await self._instance.find_broker_addr_for_mq(mq)
        return await self._instance.api.query_consumer_offset(
            addr, group, mq, set_zero_if_not_found=self._set_zero
        )

    async def update_consumer_offset(
        self, group: str, mq: MessageQueue, offset: int, *, oneway: bool
    ) -> None:
        addr = await self._instance.find_broker_addr_for_mq(mq)
        await self._instance.api.update_consumer_offset(addr, group, mq, offset, oneway=oneway)


def make_offset_store(
    model: MessageModel,
    instance: ClientInstance,
    group: str,
    offset_store_dir: str,
    where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
) -> OffsetStore:
    """Broker offsets for CLUSTERING, a local file for BROADCASTING.

    A CONSUME_FROM_TIMESTAMP group asks the broker not to substitute 0 for a missing offset,
    so the timestamp decides where a new group starts even on a young queue.
    """
    if model is MessageModel.BROADCASTING:
        return LocalFileOffsetStore(offset_store_dir, instance.client_id, group)
    set_zero = where is not ConsumeFromWhere.CONSUME_FROM_TIMESTAMP
    return RemoteBrokerOffsetStore(
        group, InstanceOffsetBackend(instance, set_zero_if_not_found=set_zero)
    )


def _timestamp_ms(consume_timestamp: str) -> int:
    if not consume_timestamp:
        return int((time.time() - DEFAULT_TIMESTAMP_LOOKBACK) * 1000)
    try:
        moment = datetime.strptime(consume_timestamp, "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise ClientError(f"consume_timestamp {consume_timestamp!r} is not yyyyMMddHHmmss") from exc
    return int(moment.timestamp() * 1000)


async def compute_pull_from_where(
    instance: ClientInstance,
    store: OffsetStore,
    mq: MessageQueue,
    where: ConsumeFromWhere,
    consume_timestamp: str,
) -> int:
    """The start offset of ``mq`` (reference §6.5); -1 when it cannot be known now."""
    last = await store.read_offset(mq, ReadOffsetType.READ_FROM_STORE)
    if last >= 0:
        return last
    if last != -1:
        return -1
    is_retry = mq.topic.startswith(RETRY_GROUP_TOPIC_PREFIX)
    try:
        if where is ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET:
            return 0
        addr = await instance.find_broker_addr_for_mq(mq)
        if where is ConsumeFromWhere.CONSUME_FROM_TIMESTAMP:
            if is_retry:
                return await instance.api.get_max_offset(addr, mq)
            return await instance.api.search_offset(addr, mq, _timestamp_ms(consume_timestamp))
        if is_retry:
            return 0
        return await instance.api.get_max_offset(addr, mq)
    except RocketMQError as exc:
        log.warning("start offset of %s unknown: %s", mq, exc)
        return -1


def pull_header(
    group: str,
    mq: MessageQueue,
    offset: int,
    batch_size: int,
    subscription: SubscriptionData,
    *,
    commit_offset: int,
    suspend_ms: int,
    lite: bool = False,
) -> PullMessageRequestHeader:
    """A PULL_MESSAGE header that posts the subscription (bit 2) and may long-poll."""
    flags = PULL_FLAG_SUBSCRIPTION
    if suspend_ms > 0:
        flags |= PULL_FLAG_SUSPEND
    if commit_offset > 0:
        flags |= PULL_FLAG_COMMIT_OFFSET
    if lite:
        flags |= PULL_FLAG_LITE_PULL
    return PullMessageRequestHeader(
        consumer_group=group,
        topic=mq.topic,
        queue_id=mq.queue_id,
        queue_offset=offset,
        max_msg_nums=batch_size,
        sys_flag=flags,
        commit_offset=max(commit_offset, 0),
        suspend_timeout_millis=max(suspend_ms, 0),
        subscription=subscription.sub_string,
        sub_version=subscription.sub_version,
        expression_type=subscription.expression_type,
    )


def post_process(
    result: PullResult, subscription: SubscriptionData, group: str
) -> list[MessageExt]:
    """Filter and annotate the messages of a FOUND pull (see the module docstring).

    The subscription's ``is_all`` and the property names are looked up once per pull, not
    per message (figures in docs/benchmarks.md, "Consume path, third round")."""
    expression = subscription.expression
    if expression.is_all:
        kept = list(result.messages)
    else:
        kept = [msg for msg in result.messages if expression.matches_tag(msg.tags)]
    retry = RETRY_GROUP_TOPIC_PREFIX + group
    min_offset, max_offset = str(result.min_offset), str(result.max_offset)
    retry_key = MessageConst.PROPERTY_RETRY_TOPIC
    min_key, max_key = MessageConst.PROPERTY_MIN_OFFSET, MessageConst.PROPERTY_MAX_OFFSET
    for msg in kept:
        properties = msg.properties
        original = properties.get(retry_key)
        if original and msg.topic == retry:
            msg.topic = original
        properties[min_key] = min_offset
        properties[max_key] = max_offset
    return kept
