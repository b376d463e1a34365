"""Pure conversions between transactional messages (reference §5.9).

A transactional send arrives as a *prepared* message (sysflag transaction bits = PREPARED,
properties ``TRAN_MSG=true`` and ``PGROUP=<producer group>``). The broker parks it as a
**half message**::

    topic   RMQ_SYS_TRANS_HALF_TOPIC, queue 0
    props   + REAL_TOPIC, REAL_QID (where it belongs), __transactionId__ = UNIQ_KEY
    sysflag transaction bits reset to NOT_TYPE (so the half queue indexes it)

Every resolution (commit, rollback, discard) writes an **op message** that names the half
message's queue offset::

    topic   RMQ_SYS_TRANS_OP_HALF_TOPIC, queue = half queue id
    tags    "d"
    body    b"<halfQueueOffset>,"       (5.x may batch: "12,13,17,")

A commit stores the **real message**: topic/queue from REAL_*, those properties and
``TRAN_MSG`` removed, sysflag COMMIT, ``prepared_transaction_offset`` = the half message's
commit-log offset. A half message checked once more is **renewed** (re-appended to the half
queue with ``TRANSACTION_CHECK_TIMES`` + 1); one checked ``transactionCheckMax`` times is
**discarded** into ``TRANS_CHECK_MAX_TIME_TOPIC``.

Every function here is pure: it takes messages and returns new ones, never touching a store.
"""

from __future__ import annotations

from rmq_core.broker import topic_validator as tv
from rmq_core.common.message import (
    MessageConst,
    MessageExt,
    MessageExtBrokerInner,
    MessageSysFlag,
)
from rmq_core.common.message_codec import encode_properties

__all__ = [
    "CHECK_GROUP",
    "HALF_TOPIC",
    "OP_HALF_TOPIC",
    "OP_REMOVE_TAG",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "HalfMessageError",
    "check_immunity_ms",
    "check_times",
    "op_message",
    "parse_op_body",
    "real_queue",
    "renewed_half_message",
    "to_discard_message",
    "to_half_message",
    "to_real_message",
    "transaction_id",
]

HALF_TOPIC = tv.RMQ_SYS_TRANS_HALF_TOPIC
OP_HALF_TOPIC = tv.RMQ_SYS_TRANS_OP_HALF_TOPIC
TRANS_CHECK_MAX_TIME_TOPIC = tv.RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC
CHECK_GROUP = "CID_RMQ_SYS_TRANS"
"""Consumer group whose offsets on the half and op queues record the check service's progress."""
OP_REMOVE_TAG = "d"
_MAX_OP_BODY_OFFSETS = 4096

# Properties a committed message must not carry (they only describe the half message).
_HALF_ONLY_PROPERTIES = (
    MessageConst.PROPERTY_REAL_TOPIC,
    MessageConst.PROPERTY_REAL_QUEUE_ID,
    MessageConst.PROPERTY_TRANSACTION_PREPARED,
    MessageConst.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
)


class HalfMessageError(ValueError):
    """A stored half message lacks (or has malformed) REAL_TOPIC / REAL_QID."""


def to_half_message(msg: MessageExtBrokerInner) -> None:
    """Turn a prepared message into its half message **in place** (module docstring)."""
    props = msg.properties
    uniq = props.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    if uniq:
        props[MessageConst.PROPERTY_TRANSACTION_ID] = uniq
    props[MessageConst.PROPERTY_REAL_TOPIC] = msg.topic
    props[MessageConst.PROPERTY_REAL_QUEUE_ID] = str(msg.queue_id)
    msg.sys_flag = MessageSysFlag.reset_transaction_value(
        msg.sys_flag, MessageSysFlag.TRANSACTION_NOT_TYPE
    )
    msg.topic = HALF_TOPIC
    msg.queue_id = 0
    msg.properties_string = encode_properties(props)


def real_queue(half: MessageExt) -> tuple[str, int]:
    """(REAL_TOPIC, REAL_QID) of a half message; raises :class:`HalfMessageError`."""
    topic = half.properties.get(MessageConst.PROPERTY_REAL_TOPIC)
    raw_qid = half.properties.get(MessageConst.PROPERTY_REAL_QUEUE_ID)
    if not topic or raw_qid is None:
        raise HalfMessageError(
            f"half message at commit-log offset {half.commitlog_offset} has no REAL_TOPIC/REAL_QID"
        )
    try:
        queue_id = int(raw_qid)
    except ValueError:
        raise HalfMessageError(
            f"half message at commit-log offset {half.commitlog_offset} has REAL_QID {raw_qid!r}"
        ) from None
    if queue_id < 0:
        raise HalfMessageError(f"half message REAL_QID {queue_id} is negative")
    return topic, queue_id


def transaction_id(half: MessageExt) -> str | None:
    """The transaction id of a half message: ``__transactionId__``, else its UNIQ_KEY."""
    props = half.properties
    return props.get(MessageConst.PROPERTY_TRANSACTION_ID) or props.get(
        MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX
    )


def _inner_copy(
    msg: MessageExt, topic: str, queue_id: int, props: dict[str, str]
) -> MessageExtBrokerInner:
    return MessageExtBrokerInner(
        topic=topic,
        body=msg.body,
        flag=msg.flag,
        properties=props,
        queue_id=queue_id,
        sys_flag=msg.sys_flag,
        born_timestamp=msg.born_timestamp,
        born_host=msg.born_host,
        store_host=msg.store_host,
        reconsume_times=msg.reconsume_times,
        properties_string=encode_properties(props),
    )


def to_real_message(half: MessageExt) -> MessageExtBrokerInner:
    """The committed message for ``half`` (module docstring); raises HalfMessageError."""
    topic, queue_id = real_queue(half)
    props = dict(half.properties)
    for name in _HALF_ONLY_PROPERTIES:
        props.pop(name, None)
    props[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] = "false"
    real = _inner_copy(half, topic, queue_id, props)
    real.sys_flag = MessageSysFlag.reset_transaction_value(
        half.sys_flag, MessageSysFlag.TRANSACTION_COMMIT_TYPE
    )
    real.prepared_transaction_offset = half.commitlog_offset
    return real


def check_times(half: MessageExt) -> int:
    """How many check-backs ``half`` has had (``TRANSACTION_CHECK_TIMES``, 0 if absent)."""
    raw = half.properties.get(MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES)
    try:
        return max(int(raw), 0) if raw is not None else 0
    except ValueError:
        return 0


def check_immunity_ms(half: MessageExt, transaction_timeout_ms: int) -> int:
    """Milliseconds after storing before ``half`` may be checked.

    ``CHECK_IMMUNITY_TIME_IN_SECONDS`` (a producer's per-message choice) when present and
    valid, else ``transaction_timeout_ms`` (``transactionTimeOut``).
    """
    raw = half.properties.get(MessageConst.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS)
    if raw is not None:
        try:
            seconds = int(raw)
        except ValueError:
            return transaction_timeout_ms
        if seconds >= 0:
            return seconds * 1000
    return transaction_timeout_ms


def renewed_half_message(half: MessageExt, *, count_check: bool = True) -> MessageExtBrokerInner:
    """A copy of ``half`` to re-append to the half queue, with one more check counted
    unless ``count_check`` is false.

    The copy keeps ``half``'s born time, so immunity and timeouts still count from the
    original send; it remembers the first copy's queue offset in
    ``TRAN_PREPARED_QUEUE_OFFSET``.
    """
    props = dict(half.properties)
    if count_check:
        props[MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES] = str(check_times(half) + 1)
    props.setdefault(
        MessageConst.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, str(half.queue_offset)
    )
    props[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] = "false"
    return _inner_copy(half, HALF_TOPIC, half.queue_id, props)


def to_discard_message(half: MessageExt) -> MessageExtBrokerInner:
    """A copy of ``half`` parked in ``TRANS_CHECK_MAX_TIME_TOPIC`` (queue 0) for operators."""
    props = dict(half.properties)
    props[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] = "false"
    return _inner_copy(half, TRANS_CHECK_MAX_TIME_TOPIC, 0, props)


def op_message(
    half_queue_offset: int, half_queue_id: int, store_host: str
) -> MessageExtBrokerInner:
    """The op record resolving the half message at ``half_queue_offset``."""
    props = {
        MessageConst.PROPERTY_TAGS: OP_REMOVE_TAG,
        MessageConst.PROPERTY_WAIT_STORE_MSG_OK: "false",
    }
    return MessageExtBrokerInner(
        topic=OP_HALF_TOPIC,
        body=f"{half_queue_offset},".encode("ascii"),
        properties=props,
        queue_id=half_queue_id,
        store_host=store_host,
        born_host=store_host,
        properties_string=encode_properties(props),
    )


def parse_op_body(body: bytes) -> list[int]:
    """Half queue offsets named by an op body (``b"12,"`` or ``b"12,13,"``).

    Malformed tokens are skipped (a damaged op record must not stop the check service); at
    most 4096 offsets are read from one body.
    """
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return []
    offsets: list[int] = []
    for token in text.split(","):
        token = token.strip()
        if token.isdigit():
            offsets.append(int(token))
            if len(offsets) >= _MAX_OP_BODY_OFFSETS:
                break
    return offsets
