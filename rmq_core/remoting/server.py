"""``RemotingServer``: the asyncio TCP server of the NameServer and the broker.

Usage::

    server = RemotingServer("127.0.0.1", 0, name="namesrv")
    server.register_processor(RequestCode.GET_ROUTEINFO_BY_TOPIC, get_route)
    server.register_processor(RequestCode.SEND_MESSAGE_V2, send, ProcessorPool("send", 1, 10000))
    await server.start()
    ...  # server.address == "127.0.0.1:<port>"
    await server.shutdown()

A processor is ``async def processor(request, connection) -> RemotingCommand | None``; the
dispatch rules (unknown code, SYSTEM_BUSY, SYSTEM_ERROR, oneway) are those of
:mod:`rmq_core.remoting.dispatch`, the per-connection behaviour (coalesced writes, protocol
errors close the offending connection only, back-pressure) that of
:mod:`rmq_core.remoting.transport`.
"""

from __future__ import annotations

import asyncio
import logging

from rmq_core.remoting.codec import DEFAULT_MAX_FRAME_LENGTH
from rmq_core.remoting.dispatch import Processor, ProcessorPool, RequestDispatcher
from rmq_core.remoting.transport import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_WRITE_BUFFER_HIGH,
    DEFAULT_WRITE_BUFFER_LOW,
    Connection,
    ConnectionListener,
)

__all__ = [
    "DEFAULT_POOL_MAX_CONCURRENCY",
    "DEFAULT_POOL_MAX_PENDING",
    "Processor",
    "ProcessorPool",
    "RemotingServer",
]

logger = logging.getLogger(__name__)

DEFAULT_POOL_MAX_CONCURRENCY = 64
"""Processor tasks the default pool runs at once."""
DEFAULT_POOL_MAX_PENDING = 10_000
"""Requests the default pool queues before answering SYSTEM_BUSY."""

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


class RemotingServer:
    """Listens on ``host:port`` (port 0 = any free port; see :attr:`port` after start)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
        name: str = "remoting",
        default_pool: ProcessorPool | None = None,
        write_buffer_high: int = DEFAULT_WRITE_BUFFER_HIGH,
        write_buffer_low: int = DEFAULT_WRITE_BUFFER_LOW,
        max_in_flight_per_connection: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.host = host
        self.name = name
        self.max_frame_length = max_frame_length
        self._requested_port = port
        self._port = 0
        self._write_buffer = (write_buffer_high, write_buffer_low)
        self._max_in_flight = max_in_flight_per_connection
        pool = default_pool or ProcessorPool(
            f"{name}-default", DEFAULT_POOL_MAX_CONCURRENCY, DEFAULT_POOL_MAX_PENDING
        )
        self._dispatcher = RequestDispatcher(name, pool)
        self._connections: set[Connection] = set()
        self._connect_listeners: list[ConnectionListener] = []
        self._close_listeners: list[ConnectionListener] = []
        self._server: asyncio.Server | None = None

    # --- configuration ------------------------------------------------------------------------

    def register_processor(
        self, code: int, processor: Processor, pool: ProcessorPool | None = None
    ) -> None:
        """Serve requests with ``code`` by ``processor`` in ``pool`` (default pool if None)."""
        self._dispatcher.register_processor(code, processor, pool)

    def register_default_processor(
        self, processor: Processor, pool: ProcessorPool | None = None
    ) -> None:
        """Serve every code that has no processor of its own."""
        self._dispatcher.register_default_processor(processor, pool)

    def add_connect_listener(self, callback: ConnectionListener) -> None:
        """Call ``callback(connection)`` for every accepted connection."""
        self._connect_listeners.append(callback)

    def add_close_listener(self, callback: ConnectionListener) -> None:
        """Call ``callback(connection)`` when a connection closes (either side)."""
        self._close_listeners.append(callback)

    # --- state --------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (valid after :meth:`start`)."""
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` to reach this server; ``127.0.0.1`` for wildcard binds."""
        host = "127.0.0.1" if self.host in _WILDCARD_HOSTS else self.host
        return f"{host}:{self._port}"

    @property
    def connections(self) -> list[Connection]:
        """The open connections."""
        return [conn for conn in self._connections if not conn.closed]

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start accepting connections."""
        if self._server is not None:
            raise RuntimeError(f"{self.name}: server already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection, self.host, self._requested_port, reuse_address=True, backlog=1024
        )
        self._port = self._server.sockets[0].getsockname()[1]
        logger.info("%s: listening on %s:%d", self.name, self.host, self._port)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection, stop the processor pools.

        Waits at most about ``timeout`` s for running processors.
        """
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._connections):
            conn.close()
        await self._dispatcher.shutdown(timeout)
        if server is not None:
            try:
                await asyncio.wait_for(server.wait_closed(), timeout)
            except TimeoutError:
                logger.warning("%s: server did not close within %.1fs", self.name, timeout)
        logger.info("%s: shut down", self.name)

    async def __aenter__(self) -> RemotingServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # --- internals ----------------------------------------------------------------------------

    def _new_connection(self) -> Connection:
        high, low = self._write_buffer
        return Connection(
            on_request=self._dispatcher.dispatch,
            on_open=self._opened,
            on_close=self._closed,
            max_frame_length=self.max_frame_length,
            pause_reading_on_backpressure=True,
            write_buffer_high=high,
            write_buffer_low=low,
            max_in_flight=self._max_in_flight,
            name=self.name,
        )

    def _opened(self, conn: Connection) -> None:
        self._connections.add(conn)
        for listener in self._connect_listeners:
            _call(listener, conn, self.name)

    def _closed(self, conn: Connection) -> None:
        self._connections.discard(conn)
        for listener in self._close_listeners:
            _call(listener, conn, self.name)


def _call(listener: ConnectionListener, conn: Connection, name: str) -> None:
    try:
        listener(conn)
    except Exception:
        logger.exception("%s: connection listener failed for %s", name, conn.remote_address)
