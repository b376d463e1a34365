"""``RemotingClient``: calls to NameServers and brokers by ``"host:port"`` address.

One connection per address, opened on first use; concurrent calls to an address that is still
connecting share that one connection attempt. Requests the server sends on the connection
(CHECK_TRANSACTION_STATE, NOTIFY_CONSUMER_IDS_CHANGED, GET_CONSUMER_RUNNING_INFO, ...) are
answered by processors registered with :meth:`RemotingClient.register_processor`, with the
same rules as on the server (:mod:`rmq_core.remoting.dispatch`).

Errors: connect failures raise :class:`~rmq_core.errors.RemotingConnectError` naming the
address; a call without an answer within its timeout raises
:class:`~rmq_core.errors.RequestTimeoutError` (the connection stays open); every pending call
fails at once with :class:`~rmq_core.errors.RemotingClosedError` when its connection drops,
and the next call to that address reconnects.

Usage::

    client = RemotingClient()
    response = await client.invoke("127.0.0.1:9876", request, timeout=3.0)
    await client.close()
"""

from __future__ import annotations

import asyncio
import logging

from rmq_core.errors import RemotingClosedError, RemotingConnectError, RequestTimeoutError
from rmq_core.remoting.codec import DEFAULT_MAX_FRAME_LENGTH
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.dispatch import Processor, ProcessorPool, RequestDispatcher
from rmq_core.remoting.transport import Connection, ConnectionListener

__all__ = ["RemotingClient", "parse_address"]

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 3.0
"""Seconds to wait for a TCP connection."""


def parse_address(address: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` -> ``(host, port)``; ValueError when malformed."""
    host, sep, port_text = address.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"bad address {address!r}: expected host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"bad address {address!r}: port out of range")
    return host.strip("[]"), port


class RemotingClient:
    """Async remoting client; call :meth:`close` (or use ``async with``) when done."""

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
        name: str = "remoting-client",
        pool: ProcessorPool | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.max_frame_length = max_frame_length
        self.name = name
        self._dispatcher = RequestDispatcher(name, pool or ProcessorPool(f"{name}-pool", 16, 1024))
        self._connections: dict[str, Connection] = {}
        self._connecting: dict[str, asyncio.Task[Connection]] = {}
        self._close_listeners: list[ConnectionListener] = []
        self._closed = False

    # --- configuration ------------------------------------------------------------------------

    def register_processor(
        self, code: int, processor: Processor, pool: ProcessorPool | None = None
    ) -> None:
        """Answer server-initiated requests with ``code`` by ``processor``."""
        self._dispatcher.register_processor(code, processor, pool)

    def register_default_processor(
        self, processor: Processor, pool: ProcessorPool | None = None
    ) -> None:
        """Answer server-initiated requests without a processor of their own."""
        self._dispatcher.register_default_processor(processor, pool)

    def add_close_listener(self, callback: ConnectionListener) -> None:
        """Call ``callback(connection)`` when one of the client's connections closes."""
        self._close_listeners.append(callback)

    # --- calls --------------------------------------------------------------------------------

    async def invoke(
        self, address: str, request: RemotingCommand, timeout: float
    ) -> RemotingCommand:
        """Send ``request`` to ``address`` and return the response; ``timeout`` in seconds
        covers connecting and waiting."""
        conn = self._connections.get(address)
        if conn is not None and not conn.closed and not self._closed:
            return await conn.invoke(request, timeout)  # the usual case: nothing to connect
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = await self.get_connection(address, timeout=min(timeout, self.connect_timeout))
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise RequestTimeoutError(f"connecting to {address} used up the {timeout:.3f}s timeout")
        return await conn.invoke(request, remaining)

    async def invoke_oneway(
        self, address: str, request: RemotingCommand, timeout: float = 3.0
    ) -> None:
        """Send ``request`` to ``address`` without waiting for an answer."""
        conn = await self.get_connection(address, timeout=min(timeout, self.connect_timeout))
        await conn.invoke_oneway(request, timeout)

    async def get_connection(self, address: str, timeout: float | None = None) -> Connection:
        """The open connection to ``address``, connecting (once, shared) if needed."""
        if self._closed:
            raise RemotingClosedError(f"{self.name} is closed")
        conn = self._connections.get(address)
        if conn is not None and not conn.closed:
            return conn
        task = self._connecting.get(address)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._connect(address, timeout or self.connect_timeout)
            )
            self._connecting[address] = task
            task.add_done_callback(lambda done: self._connect_done(address, done))
        return await asyncio.shield(task)

    def close_connection(self, address: str) -> None:
        """Close the connection to ``address`` if open (pending calls fail)."""
        conn = self._connections.pop(address, None)
        if conn is not None:
            conn.close()

    @property
    def addresses(self) -> list[str]:
        """Addresses with an open connection."""
        return [addr for addr, conn in self._connections.items() if not conn.closed]

    async def close(self) -> None:
        """Close every connection and stop the processor pool."""
        self._closed = True
        for task in list(self._connecting.values()):
            task.cancel()
        for conn in list(self._connections.values()):
            conn.close()
        self._connections.clear()
        await self._dispatcher.shutdown()

    async def __aenter__(self) -> RemotingClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- internals ----------------------------------------------------------------------------

    async def _connect(self, address: str, timeout: float) -> Connection:
        try:
            host, port = parse_address(address)
        except ValueError as exc:
            raise RemotingConnectError(str(exc)) from exc
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: self._new_connection(address), host, port),
                timeout,
            )
        except TimeoutError as exc:
            raise RemotingConnectError(
                f"connect to {address} timed out after {timeout:.3f}s"
            ) from exc
        except OSError as exc:
            raise RemotingConnectError(f"connect to {address} failed: {exc}") from exc
        if self._closed:
            conn.close()
            raise RemotingClosedError(f"{self.name} is closed")
        self._connections[address] = conn
        logger.debug("%s: connected to %s", self.name, address)
        return conn

    def _connect_done(self, address: str, task: asyncio.Task[Connection]) -> None:
        if self._connecting.get(address) is task:
            del self._connecting[address]
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have been cancelled

    def _new_connection(self, address: str) -> Connection:
        def closed(conn: Connection) -> None:
            if self._connections.get(address) is conn:
                del self._connections[address]
            for listener in self._close_listeners:
                try:
                    listener(conn)
                except Exception:
                    logger.exception("%s: close listener failed for %s", self.name, address)

        return Connection(
            on_request=self._dispatcher.dispatch,
            on_close=closed,
            max_frame_length=self.max_frame_length,
            pause_reading_on_backpressure=False,
            name=self.name,
        )
