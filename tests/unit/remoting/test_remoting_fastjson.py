"""fastjson bodies: bare numeric and object keys in, Java's form out."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting import fastjson
from rmq_core.remoting.fastjson import FastjsonDecodeError, FrozenKey

ROUTE_FASTJSON = (
    b'{"brokerDatas":[{"brokerAddrs":{0:"192.168.0.10:10911",1:"192.168.0.11:10911"},'
    b'"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],'
    b'"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,'
    b'"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
)
MQ = {"brokerName": "b", "queueId": 0, "topic": "T"}


def test_bare_numeric_keys() -> None:
    doc = fastjson.loads(ROUTE_FASTJSON)
    assert doc["brokerDatas"][0]["brokerAddrs"] == {
        0: "192.168.0.10:10911",
        1: "192.168.0.11:10911",
    }
    assert doc["queueDatas"][0]["perm"] == 6
    assert doc["brokerDatas"][0]["enableActingMaster"] is False


def test_bare_object_keys() -> None:
    text = '{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"a":1}, {"x":[1]} : 2}}'
    doc = fastjson.loads(text)
    table = doc["offsetTable"]
    assert table[FrozenKey(MQ)] == {"a": 1}
    assert table[FrozenKey({"x": [1]})] == 2
    key = next(iter(table))
    assert isinstance(key, FrozenKey)
    assert key.value == MQ


def test_quoted_forms_stay_strings() -> None:
    doc = fastjson.loads('{"brokerAddrs":{"0":"a"},"t":{"{\\"queueId\\":0}":5}}')
    assert doc == {"brokerAddrs": {"0": "a"}, "t": {'{"queueId":0}': 5}}


def test_mixed_lenient_values() -> None:
    doc = fastjson.loads(' { -1 : [1.5, 2e3, null, true, "s\\u00e9"], ident : {} , 7:{} } ')
    assert doc == {-1: [1.5, 2000.0, None, True, "s\u00e9"], "ident": {}, 7: {}}


def test_standard_json_and_bytes_forms() -> None:
    assert fastjson.loads(b'{"a":[1,2]}') == {"a": [1, 2]}
    assert fastjson.loads(bytearray(b"[]")) == []
    assert fastjson.loads(memoryview(b'"x"')) == "x"


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b'{"a"}', b"{0:}", b"[1,]x", b"{1:2,", b"\xff", b"{:1}", b'{"a":1}}', b"[" * 600],
)
def test_malformed(text: bytes) -> None:
    with pytest.raises(FastjsonDecodeError) as info:
        fastjson.loads(text)
    assert isinstance(info.value, RemoteProtocolError)


def test_dumps_route_like_data_as_java() -> None:
    doc = fastjson.loads(ROUTE_FASTJSON)
    assert fastjson.dumps(doc) == ROUTE_FASTJSON


def test_dumps_standard_route_form() -> None:
    route = {"brokerDatas": [{"brokerAddrs": {0: "h:1"}, "brokerName": "b"}]}
    assert fastjson.dumps(route, bare_non_string_keys=False) == (
        b'{"brokerDatas":[{"brokerAddrs":{"0":"h:1"},"brokerName":"b"}]}'
    )
    json.loads(fastjson.dumps(route, bare_non_string_keys=False))


def test_dumps_sorts_keys_and_numbers_numerically() -> None:
    assert fastjson.dumps({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    assert fastjson.dumps({10: "x", 2: "y", -1: "z"}) == b'{-1:"z",2:"y",10:"x"}'


def test_dumps_object_keys() -> None:
    table = {FrozenKey(MQ): 12}
    bare = fastjson.dumps({"offsetTable": table})
    assert bare == b'{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:12}}'
    assert fastjson.loads(bare) == {"offsetTable": table}
    quoted = fastjson.dumps(table, bare_non_string_keys=False)
    assert json.loads(quoted) == {'{"brokerName":"b","queueId":0,"topic":"T"}': 12}


def test_dumps_scalars() -> None:
    assert fastjson.dumps([None, True, 1.5, float("nan"), "\u00e9", b"\x01"]) == (
        '[null,true,1.5,null,"\u00e9","AQ=="]'.encode()
    )
    assert fastjson.dumps("\u00e9", ensure_ascii=True) == b'"\\u00e9"'
    assert fastjson.dumps({1, 3, 2}) == b"[1,2,3]"
    with pytest.raises(TypeError):
        fastjson.dumps(object())


def test_frozen_key_equality_and_hash() -> None:
    assert FrozenKey({"a": [1, {"b": 2}]}) == FrozenKey({"a": [1, {"b": 2}]})
    assert hash(FrozenKey(MQ)) == hash(FrozenKey(dict(reversed(list(MQ.items())))))
    assert FrozenKey(MQ) != FrozenKey({**MQ, "queueId": 1})
    assert FrozenKey(MQ) != MQ


_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=8)
_KEYS = st.text(max_size=6) | st.integers(-1000, 1000)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_DOCS)
def test_dumps_loads_round_trip(doc: object) -> None:
    assert fastjson.loads(fastjson.dumps(doc)) == doc


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='{}[]:,"0123456789-.eE tfnrul\\ab', max_size=40))
def test_loads_never_crashes(text: str) -> None:
    with contextlib.suppress(FastjsonDecodeError):
        fastjson.loads(text)
