"""A live server fed bad bytes by raw sockets keeps serving everyone else; slow readers."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codec import FrameDecoder, encode_frame
from rmq_core.remoting.codes import ResponseCode, SerializeType
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import GetRouteInfoRequestHeader
from rmq_core.remoting.server import RemotingServer
from rmq_core.remoting.transport import Connection

ECHO, HEADER, BIG = 1001, 1004, 1006


async def echo(request: RemotingCommand, conn: Connection) -> RemotingCommand:
    return request.response(ResponseCode.SUCCESS, body=request.body)


async def needs_header(request: RemotingCommand, conn: Connection) -> RemotingCommand:
    header = request.decode_header(GetRouteInfoRequestHeader)
    return request.response(ResponseCode.SUCCESS, remark=header.topic)


def setup(server: RemotingServer) -> None:
    server.register_processor(ECHO, echo)
    server.register_processor(HEADER, needs_header)


def assert_serves(peer: Any) -> None:
    request = RemotingCommand.request(ECHO, body=b"still here")
    request.opaque = 77
    peer.send(request)
    response = peer.recv()
    assert (response.code, response.opaque, response.body) == (0, 77, b"still here")


def test_bad_frames_close_only_the_offending_connection(server_thread: Any, raw_peer: Any) -> None:
    srv = server_thread(setup, max_frame_length=64 * 1024)
    good = raw_peer(srv.address)
    bad_inputs = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # garbage: length far over the limit
        struct.pack(">i", 64 * 1024 + 1),  # over the limit, no body sent at all
        struct.pack(">iI", 6, (9 << 24) | 2) + b"{}",  # unknown serialize type
        struct.pack(">iI", 8, 4) + b"{bad",  # malformed JSON header
        struct.pack(">iI", 4 + 3, (1 << 24) | 3) + b"\0\0\0",  # truncated ROCKETMQ header
        struct.pack(">iI", 2, 0),  # length below minimum
    ]
    for data in bad_inputs:
        bad = raw_peer(srv.address, timeout=3.0)
        bad.send(data)
        assert bad.closed_by_server(), data
        assert_serves(good)


def test_missing_header_field_gets_error_response(server_thread: Any, raw_peer: Any) -> None:
    srv = server_thread(setup)
    peer = raw_peer(srv.address)
    for serialize_type in SerializeType:
        request = RemotingCommand.request(HEADER, ext_fields={"other": "x"})
        request.serialize_type = serialize_type
        request.opaque = 5
        peer.send(request)
        response = peer.recv()
        assert response.code == ResponseCode.SYSTEM_ERROR
        assert response.opaque == 5
        assert response.remark is not None and "'topic'" in response.remark
    assert_serves(peer)


def test_response_header_is_json_even_for_rocketmq_requests(
    server_thread: Any, raw_peer: Any
) -> None:
    srv = server_thread(setup)
    peer = raw_peer(srv.address)
    request = RemotingCommand.request(ECHO)
    request.serialize_type = SerializeType.ROCKETMQ
    peer.send(request)
    head = b""
    while len(head) < 8:
        head += peer.sock.recv(8 - len(head))
    length, info = struct.unpack(">iI", head)
    assert info >> 24 == 0  # a reader that does not mask the type byte still gets the length
    assert 0 < info < length


@pytest.fixture(scope="module")
def fuzz_server(module_server_thread: Any) -> Any:
    """One server for every Hypothesis example (with a small frame limit)."""
    return module_server_thread(setup, max_frame_length=64 * 1024)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.lists(
            st.binary(min_size=1, max_size=300)
            | st.builds(
                lambda code, body: encode_frame(RemotingCommand.request(code, body=body)),
                st.integers(0, 2000),
                st.binary(max_size=50),
            ),
            min_size=1,
            max_size=4,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_random_bytes_on_several_connections(
    fuzz_server: Any, raw_peer: Any, connections: list[list[bytes]]
) -> None:
    srv = fuzz_server
    socks = []
    for chunks in connections:
        sock = socket.create_connection(srv.address.rsplit(":", 1), timeout=2.0)
        socks.append(sock)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break
    for sock in socks:
        sock.close()
    peer = raw_peer(srv.address)
    assert_serves(peer)
    peer.close()


def test_server_still_serves_a_real_client_after_fuzzing(server_thread: Any) -> None:
    srv = server_thread(setup)
    for _ in range(20):
        sock = socket.create_connection(srv.address.rsplit(":", 1), timeout=2.0)
        sock.sendall(bytes(range(256)) * 4)
        sock.close()

    async def call() -> list[int]:
        async with RemotingClient() as client:
            responses = await asyncio.gather(
                *[client.invoke(srv.address, RemotingCommand.request(ECHO), 3) for _ in range(10)]
            )
        return [r.code for r in responses]

    assert asyncio.run(asyncio.wait_for(call(), 10)) == [0] * 10


def test_slow_reader_pauses_the_connection(server_thread: Any) -> None:
    processed = 0
    response_body = b"r" * 16 * 1024
    high, in_flight = 128 * 1024, 16

    async def big(request: RemotingCommand, conn: Connection) -> RemotingCommand:
        nonlocal processed
        processed += 1
        return request.response(ResponseCode.SUCCESS, body=response_body)

    srv = server_thread(
        lambda server: server.register_processor(BIG, big),
        write_buffer_high=high,
        write_buffer_low=high // 4,
        max_in_flight_per_connection=in_flight,
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    host, port = srv.address.rsplit(":", 1)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    total = 2000
    pending = encode_frame(RemotingCommand.request(BIG)) * total

    def send_some() -> None:
        nonlocal pending
        try:
            pending = pending[sock.send(pending[:65536]) :]
        except BlockingIOError:
            time.sleep(0.005)

    deadline = time.monotonic() + 1.0
    while pending and time.monotonic() < deadline:
        send_some()
    time.sleep(0.3)
    before = processed
    time.sleep(0.3)
    assert processed == before < total  # processing stopped: nobody reads the responses
    [conn] = srv.run_sync(lambda: srv.server.connections)
    assert not srv.run_sync(lambda: conn.reading)
    buffered = srv.run_sync(lambda: conn._transport.get_write_buffer_size())
    assert buffered <= high + in_flight * (len(response_body) + 200)

    # The reader catches up: every request gets its response.
    decoder = FrameDecoder()
    received = 0
    deadline = time.monotonic() + 15.0
    while received < total and time.monotonic() < deadline:
        if pending:
            send_some()
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            time.sleep(0.001)
            continue
        assert data, "closed by the server"
        received += len(decoder.feed(data))
    assert received == total
    sock.close()
