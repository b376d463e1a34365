"""Helpers shared by the broker's processors."""

from __future__ import annotations

import json
import sys
from abc import ABC, abstractmethod
from typing import Any

from rmq_core.broker.context import BrokerContext
from rmq_core.remoting import fastjson
from rmq_core.remoting.codes import ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.transport import Connection

__all__ = [
    "BrokerProcessor",
    "decode_json_body",
    "drain_records",
    "json_body",
    "standard_json_body",
]


class BrokerProcessor(ABC):
    """Base class: keeps the context; subclasses implement :meth:`process`."""

    codes: tuple[int, ...] = ()

    def __init__(self, ctx: BrokerContext) -> None:
        self.ctx = ctx

    async def __call__(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand | None:
        return await self.process(request, connection)

    @abstractmethod
    async def process(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand | None:
        """Answer ``request`` (None: no answer now)."""

    @staticmethod
    def fail(request: RemotingCommand, code: int, remark: str) -> RemotingCommand:
        """An error response with ``remark``."""
        return request.response(code, remark)

    @staticmethod
    def ok(request: RemotingCommand, body: bytes = b"") -> RemotingCommand:
        """A SUCCESS response with ``body``."""
        return request.response(ResponseCode.SUCCESS, None, body=body)


def json_body(obj: Any) -> bytes:
    """A fastjson-style body (bare non-string keys, as a Java broker writes them)."""
    return fastjson.dumps(obj)


def standard_json_body(obj: Any) -> bytes:
    """A strictly standard JSON body (keys sorted, compact)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def decode_json_body(body: bytes) -> Any:
    """Parse a JSON request body leniently; raises a RemoteProtocolError subclass."""
    return fastjson.loads(body)


_FREED_AT_ONCE = sys.implementation.name == "cpython"
"""True where an object is freed as soon as its last reference goes (CPython's refcounting)."""


def drain_records(records: list[Any]) -> bytes:
    """Concatenate stored records (bytes or views into a commit-log segment); the list is
    emptied and the views are released, so the segment's mmap can be closed.

    The list must hold the views' only references. On CPython emptying it frees each view at
    once, which releases it: no per-record ``release`` call and type check (2.9-3.0 -> 1.5 us
    per 32-record pull). A runtime that frees objects later (PyPy's GC) would keep the segment
    pinned until a collection, so there each view is released explicitly.
    """
    body = b"".join(records)
    if not _FREED_AT_ONCE:
        for record in records:
            if isinstance(record, memoryview):
                record.release()
    records.clear()
    return body
