"""One TCP connection of the remoting protocol, on :class:`asyncio.Protocol` (not streams).

Both ends of a connection may send requests (reference §1.7), so a :class:`Connection` is the
same object on the server and the client side:

- incoming bytes go through a :class:`~rmq_core.remoting.codec.FrameDecoder`; responses are
  matched to pending :meth:`Connection.invoke` calls by opaque, requests are handed to the
  owner's ``on_request`` callback (a :class:`~rmq_core.remoting.dispatch.RequestDispatcher`);
- outgoing frames produced during one loop iteration are joined into a single
  ``transport.write`` (write coalescing). Responses produced while ``data_received`` runs
  (processors that answer without suspending, see :mod:`~rmq_core.remoting.dispatch`) are
  written together when it returns, one write per read (or per cap, below); a request sent
  while no other call is pending on the connection is written at once (there is nothing to
  coalesce it with, and waiting for the next loop iteration would only add latency).
  Coalescing stops at :data:`COALESCE_MAX_PARTS` queued parts or :data:`COALESCE_MAX_BYTES`:
  what is queued then is written at once (always after a whole frame), so the peer works on
  it while this side produces the rest;
- a protocol error (garbage, frame over the limit, bad header) is logged once and the
  connection closed; every pending call then fails at once with
  :class:`~rmq_core.errors.RemotingClosedError`;
- back-pressure: at most ``max_in_flight`` requests of one connection are being processed at
  once (a request counts until its processor returns, so long-polling pulls that the broker
  parks do not count); further requests wait in a small per-connection queue, and reading
  pauses when that queue reaches ``max_in_flight`` entries. When the transport's write buffer
  passes ``write_buffer_high`` bytes the transport calls ``pause_writing``: callers of
  :meth:`Connection.invoke` then wait for ``resume_writing`` (within their timeout) and a
  server-side connection stops dispatching and reading requests from that peer, so a client
  that does not read its responses cannot make the server buffer without bound (the bound is
  about ``write_buffer_high + max_in_flight * response size``). A client-side connection keeps
  reading while its writes are paused (its responses are what frees the peer), which rules out
  a read/write deadlock between two rmq peers.

The owner's ``on_request(request, connection)`` must call :meth:`Connection.request_finished`
exactly once when it is done with the request (the dispatcher does).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import Callable
from typing import Any, cast

from rmq_core.errors import RemoteProtocolError, RemotingClosedError, RequestTimeoutError
from rmq_core.remoting.codec import (
    DEFAULT_MAX_FRAME_LENGTH,
    FrameDecoder,
    encode_frame,
    encode_frame_head,
)
from rmq_core.remoting.codes import SerializeType
from rmq_core.remoting.command import FLAG_ONEWAY, FLAG_RESPONSE, RemotingCommand

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_WRITE_BUFFER_HIGH",
    "DEFAULT_WRITE_BUFFER_LOW",
    "Connection",
    "next_opaque",
]

logger = logging.getLogger(__name__)

DEFAULT_WRITE_BUFFER_HIGH = 4 * 1024 * 1024
"""Transport write-buffer size in bytes above which writing pauses."""
DEFAULT_WRITE_BUFFER_LOW = 1024 * 1024
"""Write-buffer size in bytes below which writing resumes."""
DEFAULT_MAX_IN_FLIGHT = 256
"""Requests of one connection processed at once before further ones are held back."""
CLOSE_GRACE = 5.0
"""Seconds a closing connection may spend flushing before it is aborted."""
COALESCE_MAX_PARTS = 16
"""Queued parts (each bytes object queued is one: a whole frame, or a response's head, or its
body) at which the outbox is written at once, after the frame that reached it, instead of at
the end of the loop iteration or read. Without a cap, 64 concurrent
one-message senders moved in lock step: the client wrote all 64 requests after its last task
ran, the broker answered all 64 after its last one, and each process idled while the other
worked (8.1-8.7k msg/s); written in parts of 16, the two overlap (13.9-14.7k msg/s)."""
COALESCE_MAX_BYTES = 64 * 1024
"""Queued bytes at which the outbox is written at once (see :data:`COALESCE_MAX_PARTS`): a
large frame (a batch request, a pull answer's records) leaves without being copied into a
join with the frames after it (consume 279-296k -> 344-366k msg/s in ``rmq bench compare``)."""

_opaques = itertools.count()


def next_opaque() -> int:
    """The next request id, process-wide, wrapping within the positive int32 range."""
    return next(_opaques) & 0x7FFFFFFF


RequestHandler = Callable[[RemotingCommand, "Connection"], None]
ConnectionListener = Callable[["Connection"], None]


class Connection(asyncio.Protocol):
    """A live remoting connection; hashable by identity.

    ``attributes`` is free for the owner (client id, language, ...). ``remote_address`` is
    ``"ip:port"`` of the peer, valid once connected.
    """

    def __init__(
        self,
        *,
        on_request: RequestHandler,
        on_open: ConnectionListener | None = None,
        on_close: ConnectionListener | None = None,
        max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
        pause_reading_on_backpressure: bool = True,
        write_buffer_high: int = DEFAULT_WRITE_BUFFER_HIGH,
        write_buffer_low: int = DEFAULT_WRITE_BUFFER_LOW,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        name: str = "remoting",
    ) -> None:
        self.name = name
        self.remote_address = ""
        self.local_address = ""
        self.attributes: dict[str, Any] = {}
        self._on_request = on_request
        self._on_open = on_open
        self._on_close = on_close
        self._decoder = FrameDecoder(max_frame_length)
        self._pause_reading = pause_reading_on_backpressure
        self._buffer_limits = (write_buffer_high, write_buffer_low)
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, asyncio.Future[RemotingCommand]] = {}
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._flush_handle: asyncio.Handle | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._closing = False
        self._lost = False
        self._max_in_flight = max(1, max_in_flight)
        self._in_flight = 0
        self._held: collections.deque[RemotingCommand] = collections.deque()
        self._reading = True
        self._receiving = False  # inside data_received: its answers are written when it ends
        self._releasing = False  # inside _release_held: nested calls leave the work to it

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Connection {self.name} {self.remote_address or '?'} {state}>"

    # --- public API ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called or the peer went away."""
        return self._closing or self._lost

    @property
    def pending_calls(self) -> int:
        """Requests sent on this connection still waiting for their response."""
        return len(self._pending)

    async def invoke(self, request: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``request`` (its opaque is assigned here) and wait up to ``timeout`` s.

        Raises :class:`RequestTimeoutError` when no response arrives in time and
        :class:`RemotingClosedError` when the connection is or becomes closed.
        """
        loop = self._require_open()
        request.opaque = next_opaque()
        request.flag &= ~(FLAG_RESPONSE | FLAG_ONEWAY)
        frame = encode_frame(request)
        deadline = loop.time() + timeout
        future: asyncio.Future[RemotingCommand] = loop.create_future()
        self._pending[request.opaque] = future
        timer = loop.call_at(deadline, self._expire, request, timeout)
        try:
            if not self._writable.is_set():
                await self._wait_writable(deadline, request, timeout)
            self._send_request(frame)
            return await future
        finally:
            timer.cancel()
            self._pending.pop(request.opaque, None)
            if future.done() and not future.cancelled():
                future.exception()  # mark retrieved when another error won the race

    async def invoke_oneway(self, request: RemotingCommand, timeout: float = 3.0) -> None:
        """Send ``request`` with the ONEWAY flag; no response is expected.

        Waits at most ``timeout`` s for room in the write buffer (then RequestTimeoutError).
        """
        loop = self._require_open()
        request.opaque = next_opaque()
        request.flag = (request.flag | FLAG_ONEWAY) & ~FLAG_RESPONSE
        frame = encode_frame(request)
        if not self._writable.is_set():
            await self._wait_writable(loop.time() + timeout, request, timeout)
        self._enqueue(frame)

    def send_response(self, response: RemotingCommand) -> None:
        """Queue ``response`` for the next coalesced write (written at once when the outbox
        reaches its cap, see :data:`COALESCE_MAX_PARTS`); dropped if the connection closed.

        Responses are always written with a JSON header (ali-ons reads the header length
        without masking the serialize-type byte). The frame's head and the body are queued as
        two parts, so a body (a pull answer's records) is copied once, by the write's join.
        """
        response.serialize_type = SerializeType.JSON
        if self.closed:
            logger.debug(
                "%s: dropping response %d to closed %s",
                self.name,
                response.opaque,
                self.remote_address,
            )
            return
        body = response.body
        if body:
            self._enqueue(encode_frame_head(response), body)
        else:
            self._enqueue(encode_frame_head(response))

    def close(self) -> None:
        """Flush queued frames and close; pending calls fail at once."""
        if self._closing or self._lost:
            return
        self._closing = True
        self._fail_pending(f"connection to {self.remote_address} closed")
        transport = self._transport
        if transport is None:
            return
        self._flush()
        transport.close()
        if self._loop is not None:
            self._loop.call_later(CLOSE_GRACE, self._abort_if_stuck)

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's does not derive from asyncio.Transport, so no isinstance.
        stream = self._transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        self.remote_address = _format_address(stream.get_extra_info("peername"))
        self.local_address = _format_address(stream.get_extra_info("sockname"))
        high, low = self._buffer_limits
        stream.set_write_buffer_limits(high=high, low=low)
        logger.debug("%s: connection from %s", self.name, self.remote_address)
        if self._on_open is not None:
            _notify(self._on_open, self)

    def data_received(self, data: bytes) -> None:
        if self._lost:
            return
        try:
            commands = self._decoder.feed(data)
        except RemoteProtocolError as exc:
            logger.warning("%s: closing connection %s: %s", self.name, self.remote_address, exc)
            self.close()
            return
        self._receiving = True
        try:
            for cmd in commands:
                if cmd.flag & FLAG_RESPONSE:
                    self._complete(cmd)
                elif self._held or not self._may_dispatch():
                    self._held.append(cmd)
                else:
                    self._dispatch(cmd)
        finally:
            self._receiving = False
            if self._outbox:  # the answers queued during this read, even if a step raised
                self._flush_now()
        if self._held:
            self._update_reading()

    def eof_received(self) -> bool | None:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._outbox.clear()
        self._outbox_bytes = 0
        self._held.clear()
        self._writable.set()  # wake writers; they see the closed connection
        self._fail_pending(f"connection to {self.remote_address} closed")
        logger.debug("%s: connection %s lost (%s)", self.name, self.remote_address, exc)
        if self._on_close is not None:
            _notify(self._on_close, self)

    def pause_writing(self) -> None:
        self._writable.clear()
        self._update_reading()

    def resume_writing(self) -> None:
        self._writable.set()
        self._release_held()

    def request_finished(self) -> None:
        """The owner is done processing one request: let a held request through."""
        self._in_flight -= 1
        if self._held:
            self._release_held()

    @property
    def reading(self) -> bool:
        """False while reading from the peer is paused by back-pressure."""
        return self._reading

    # --- internals ----------------------------------------------------------------------------

    def _may_dispatch(self) -> bool:
        if self._closing or self._lost or self._in_flight >= self._max_in_flight:
            return False
        if not self._pause_reading:
            return True
        # Server side: no new work while the queued output already reaches the high mark.
        if not self._writable.is_set() or self._transport is None:
            return False
        queued = self._outbox_bytes + self._transport.get_write_buffer_size()
        return queued <= self._buffer_limits[0]

    def _dispatch(self, request: RemotingCommand) -> None:
        self._in_flight += 1
        try:
            self._on_request(request, self)
        except Exception:
            self._in_flight -= 1
            logger.exception("%s: request handler failed", self.name)

    def _release_held(self) -> None:
        if self._releasing:  # a request that finished inline, called from the loop below
            return
        self._releasing = True
        try:
            while self._held and self._may_dispatch():
                self._dispatch(self._held.popleft())
        finally:
            self._releasing = False
        if self._closing or self._lost:
            self._held.clear()
        self._update_reading()

    def _update_reading(self) -> None:
        """Read only while held requests are few and (server side) writes are not paused."""
        transport = self._transport
        if transport is None or self._lost or self._closing:
            return
        blocked = len(self._held) >= self._max_in_flight or (
            self._pause_reading and not self._writable.is_set()
        )
        if blocked and self._reading:
            self._reading = False
            transport.pause_reading()
        elif not blocked and not self._reading:
            self._reading = True
            transport.resume_reading()

    def _require_open(self) -> asyncio.AbstractEventLoop:
        if self.closed or self._loop is None:
            raise RemotingClosedError(f"connection to {self.remote_address} is closed")
        return self._loop

    def _enqueue(self, *parts: bytes) -> None:
        """Queue one frame (its ``parts``: the whole frame, or a head and its body) for the
        next coalesced write, or write the outbox at once when this frame brings it to the cap.

        Invariant: the parts of one frame are queued by one call, so the cap (which may write
        the outbox and then let held requests through, whose answers are queued after it) is
        checked only between whole frames; the byte stream never has another frame inside one.
        """
        if self.closed:
            raise RemotingClosedError(f"connection to {self.remote_address} is closed")
        outbox = self._outbox
        outbox.extend(parts)
        self._outbox_bytes += sum(map(len, parts))
        if (
            len(outbox) >= COALESCE_MAX_PARTS or self._outbox_bytes >= COALESCE_MAX_BYTES
        ) and self._transport is not None:
            self._flush_now()  # the peer starts on these while we produce the rest
            return
        if self._flush_handle is None and not self._receiving and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _send_request(self, frame: bytes) -> None:
        """Queue a request frame, or write it at once when it is the connection's only
        pending call and nothing is queued (nothing to coalesce it with)."""
        transport = self._transport
        if len(self._pending) == 1 and not self._outbox and transport is not None:
            if self.closed:
                raise RemotingClosedError(f"connection to {self.remote_address} is closed")
            transport.write(frame)
        else:
            self._enqueue(frame)

    def _flush_now(self) -> None:
        """Write the outbox now (end of a read, or the cap reached), dropping a scheduled
        flush."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()

    def _flush(self) -> None:
        self._flush_handle = None
        if not self._outbox or self._transport is None or self._lost:
            self._outbox.clear()
            self._outbox_bytes = 0
            return
        data = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
        self._outbox.clear()
        self._outbox_bytes = 0
        self._transport.write(data)
        if self._held and self._writable.is_set():
            self._release_held()  # held back by the outbox size, which is now written

    async def _wait_writable(
        self, deadline: float, request: RemotingCommand, timeout: float
    ) -> None:
        assert self._loop is not None
        try:
            await asyncio.wait_for(self._writable.wait(), max(0.0, deadline - self._loop.time()))
        except TimeoutError:
            raise RequestTimeoutError(
                f"send to {self.remote_address} blocked for {timeout:.3f}s by a full write "
                f"buffer (code {request.code})"
            ) from None
        if self.closed:
            raise RemotingClosedError(f"connection to {self.remote_address} closed")

    def _complete(self, response: RemotingCommand) -> None:
        future = self._pending.pop(response.opaque, None)
        if future is None or future.done():
            logger.debug(
                "%s: response for unknown opaque %d from %s",
                self.name,
                response.opaque,
                self.remote_address,
            )
            return
        future.set_result(response)

    def _expire(self, request: RemotingCommand, timeout: float) -> None:
        future = self._pending.pop(request.opaque, None)
        if future is not None and not future.done():
            future.set_exception(
                RequestTimeoutError(
                    f"wait response from {self.remote_address} timed out after {timeout:.3f}s "
                    f"(code {request.code}, opaque {request.opaque})"
                )
            )

    def _fail_pending(self, message: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(RemotingClosedError(message))

    def _abort_if_stuck(self) -> None:
        if not self._lost and self._transport is not None:
            logger.warning("%s: aborting %s: close did not finish", self.name, self.remote_address)
            self._transport.abort()


def _format_address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address) if address else ""


def _notify(listener: ConnectionListener, connection: Connection) -> None:
    try:
        listener(connection)
    except Exception:
        logger.exception("%s: connection listener failed", connection.name)
