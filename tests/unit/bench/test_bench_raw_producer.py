"""The raw benchmark producer's MessageBatch bodies: what the broker's batch split reads back,
one fresh UNIQ_KEY per entry in the client's format, for bodies of one length or of several."""

from __future__ import annotations

import re

import pytest

from bench.rmq_raw import RawProducer
from rmq_core.broker.processors.send import _split_entries

_KEY = re.compile(rb"UNIQ_KEY\x01([0-9A-F]{32})\x02")


@pytest.mark.parametrize(
    "bodies",
    [
        [b"x" * 1024] * 64,  # one length: one struct per entry
        [b"a", b"bb", b"", b"cccc"],  # several lengths: part by part
        [b"only"],
    ],
)
def test_batch_body_splits_back_into_the_bodies_with_distinct_keys(bodies: list[bytes]) -> None:
    producer = RawProducer("127.0.0.1:9876", "T")
    entries = _split_entries(producer.batch_body(bodies))
    assert [body for _flag, body, _props in entries] == bodies
    assert {flag for flag, _body, _props in entries} == {0}
    keys = [_KEY.fullmatch(props) for _flag, _body, props in entries]
    assert all(keys)
    values = [key.group(1) for key in keys if key]
    assert len(set(values)) == len(bodies)
    assert len({value[:28] for value in values}) <= 2  # prefix and time stamp shared


def test_keys_run_on_across_batches_and_wrap_at_16_bits() -> None:
    producer = RawProducer("127.0.0.1:9876", "T")
    producer._keys._counter = iter(range(65534, 65540))  # type: ignore[assignment]
    first = _split_entries(producer.batch_body([b"a"] * 3))
    second = _split_entries(producer.batch_body([b"a"] * 3))
    tails = [props[-5:-1] for _flag, _body, props in first + second]
    assert tails == [b"FFFE", b"FFFF", b"0000", b"0001", b"0002", b"0003"]


def test_empty_batch_body_is_empty() -> None:
    assert RawProducer("127.0.0.1:9876", "T").batch_body([]) == b""
