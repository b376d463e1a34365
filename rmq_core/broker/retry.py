"""Consumer retry and dead-letter routing (reference §5.8).

A consumer that fails a message hands it back with CONSUMER_SEND_MSG_BACK (commit-log
``offset`` of the record, ``group``, ``delayLevel``). The broker stores a copy in
``%RETRY%<group>`` with a delay level, so it comes back through the group's retry
subscription later, or in ``%DLQ%<group>`` once the group has retried it often enough:

- *max reconsume times*: the group's ``retryMaxTimes`` (16), replaced by the request header's
  ``maxReconsumeTimes`` when the client is version >= :data:`MAX_RECONSUME_HEADER_MIN_VERSION`
  (RocketMQ's V3_4_9 rule) and sends a non-negative value;
- dead letter when the record's reconsume times >= max, or the requested level is < 0;
- otherwise the requested level, or ``3 + reconsumeTimes`` when the request says 0, so the
  default schedule is 10 s, 30 s, 1 min ... 2 h (levels 3..18);
- the copy: same body/flag/sys flag/born host and timestamp, ``reconsumeTimes + 1``,
  ``RETRY_TOPIC`` = original topic (kept if already set), ``ORIGIN_MESSAGE_ID`` = first
  message id (kept if already set), ``WAIT=false``.

A client whose send-back failed produces to ``%RETRY%<group>`` itself with header
``reconsumeTimes``/``maxReconsumeTimes``; :func:`route_retry_send` moves such a message to the
DLQ once ``reconsumeTimes > max`` (SendMessageProcessor.handleRetryAndDLQ, reference §5.8). The
comparisons differ on purpose: the send-back path compares the *stored* record's count (the
broker adds one to the copy), while a client's own retry send already carries the incremented
count (``RECONSUME_TIME`` = n + 1), so both dead-letter the same failure: the one after the
``max``-th retry.

Retry topics have ``retryQueueNums`` queues (group setting, 1), DLQ topics
:data:`DLQ_NUMS_PER_GROUP`; both are created on demand with perm 6 (read + write, so the
dead letters can be inspected and re-consumed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rmq_core.broker import perm as permission
from rmq_core.broker.topic_validator import (
    RETRY_GROUP_TOPIC_PREFIX,
    dlq_topic,
    retry_topic,
)
from rmq_core.common.message import MessageConst, MessageExt, MessageExtBrokerInner
from rmq_core.common.message_codec import encode_properties

__all__ = [
    "DEFAULT_MAX_RECONSUME_TIMES",
    "DLQ_NUMS_PER_GROUP",
    "DLQ_TOPIC_PERM",
    "MAX_RECONSUME_HEADER_MIN_VERSION",
    "RETRY_BASE_DELAY_LEVEL",
    "RETRY_TOPIC_PERM",
    "RetryDecision",
    "RetrySendRoute",
    "build_send_back_message",
    "choose_queue",
    "decide_send_back",
    "effective_max_reconsume_times",
    "group_of_retry_topic",
    "route_retry_send",
]

DEFAULT_MAX_RECONSUME_TIMES = 16
#: the level of the first retry when the client leaves the choice to the broker (10 s)
RETRY_BASE_DELAY_LEVEL = 3
DLQ_NUMS_PER_GROUP = 1
RETRY_TOPIC_PERM = permission.PERM_READ | permission.PERM_WRITE
DLQ_TOPIC_PERM = permission.PERM_READ | permission.PERM_WRITE
#: clients announcing at least this version have their ``maxReconsumeTimes`` header honoured
MAX_RECONSUME_HEADER_MIN_VERSION = 121


def effective_max_reconsume_times(
    group_retry_max_times: int, header_value: int | None, request_version: int
) -> int:
    """How many times a group retries a message before it becomes a dead letter.

    The header's value wins for clients of version >= :data:`MAX_RECONSUME_HEADER_MIN_VERSION`
    when present and not negative (a negative value means "client default" and would send
    every message straight to the DLQ).
    """
    if (
        request_version >= MAX_RECONSUME_HEADER_MIN_VERSION
        and header_value is not None
        and header_value >= 0
    ):
        return header_value
    return group_retry_max_times


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Where a handed-back message goes: ``topic``, and ``delay_level`` (0 for the DLQ)."""

    topic: str
    delay_level: int
    dead_letter: bool


def decide_send_back(
    group: str, reconsume_times: int, delay_level: int, max_reconsume_times: int
) -> RetryDecision:
    """Route a message the consumer failed ``reconsume_times`` times before this failure."""
    if reconsume_times >= max_reconsume_times or delay_level < 0:
        return RetryDecision(dlq_topic(group), 0, True)
    level = delay_level if delay_level > 0 else RETRY_BASE_DELAY_LEVEL + reconsume_times
    return RetryDecision(retry_topic(group), level, False)


def choose_queue(queue_nums: int, rng: random.Random | None = None) -> int:
    """A random queue id below ``queue_nums`` (0 when ``queue_nums`` <= 1)."""
    if queue_nums <= 1:
        return 0
    return (rng or random).randrange(queue_nums)


def build_send_back_message(
    original: MessageExt, decision: RetryDecision, queue_id: int, store_host: str
) -> MessageExtBrokerInner:
    """The copy of ``original`` to store in ``decision.topic``/``queue_id``.

    ``original`` must be decoded without decompressing its body (the sys flag still says
    whether it is compressed). ``store_host`` is this broker's ``ip:port``.
    """
    properties = dict(original.properties)
    properties.setdefault(MessageConst.PROPERTY_RETRY_TOPIC, original.topic)
    if not properties.get(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID, "").strip():
        properties[MessageConst.PROPERTY_ORIGIN_MESSAGE_ID] = original.msg_id
    properties[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] = "false"
    if decision.delay_level > 0:
        properties[MessageConst.PROPERTY_DELAY_TIME_LEVEL] = str(decision.delay_level)
    else:
        properties.pop(MessageConst.PROPERTY_DELAY_TIME_LEVEL, None)
    return MessageExtBrokerInner(
        topic=decision.topic,
        body=original.body,
        flag=original.flag,
        properties=properties,
        queue_id=queue_id,
        sys_flag=original.sys_flag,
        born_timestamp=original.born_timestamp,
        born_host=original.born_host,
        store_host=store_host,
        reconsume_times=original.reconsume_times + 1,
        properties_string=encode_properties(properties),
    )


def group_of_retry_topic(topic: str) -> str | None:
    """``group`` for ``%RETRY%group``, None for any other topic."""
    if topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
        return topic[len(RETRY_GROUP_TOPIC_PREFIX) :]
    return None


@dataclass(frozen=True, slots=True)
class RetrySendRoute:
    """Where a producer's send to a ``%RETRY%`` topic really goes."""

    topic: str
    queue_id: int
    dead_letter: bool


def route_retry_send(
    group: str,
    reconsume_times: int | None,
    max_reconsume_times: int,
    queue_id: int,
    *,
    force_dead_letter: bool = False,
) -> RetrySendRoute:
    """handleRetryAndDLQ: a client's own send to ``%RETRY%<group>`` (header
    ``reconsumeTimes``, None = 0, already counting this retry) goes to ``%DLQ%<group>`` queue 0
    once it exceeds ``max_reconsume_times``, or at once with ``force_dead_letter`` (the group
    holds orderly locks); otherwise it stays where the client sent it."""
    times = reconsume_times or 0
    if force_dead_letter or times > max_reconsume_times:
        return RetrySendRoute(dlq_topic(group), 0, True)
    return RetrySendRoute(retry_topic(group), queue_id, False)
