"""Golden vectors and round trips for the message record, properties, batches and ids."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import pickle
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmq_core.common.message import Message, MessageConst, MessageExt, MessageSysFlag
from rmq_core.common.message_codec import (
    _V6_FLAGS,
    MessageFormatError,
    _uniform_layout,
    create_offset_msg_id,
    create_uniq_id,
    decode_batch,
    decode_offset_msg_id,
    decode_properties,
    decode_record,
    decode_records,
    encode_batch,
    encode_properties,
    encode_record,
    java_string_hash,
)


def _i32(v: int) -> bytes:
    return v.to_bytes(4, "big", signed=True)


def _i64(v: int) -> bytes:
    return v.to_bytes(8, "big", signed=True)


def _golden_message() -> MessageExt:
    return MessageExt(
        topic="TopicTest",
        body=b"Hello RocketMQ",
        flag=5,
        properties={"TAGS": "TagA", "KEYS": "k1 k2"},
        queue_id=3,
        queue_offset=7,
        commitlog_offset=1234,
        sys_flag=0,
        born_timestamp=1_700_000_000_000,
        born_host="192.168.0.10:54321",
        store_timestamp=1_700_000_000_123,
        store_host="10.0.0.1:10911",
        reconsume_times=2,
        prepared_transaction_offset=0,
    )


def test_golden_record_bytes_field_by_field() -> None:
    body = b"Hello RocketMQ"
    topic = b"TopicTest"
    props = b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02"
    total = 91 + len(body) + len(topic) + len(props)
    expected = b"".join(
        [
            _i32(total),  # TOTALSIZE
            bytes.fromhex("DAA320A7"),  # MAGICCODE V1
            _i32(zlib.crc32(body) & 0x7FFFFFFF),  # BODYCRC
            _i32(3),  # QUEUEID
            _i32(5),  # FLAG
            _i64(7),  # QUEUEOFFSET
            _i64(1234),  # PHYSICALOFFSET
            _i32(0),  # SYSFLAG
            _i64(1_700_000_000_000),  # BORNTIMESTAMP
            bytes([192, 168, 0, 10]) + _i32(54321),  # BORNHOST
            _i64(1_700_000_000_123),  # STORETIMESTAMP
            bytes([10, 0, 0, 1]) + _i32(10911),  # STOREHOST
            _i32(2),  # RECONSUMETIMES
            _i64(0),  # PREPARED_TRANSACTION_OFFSET
            _i32(len(body)) + body,  # BODYLEN + BODY
            bytes([len(topic)]) + topic,  # TOPICLEN (1 byte, V1) + TOPIC
            len(props).to_bytes(2, "big") + props,  # PROPLEN + PROPERTIES
        ]
    )
    assert encode_record(_golden_message()) == expected
    msg, end = decode_record(expected, check_crc=True)
    assert end == len(expected) == total
    assert msg == _replace(_golden_message(), body_crc=zlib.crc32(body) & 0x7FFFFFFF, size=total)
    assert msg.msg_id == "0A000001" + "00002A9F" + "00000000000004D2"


def _replace(msg: MessageExt, *, body_crc: int, size: int) -> MessageExt:
    msg.body_crc = body_crc
    msg.store_size = size
    return msg


def test_long_topic_uses_v2_magic_and_short_length() -> None:
    msg = _golden_message()
    msg.topic = "T" * 200
    data = encode_record(msg)
    assert data[4:8] == bytes.fromhex("DAA320AB")
    decoded, _ = decode_record(data)
    assert decoded.topic == "T" * 200


def test_ipv6_hosts_set_flags_and_widths() -> None:
    msg = _golden_message()
    msg.born_host = "[::1]:1234"
    msg.store_host = "[fe80::1]:10911"
    data = encode_record(msg)
    assert len(data) == 91 + 24 + len(msg.body) + 9 + 21
    decoded, _ = decode_record(data)
    assert decoded.sys_flag & MessageSysFlag.BORNHOST_V6_FLAG
    assert decoded.sys_flag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG
    assert decoded.born_host == "[::1]:1234"
    assert decoded.store_host == "[fe80::1]:10911"
    assert len(decoded.msg_id) == 56
    assert decode_offset_msg_id(decoded.msg_id) == ("[fe80::1]:10911", 1234)


def test_compressed_body_is_inflated_on_decode() -> None:
    msg = _golden_message()
    msg.body = zlib.compress(b"x" * 5000)
    msg.sys_flag = MessageSysFlag.COMPRESSED_FLAG | (3 << 8)
    data = encode_record(msg)
    assert decode_record(data)[0].body == b"x" * 5000
    assert decode_record(data, decompress=False)[0].body == msg.body


def test_decode_rejects_bad_magic_crc_and_truncation() -> None:
    data = bytearray(encode_record(_golden_message()))
    with pytest.raises(MessageFormatError):
        decode_record(bytes(data[:-1]))
    bad = bytearray(data)
    bad[4] ^= 0xFF
    with pytest.raises(MessageFormatError, match="magic"):
        decode_record(bytes(bad))
    bad = bytearray(data)
    bad[90] ^= 0x01  # inside the body
    with pytest.raises(MessageFormatError, match="CRC"):
        decode_record(bytes(bad), check_crc=True)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decode_never_crashes_on_random_bytes(data: bytes) -> None:
    with contextlib.suppress(MessageFormatError):
        decode_records(data)


texts = st.text(
    alphabet=st.characters(blacklist_characters="\x00\x01\x02", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
)


@settings(max_examples=100, deadline=None)
@given(
    topic=texts,
    body=st.binary(max_size=300),
    props=st.dictionaries(texts, texts, max_size=5),
    offsets=st.tuples(st.integers(0, 2**62), st.integers(0, 2**62)),
)
def test_record_round_trip(
    topic: str, body: bytes, props: dict[str, str], offsets: tuple[int, int]
) -> None:
    msg = _golden_message()
    msg.topic, msg.body, msg.properties = topic, body, props
    msg.queue_offset, msg.commitlog_offset = offsets
    data = encode_record(msg) * 2
    first, second = decode_records(data)
    assert first == second
    assert (first.topic, first.body, first.properties) == (topic, body, props)
    assert (first.queue_offset, first.commitlog_offset) == offsets


def test_properties_string_rules() -> None:
    assert encode_properties({"A": "1", "B": "2"}) == "A\x011\x02B\x012\x02"
    assert decode_properties("A\x011\x02B\x012\x02") == {"A": "1", "B": "2"}
    # short entries, empty names/values and missing separators are skipped
    assert decode_properties("A\x02\x011\x02B\x01\x02CC\x02D\x01x=y") == {"D": "x=y"}
    assert decode_properties(b"K\x01v\x01w\x02") == {"K": "v\x01w"}


def test_batch_round_trip_and_layout() -> None:
    msgs = [
        Message("T", b"one", flag=1, properties={"TAGS": "a"}),
        Message("T", b"", properties={}),
    ]
    data = encode_batch(msgs)
    first_props = b"TAGS\x01a\x02"
    first_total = 20 + 3 + 2 + len(first_props)
    assert data[:first_total] == (
        _i32(first_total) + _i32(0) + _i32(0) + _i32(1) + _i32(3) + b"one"
        + len(first_props).to_bytes(2, "big") + first_props
    )  # fmt: skip
    assert decode_batch(data, topic="T") == msgs
    with pytest.raises(MessageFormatError):
        decode_batch(data[:-1], topic="T")


def test_offset_msg_id_round_trip_and_errors() -> None:
    msg_id = create_offset_msg_id("10.0.0.1:10911", 1234)
    assert msg_id == "0A00000100002A9F00000000000004D2"
    assert decode_offset_msg_id(msg_id) == ("10.0.0.1:10911", 1234)
    for bad in ("xyz", "Z" * 32):
        with pytest.raises(MessageFormatError):
            decode_offset_msg_id(bad)


def test_uniq_ids_are_unique_upper_hex() -> None:
    ids = {create_uniq_id() for _ in range(1000)}
    assert len(ids) == 1000
    for uid in ids:
        assert len(uid) == 32
        assert uid == uid.upper()
        bytes.fromhex(uid)


def test_java_string_hash_known_values() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("TagA") == 2598919
    assert java_string_hash("polygenelubricants") == -(2**31)
    assert java_string_hash("\U0001f600") == 0xD83D * 31 + 0xDE00


def test_message_helpers() -> None:
    msg = Message("T", b"")
    msg.tags = "a"
    msg.keys = ["k1", "k2"]
    msg.delay_time_level = 3
    assert msg.properties == {"TAGS": "a", "KEYS": "k1 k2", "DELAY": "3"}
    assert msg.keys == ["k1", "k2"]
    assert msg.delay_time_level == 3
    assert msg.wait_store_msg_ok
    msg.wait_store_msg_ok = False
    assert not msg.wait_store_msg_ok
    with pytest.raises(ValueError):
        msg.put_user_property(MessageConst.PROPERTY_TAGS, "x")
    msg.tags = None
    assert msg.tags is None
    assert MessageSysFlag.reset_transaction_value(0x5, MessageSysFlag.TRANSACTION_COMMIT_TYPE) == 9


def _one_by_one(data: bytes, decompress: bool) -> list[MessageExt]:
    out, offset = [], 0
    while offset < len(data):
        msg, offset = decode_record(data, offset, decompress=decompress)
        out.append(msg)
    return out


def _mixed_records() -> bytes:
    """Records the inline path takes and records it hands to decode_record, interleaved."""
    plain = _golden_message()
    other_topic = _golden_message()
    other_topic.topic, other_topic.properties = "Other", {}
    other_hosts = _golden_message()
    other_hosts.born_host = "10.9.8.7:1"
    long_topic = _golden_message()
    long_topic.topic = "T" * 200  # V2 magic
    ipv6 = _golden_message()
    ipv6.store_host = "[::1]:10911"
    compressed = _golden_message()
    compressed.body = zlib.compress(b"z" * 300)
    compressed.sys_flag = MessageSysFlag.COMPRESSED_FLAG | (3 << 8)
    records = [plain, plain, other_topic, plain, other_hosts, long_topic, ipv6, compressed, plain]
    return b"".join(encode_record(m) for m in records)


@pytest.mark.parametrize("decompress", [True, False])
def test_decode_records_equals_decoding_record_by_record(decompress: bool) -> None:
    data = _mixed_records()
    decoded = decode_records(data, decompress=decompress)
    assert decoded == _one_by_one(data, decompress)
    assert [m.topic for m in decoded][:3] == ["TopicTest", "TopicTest", "Other"]
    assert decoded[4].born_host == "10.9.8.7:1" and decoded[5].topic == "T" * 200
    assert decode_records(bytearray(data), decompress=decompress) == decoded
    assert decode_records(memoryview(data), decompress=decompress) == decoded
    assert all(type(m.body) is bytes for m in decoded)


@pytest.mark.parametrize("cut", [1, 5, 60, 100, 103, 104, 120])
def test_decode_records_fails_like_decode_record(cut: int) -> None:
    record = encode_record(_golden_message())
    damaged = [
        record + record[:cut],  # a truncated second record
        record[:cut] + b"\xff" + record[cut + 1 :],  # one byte changed
    ]
    for data in damaged:
        try:
            expected: object = _one_by_one(data, True)
        except MessageFormatError as exc:
            expected = str(exc)
        try:
            got: object = decode_records(data)
        except MessageFormatError as exc:
            got = str(exc)
        assert got == expected


@pytest.mark.parametrize("lazy", [True, False])
def test_decode_records_lazy_and_eager_properties_agree(lazy: bool) -> None:
    data = _mixed_records()
    decoded = decode_records(data, lazy_properties=lazy)
    # Lazy: every record with properties (all but the third, "Other") keeps them as bytes
    # until the first access, on the inline path and through decode_record alike.
    kept = [m.raw_properties is not None for m in decoded]
    assert kept == [lazy and i != 2 for i in range(len(decoded))]
    assert decoded == _one_by_one(data, True)
    assert all(m.raw_properties is None for m in decoded)
    assert decoded[0].properties == {"TAGS": "TagA", "KEYS": "k1 k2"}
    assert decoded[2].properties == {}


def test_lazy_properties_behave_like_parsed_ones() -> None:
    record = encode_record(_golden_message())

    def lazy() -> MessageExt:
        (msg,) = decode_records(record)
        assert msg.raw_properties == b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02"
        return msg

    eager, _ = decode_record(record)
    assert eager.raw_properties is None
    assert lazy() == eager and eager == lazy()
    assert repr(lazy()) == repr(eager) and "raw_properties" not in repr(eager)
    assert lazy().tags == "TagA" and lazy().keys == ["k1", "k2"]
    assert lazy().get_property("KEYS") == "k1 k2"
    msg = lazy()
    msg.put_property("X", "1")  # mutations stick once parsed
    assert msg.properties["X"] == "1" and msg.raw_properties is None
    msg = lazy()
    msg.properties = {"A": "b"}  # an assignment replaces the kept string
    assert msg.properties == {"A": "b"}
    assert pickle.loads(pickle.dumps(lazy())) == eager
    assert copy.copy(lazy()).properties == eager.properties
    assert dataclasses.replace(lazy(), topic="T").properties == eager.properties
    with pytest.raises(AttributeError, match="no_such_field"):
        lazy().no_such_field  # type: ignore[attr-defined]  # noqa: B018


def test_lazy_properties_decode_like_java_on_odd_bytes() -> None:
    msg = _golden_message()
    good = encode_record(msg)
    props = b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02"
    odd = b"\x01x\x02A\x01\xff\x02bare\x02"
    data = good.replace(props, odd.ljust(len(props), b"\x02"))
    (lazy,) = decode_records(data)
    eager, _ = decode_record(data)
    assert lazy.properties == eager.properties == {"A": "\ufffd"}


def _outcome(decode: Callable[[bytes], list[MessageExt]], data: bytes) -> object:
    """The messages ``decode`` returns, or the type and text of what it raises."""
    try:
        return decode(data)
    except Exception as exc:  # any difference between the two decoders counts
        return type(exc), str(exc)


_MUTATED = _mixed_records()[:400]  # the first records of each kind, the last one cut short


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_MUTATED) - 1), st.integers(0, 255)), max_size=3))
def test_decode_records_matches_decode_record_on_mutated_records(
    changes: list[tuple[int, int]],
) -> None:
    data = bytearray(_MUTATED)
    for at, value in changes:
        data[at] = value
    mutated = bytes(data)
    assert _outcome(decode_records, mutated) == _outcome(lambda d: _one_by_one(d, True), mutated)


def test_decode_records_refuses_a_topic_length_reaching_into_the_properties_length() -> None:
    record = encode_record(_golden_message())
    props_len = len(b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02")
    at = len(record) - props_len - 2 - len("TopicTest") - 1  # the topic length byte
    # The topic now ends one byte before the record does: no room for the properties length.
    damaged = record[:at] + bytes([len("TopicTest") + props_len + 1]) + record[at + 1 :]
    with pytest.raises(MessageFormatError, match="bad topic length"):
        decode_records(damaged)
    with pytest.raises(MessageFormatError, match="bad topic length"):
        decode_record(damaged)


def _uniform_records(count: int = 4, **changes: object) -> list[MessageExt]:
    """``count`` golden messages of one layout (what one producer's pull answer holds)."""
    out = []
    for i in range(count):
        msg = _golden_message()
        msg.queue_offset, msg.commitlog_offset, msg.body = 7 + i, 1234 + 100 * i, b"body %06d" % i
        for name, value in changes.items():
            setattr(msg, name, value)
        out.append(msg)
    return out


@pytest.mark.parametrize("lazy", [True, False])
@pytest.mark.parametrize("properties", [{"TAGS": "TagA", "KEYS": "k1 k2"}, {}])
def test_decode_records_of_one_layout_equal_decoding_record_by_record(
    lazy: bool, properties: dict[str, str]
) -> None:
    data = b"".join(encode_record(m) for m in _uniform_records(properties=properties))
    decoded = decode_records(data, lazy_properties=lazy)
    assert [m.raw_properties is not None for m in decoded] == [lazy and bool(properties)] * 4
    assert decoded == _one_by_one(data, True)
    assert [m.body for m in decoded] == [b"body %06d" % i for i in range(4)]
    assert all(type(m.body) is bytes for m in decoded)
    decoded[0].put_property("X", "1")  # every message has its own properties dict
    assert all("X" not in m.properties for m in decoded[1:])


def test_decode_records_of_one_layout_with_other_hosts_or_flags() -> None:
    hosts = _uniform_records()
    hosts[2].born_host, hosts[3].store_host = "10.9.8.7:1", "10.1.1.1:2"
    flags = _uniform_records()
    flags[1].sys_flag = MessageSysFlag.MULTI_TAGS_FLAG  # usual: still one layout
    flags[3].sys_flag = MessageSysFlag.COMPRESSED_FLAG | (3 << 8)  # handed to decode_record
    flags[3].body = zlib.compress(b"abc")  # as long as the others' bodies
    other_topic = _uniform_records()
    other_topic[1].topic = "TopicTesx"  # same length, other topic
    for records in (hosts, flags, other_topic):
        data = b"".join(encode_record(m) for m in records)
        for decompress in (True, False):
            assert _outcome(lambda d, z=decompress: decode_records(d, decompress=z), data) == (
                _outcome(lambda d, z=decompress: _one_by_one(d, z), data)
            )
    decoded = decode_records(b"".join(encode_record(m) for m in hosts))
    assert [m.born_host for m in decoded][1:3] == ["192.168.0.10:54321", "10.9.8.7:1"]
    assert decoded[3].store_host == "10.1.1.1:2"


_UNIFORM = b"".join(encode_record(m) for m in _uniform_records(3))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_UNIFORM) - 1), st.integers(0, 255)), max_size=3))
def test_decode_records_matches_decode_record_on_mutated_records_of_one_layout(
    changes: list[tuple[int, int]],
) -> None:
    data = bytearray(_UNIFORM)
    for at, value in changes:
        data[at] = value
    mutated = bytes(data)
    for lazy in (True, False):
        got = _outcome(lambda d, lazy=lazy: decode_records(d, lazy_properties=lazy), mutated)
        assert got == _outcome(lambda d: _one_by_one(d, True), mutated)


def test_uniform_layout_rejects_a_first_record_to_inflate_at_once() -> None:
    records = _uniform_records()
    for msg in records:
        msg.sys_flag = MessageSysFlag.COMPRESSED_FLAG
        msg.body = zlib.compress(b"abc")
    data = b"".join(encode_record(m) for m in records)
    inflate = _V6_FLAGS | MessageSysFlag.COMPRESSED_FLAG
    assert _uniform_layout(data, inflate) is None  # no column split for nothing
    assert _uniform_layout(data, _V6_FLAGS) is not None  # kept compressed: one layout
    for decompress in (True, False):
        assert decode_records(data, decompress=decompress) == _one_by_one(data, decompress)


def test_message_ext_positional_field_order_used_by_the_decoders() -> None:
    names = [f.name for f in dataclasses.fields(MessageExt) if f.init]
    assert names[:17] == [
        "topic", "body", "flag", "properties", "queue_id", "queue_offset",
        "commitlog_offset", "sys_flag", "born_timestamp", "born_host", "store_timestamp",
        "store_host", "reconsume_times", "prepared_transaction_offset", "body_crc",
        "store_size", "raw_properties",
    ]  # fmt: skip
