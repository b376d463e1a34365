"""Pure conversions of transactional messages (reference §5.9)."""

from __future__ import annotations

import pytest

from rmq_core.broker.transaction.messages import (
    HALF_TOPIC,
    OP_HALF_TOPIC,
    OP_REMOVE_TAG,
    TRANS_CHECK_MAX_TIME_TOPIC,
    HalfMessageError,
    check_immunity_ms,
    check_times,
    op_message,
    parse_op_body,
    real_queue,
    renewed_half_message,
    to_discard_message,
    to_half_message,
    to_real_message,
    transaction_id,
)
from rmq_core.broker.transaction.service import is_prepared_send
from rmq_core.common.message import MessageExt, MessageExtBrokerInner, MessageSysFlag
from rmq_core.common.message_codec import decode_properties


def _prepared() -> MessageExtBrokerInner:
    return MessageExtBrokerInner(
        topic="TopicTx",
        body=b"b",
        flag=3,
        properties={"UNIQ_KEY": "U1", "TRAN_MSG": "true", "PGROUP": "PG", "KEYS": "k"},
        queue_id=5,
        sys_flag=MessageSysFlag.TRANSACTION_PREPARED_TYPE | MessageSysFlag.COMPRESSED_FLAG,
        born_timestamp=1000,
        born_host="10.0.0.1:1234",
        store_host="10.0.0.2:10911",
    )


def _stored(inner: MessageExtBrokerInner, queue_offset: int, phys: int) -> MessageExt:
    return MessageExt(
        topic=inner.topic,
        body=inner.body,
        flag=inner.flag,
        properties=dict(inner.properties),
        queue_id=inner.queue_id,
        queue_offset=queue_offset,
        commitlog_offset=phys,
        sys_flag=inner.sys_flag,
        born_timestamp=inner.born_timestamp,
        born_host=inner.born_host,
        store_host=inner.store_host,
        store_timestamp=2000,
    )


def test_half_message_moves_to_half_topic_and_remembers_the_real_queue() -> None:
    msg = _prepared()
    to_half_message(msg)
    assert (msg.topic, msg.queue_id) == (HALF_TOPIC, 0)
    assert msg.properties["REAL_TOPIC"] == "TopicTx"
    assert msg.properties["REAL_QID"] == "5"
    assert msg.properties["__transactionId__"] == "U1"
    assert MessageSysFlag.get_transaction_value(msg.sys_flag) == 0
    assert msg.sys_flag & MessageSysFlag.COMPRESSED_FLAG
    assert msg.properties_string is not None
    assert decode_properties(msg.properties_string) == msg.properties


def test_real_message_restores_topic_and_strips_half_properties() -> None:
    inner = _prepared()
    to_half_message(inner)
    half = _stored(inner, 7, 4096)
    real = to_real_message(half)
    assert (real.topic, real.queue_id) == ("TopicTx", 5)
    assert MessageSysFlag.get_transaction_value(real.sys_flag) == 8
    assert real.sys_flag & MessageSysFlag.COMPRESSED_FLAG
    assert real.prepared_transaction_offset == 4096
    for gone in ("REAL_TOPIC", "REAL_QID", "TRAN_MSG"):
        assert gone not in real.properties
    assert real.properties["PGROUP"] == "PG"
    assert real.properties["KEYS"] == "k"
    assert real.properties["UNIQ_KEY"] == "U1"
    assert (real.flag, real.born_timestamp, real.born_host) == (3, 1000, "10.0.0.1:1234")
    assert transaction_id(half) == "U1"


def test_real_queue_refuses_damaged_half_messages() -> None:
    half = MessageExt(topic=HALF_TOPIC, body=b"", properties={"REAL_TOPIC": "T"})
    with pytest.raises(HalfMessageError):
        real_queue(half)
    half.properties["REAL_QID"] = "x"
    with pytest.raises(HalfMessageError):
        real_queue(half)
    half.properties["REAL_QID"] = "-1"
    with pytest.raises(HalfMessageError):
        real_queue(half)


def test_renewed_copy_counts_checks_and_keeps_born_time() -> None:
    inner = _prepared()
    to_half_message(inner)
    half = _stored(inner, 3, 100)
    assert check_times(half) == 0
    copy = renewed_half_message(half)
    assert copy.topic == HALF_TOPIC
    assert copy.properties["TRANSACTION_CHECK_TIMES"] == "1"
    assert copy.properties["TRAN_PREPARED_QUEUE_OFFSET"] == "3"
    assert copy.born_timestamp == 1000
    again = renewed_half_message(_stored(copy, 9, 200))
    assert again.properties["TRANSACTION_CHECK_TIMES"] == "2"
    assert again.properties["TRAN_PREPARED_QUEUE_OFFSET"] == "3"
    same = renewed_half_message(_stored(copy, 9, 200), count_check=False)
    assert same.properties["TRANSACTION_CHECK_TIMES"] == "1"


def test_discard_and_op_messages() -> None:
    inner = _prepared()
    to_half_message(inner)
    discarded = to_discard_message(_stored(inner, 1, 1))
    assert (discarded.topic, discarded.queue_id) == (TRANS_CHECK_MAX_TIME_TOPIC, 0)
    op = op_message(42, 0, "10.0.0.2:10911")
    assert (op.topic, op.queue_id, op.body) == (OP_HALF_TOPIC, 0, b"42,")
    assert op.properties["TAGS"] == OP_REMOVE_TAG


@pytest.mark.parametrize(
    ("body", "offsets"),
    [
        (b"12,", [12]),
        (b"12,13,17,", [12, 13, 17]),
        (b"12", [12]),
        (b"", []),
        (b"x,5,-3,", [5]),
        (b"\xff\xfe", []),
    ],
)
def test_op_bodies_parse_leniently(body: bytes, offsets: list[int]) -> None:
    assert parse_op_body(body) == offsets


def test_check_times_and_immunity_tolerate_bad_values() -> None:
    msg = MessageExt(topic=HALF_TOPIC, body=b"", properties={"TRANSACTION_CHECK_TIMES": "x"})
    assert check_times(msg) == 0
    assert check_immunity_ms(msg, 6000) == 6000
    msg.properties["CHECK_IMMUNITY_TIME_IN_SECONDS"] = "20"
    assert check_immunity_ms(msg, 6000) == 20000
    msg.properties["CHECK_IMMUNITY_TIME_IN_SECONDS"] = "soon"
    assert check_immunity_ms(msg, 6000) == 6000


def test_prepared_send_is_recognised_by_property_or_sysflag() -> None:
    assert is_prepared_send(0, {"TRAN_MSG": "true"})
    assert is_prepared_send(0, {"TRAN_MSG": "TRUE"})
    assert is_prepared_send(MessageSysFlag.TRANSACTION_PREPARED_TYPE, {})
    assert not is_prepared_send(0, {"TRAN_MSG": "false"})
    assert not is_prepared_send(MessageSysFlag.TRANSACTION_COMMIT_TYPE, {})
