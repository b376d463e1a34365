"""Pull bodies: records decode like ``decode_records``; big compressed bodies inflate off-loop."""

from __future__ import annotations

import asyncio
import os
import zlib
from typing import Any

import pytest

from rmq_core.client import api
from rmq_core.common.message import MessageExt, MessageSysFlag
from rmq_core.common.message_codec import MessageFormatError, decode_records, encode_record

ZLIB = MessageSysFlag.COMPRESSED_FLAG | (MessageSysFlag.COMPRESSION_ZLIB << 8)


def record(body: bytes, *, compressed: bool, offset: int = 0) -> bytes:
    msg = MessageExt(
        topic="TopicTest",
        body=zlib.compress(body) if compressed else body,
        properties={"TAGS": "A"},
        queue_offset=offset,
        sys_flag=ZLIB if compressed else 0,
        born_host="127.0.0.1:1",
        store_host="127.0.0.1:2",
    )
    return encode_record(msg)


def decode(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[list[MessageExt], int]:
    calls = 0
    real = asyncio.to_thread

    async def spy(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    messages = asyncio.run(api.decode_pulled(body))
    return messages, calls


def test_small_compressed_bodies_inflate_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    body = record(b"plain", compressed=False) + record(b"z" * 9000, compressed=True, offset=1)
    messages, threaded = decode(body, monkeypatch)
    assert threaded == 0
    assert [m.body for m in messages] == [b"plain", b"z" * 9000]
    assert [m.body for m in messages] == [m.body for m in decode_records(body)]
    assert messages[1].sys_flag == ZLIB


def test_big_compressed_bodies_inflate_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    big = os.urandom(300 * 1024)  # does not deflate: the compressed size stays over 256 KiB
    body = record(big, compressed=True) + record(b"tail", compressed=False, offset=1)
    messages, threaded = decode(body, monkeypatch)
    assert threaded == 1
    assert [m.body for m in messages] == [big, b"tail"]


def test_bodies_that_do_not_inflate_are_format_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    msg = MessageExt(
        topic="TopicTest",
        body=b"not zlib at all",
        sys_flag=ZLIB,
        born_host="127.0.0.1:1",
        store_host="127.0.0.1:2",
    )
    with pytest.raises(MessageFormatError, match="does not inflate"):
        decode(encode_record(msg), monkeypatch)
