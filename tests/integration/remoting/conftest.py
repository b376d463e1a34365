"""Fixtures for the live remoting tests: run a coroutine with a timeout, raw frame sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from rmq_core.remoting.codec import FrameDecoder, encode_frame
from rmq_core.remoting.command import RemotingCommand

T = TypeVar("T")


@pytest.fixture
def arun() -> Callable[..., Any]:
    """``arun(coro, timeout=10)``: run ``coro`` on a fresh event loop, bounded in time."""

    def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run(asyncio.wait_for(coro, timeout))

    return run


class RawPeer:
    """A blocking socket speaking frames, for bytes the real client would never send."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.decoder = FrameDecoder()
        self.pending: list[RemotingCommand] = []

    def send(self, data: bytes | RemotingCommand) -> None:
        self.sock.sendall(encode_frame(data) if isinstance(data, RemotingCommand) else data)

    def recv(self) -> RemotingCommand:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self.pending += self.decoder.feed(data)
        return self.pending.pop(0)

    def closed_by_server(self) -> bool:
        """True when the server closes the socket (within the socket timeout)."""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_peer() -> Any:
    peers: list[RawPeer] = []

    def connect(address: str, timeout: float = 5.0) -> RawPeer:
        peer = RawPeer(address, timeout)
        peers.append(peer)
        return peer

    yield connect
    for peer in peers:
        peer.close()


class ServerThread:
    """A RemotingServer on its own event loop in a background thread (for blocking peers)."""

    def __init__(self, setup: Callable[[Any], None], **server_kwargs: Any) -> None:
        import threading

        from rmq_core.remoting.server import RemotingServer

        self.loop = asyncio.new_event_loop()
        self.server = RemotingServer("127.0.0.1", 0, name="test-server", **server_kwargs)
        setup(self.server)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self.server.start())

    @property
    def address(self) -> str:
        return self.server.address

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run_sync(self, func: Callable[[], T], timeout: float = 10.0) -> T:
        async def wrapper() -> T:
            return func()

        return self.call(wrapper(), timeout)

    def stop(self) -> None:
        self.call(self.server.shutdown(timeout=2.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        self.loop.close()


def _server_threads() -> Any:
    threads: list[ServerThread] = []

    def start(setup: Callable[[Any], None], **server_kwargs: Any) -> ServerThread:
        thread = ServerThread(setup, **server_kwargs)
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.stop()


@pytest.fixture
def server_thread() -> Any:
    """``server_thread(setup, **server_kwargs)`` -> a started ServerThread, stopped after."""
    yield from _server_threads()


@pytest.fixture(scope="module")
def module_server_thread() -> Any:
    """Like ``server_thread`` but the servers live for the whole test module."""
    yield from _server_threads()
