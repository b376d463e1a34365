"""Records <-> messages, names, configs and futures, without a broker."""

from __future__ import annotations

import threading
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmq_core.common.message import MessageExt
from rmq_integrations.kafka import config, errors, names, records
from rmq_integrations.kafka.future import Future
from rmq_integrations.kafka.serializer import JsonSerializer, as_deserializer, as_serializer


def consumed(msg: object) -> MessageExt:
    """What a consumer would get back for a produced message."""
    return MessageExt(topic=msg.topic, body=msg.body, properties=dict(msg.properties),  # type: ignore[attr-defined]
                      born_timestamp=42)  # fmt: skip


headers_st = st.lists(st.tuples(st.text(max_size=8), st.binary(max_size=16)), max_size=4)


@given(st.none() | st.binary(max_size=40), st.none() | st.binary(max_size=40), headers_st,
       st.none() | st.integers(0, 2**41))  # fmt: skip
def test_record_round_trip(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]], stamp: int | None
) -> None:
    msg = records.encode("T", key, value, headers, stamp)
    assert msg.body  # RocketMQ refuses empty bodies
    back = records.decode(consumed(msg))
    assert (back.key, back.value, back.headers) == (key, value, headers)
    assert back.timestamp == (42 if stamp is None else stamp)


def test_foreign_messages_read_as_records() -> None:
    properties = {"KEYS": "order-1", "region": "eu", "TAGS": "a", "UNIQ_KEY": "x"}
    msg = MessageExt(topic="T", body=b"native", born_timestamp=7, properties=properties)
    back = records.decode(msg)
    assert (back.key, back.value, back.headers, back.timestamp) == (
        b"order-1", b"native", [("region", b"eu")], 7,
    )  # fmt: skip


def test_text_keys_are_indexed() -> None:
    msg = records.encode("T", b"user-1", b"v", [], 1)
    assert msg.keys == ["user-1"] and msg.properties["KAFKA_KEY"] == "user-1"
    assert "KAFKA_KEY_B64" in records.encode("T", b"\xff", b"v", [], 1).properties


def test_topic_names() -> None:
    assert names.topic_to_rmq("orders.eu-1_x") == "orders|eu-1_x"
    assert names.topic_from_rmq("orders|eu-1_x") == "orders.eu-1_x"
    assert names.group_to_rmq("my.group") == "my|group"
    for bad in ("", ".", "..", "a b", "é"):
        with pytest.raises(errors.InvalidTopicError):
            names.topic_to_rmq(bad)
    with pytest.raises(errors.InvalidGroupIdError):
        names.group_to_rmq("a/b")
    assert names.is_internal_topic("%RETRY%g") and names.is_internal_topic("TBW102")
    assert names.is_internal_topic("DefaultCluster_REPLY_TOPIC", {"DefaultCluster"})
    assert not names.is_internal_topic("orders")


def test_bootstrap_addresses() -> None:
    assert config.bootstrap_addresses("a:1,b") == ("a:1", "b:9876")
    assert config.bootstrap_addresses(["h:5", " h2:6 "]) == ("h:5", "h2:6")
    with pytest.raises(errors.KafkaConfigurationError):
        config.bootstrap_addresses("")
    with pytest.raises(errors.KafkaConfigurationError):
        config.bootstrap_addresses(42)  # type: ignore[arg-type]


def test_resolve_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.KafkaConfigurationError, match="bogus"):
        config.resolve("KafkaConsumer", {"bogus": 1})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        conf = config.resolve("KafkaConsumer", {"check_crcs": False, "group_id": "g"})
    assert [str(w.message).split(":")[1].split()[1] for w in caught] == ["check_crcs"]
    assert conf["group_id"] == "g" and conf["auto_offset_reset"] == "latest"
    monkeypatch.setenv("NAMESRV_ADDR", "10.0.0.1:9876")
    assert config.resolve("KafkaAdminClient", {})["bootstrap_servers"] == "10.0.0.1:9876"


def test_serializers() -> None:
    assert as_serializer(str.encode, "s").serialize("t", [], "x") == b"x"  # type: ignore[union-attr]
    assert as_deserializer(bytes.decode, "d").deserialize("t", [], b"x") == "x"  # type: ignore[union-attr]
    assert JsonSerializer().deserialize("t", [], JsonSerializer().serialize("t", [], {"a": 1})) == {
        "a": 1
    }
    with pytest.raises(TypeError):
        as_serializer(42, "value_serializer")


def test_future_callbacks_and_get() -> None:
    calls: list[object] = []
    future = Future().add_callback(calls.append).add_errback(calls.append)
    threading.Timer(0.05, future.success, args=(5,)).start()
    assert future.get(timeout=5) == 5
    assert calls == [5] and future.succeeded() and not future.failed()
    future.add_callback(lambda extra, value: calls.append((extra, value)), "late")
    assert calls[-1] == ("late", 5)
    failing = Future()
    with pytest.raises(errors.KafkaTimeoutError):
        failing.get(timeout=0.01)
    failing.failure(errors.RequestTimedOutError("slow"))
    assert failing.failed() and failing.retriable()
    with pytest.raises(errors.RequestTimedOutError):
        failing.get()
    with pytest.raises(errors.IllegalStateError):
        failing.success(1)
