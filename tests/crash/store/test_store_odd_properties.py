"""Odd properties strings and crash recovery: the store refuses at append time every
properties string recovery would reject (so one bad writer cannot make recovery truncate the
log under everyone else's acknowledged records) and keeps the odd ones recovery accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_records
from rmq_core.store import EncodedBatch, MessageStore, PutMessageStatus, StoreConfig
from rmq_core.store.commitlog import properties_refusal

pytestmark = pytest.mark.crash

_BORN, _STORE = "10.0.0.1:1", "127.0.0.1:10911"

REJECTED = [
    b"UNIQ_KEY\x01U1\x02A\x01b",  # not terminated by \x02
    b"A\x01b\x00\x02",  # NUL
    b"A\x01\xff\xfe\x02",  # not UTF-8
]
ACCEPTED = [b"", b"A\x01b\x02", "A\x01\u00e9\x02".encode(), b"\x02", b"odd\x02\x02"]


def _message(body: bytes, properties_string: str) -> MessageExtBrokerInner:
    return MessageExtBrokerInner(topic="T", body=body, queue_id=0, born_timestamp=1,
                                 born_host=_BORN, store_host=_STORE,
                                 properties_string=properties_string)  # fmt: skip


def test_the_append_checks_and_recovery_share_one_rule() -> None:
    assert [properties_refusal(raw) for raw in ACCEPTED] == [None] * len(ACCEPTED)
    assert all(properties_refusal(raw) for raw in REJECTED)


def test_every_acknowledged_record_survives_odd_properties_and_a_crash(
    tiny_config: StoreConfig,
) -> None:
    config = tiny_config.replace(mapped_file_size_commit_log=64 * 1024)
    store = MessageStore(config)
    store.start()
    acked: list[bytes] = []
    for i, raw in enumerate(REJECTED):
        batch = EncodedBatch(
            "T", 0, 0, 1, _BORN, _STORE, [(0, b"ok", b"A\x01b\x02"), (0, b"x", raw)]
        )
        assert store.put_encoded_batch(batch).status is PutMessageStatus.MESSAGE_ILLEGAL
        if i == 0:  # the single-message and message-batch paths refuse it too
            text = raw.decode()
            assert not store.put_message(_message(b"x", text)).is_ok
            assert not store.put_messages([_message(b"x", text)]).is_ok
    batch = EncodedBatch("T", 0, 0, 1, _BORN, _STORE,
                         [(0, b"odd%d" % i, raw) for i, raw in enumerate(ACCEPTED)])  # fmt: skip
    assert store.put_encoded_batch(batch).is_ok
    acked += [b"odd%d" % i for i in range(len(ACCEPTED))]
    for i in range(5):
        assert store.put_message(_message(b"after%d" % i, f"UNIQ_KEY\x01K{i}\x02")).is_ok
        acked.append(b"after%d" % i)
    store.shutdown()
    Path(config.store_path_root_dir, "abort").touch()  # recovery scans as after a crash

    reopened = MessageStore(config)
    report = reopened.start()
    try:
        assert report.abnormal_shutdown and report.dropped == []
        got = reopened.get_message("g", "T", 0, 0, 100, max_total_bytes=1 << 30)
        assert [m.body for m in decode_records(got.body())] == acked
        del got
    finally:
        reopened.shutdown()
