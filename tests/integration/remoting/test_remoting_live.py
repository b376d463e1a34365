"""RemotingServer and RemotingClient talking over 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from rmq_core.errors import RemotingClosedError, RemotingConnectError, RequestTimeoutError
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import ResponseCode, SerializeType
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import GetRouteInfoRequestHeader
from rmq_core.remoting.server import ProcessorPool, RemotingServer
from rmq_core.remoting.transport import Connection

ECHO, FAIL, SLOW, HEADER, BLOCK = 1001, 1002, 1003, 1004, 1005

Run = Callable[..., Any]


async def echo(request: RemotingCommand, conn: Connection) -> RemotingCommand:
    return request.response(
        ResponseCode.SUCCESS, remark="echo", body=request.body, ext_fields=dict(request.ext_fields)
    )


async def fail(request: RemotingCommand, conn: Connection) -> RemotingCommand:
    raise RuntimeError("disk on fire")


async def slow(request: RemotingCommand, conn: Connection) -> RemotingCommand:
    await asyncio.sleep(float(request.ext_fields.get("sleep", "5")))
    return request.response(ResponseCode.SUCCESS)


async def needs_header(request: RemotingCommand, conn: Connection) -> RemotingCommand:
    header = request.decode_header(GetRouteInfoRequestHeader)
    return request.response(ResponseCode.SUCCESS, remark=header.topic)


async def started_server(**kwargs: Any) -> RemotingServer:
    server = RemotingServer("127.0.0.1", 0, name="test", **kwargs)
    server.register_processor(ECHO, echo)
    server.register_processor(FAIL, fail)
    server.register_processor(SLOW, slow)
    server.register_processor(HEADER, needs_header)
    await server.start()
    return server


def test_request_response(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        assert server.port > 0
        assert server.address == f"127.0.0.1:{server.port}"
        async with RemotingClient() as client:
            for serialize_type in SerializeType:
                request = RemotingCommand.request(ECHO, body=b"\x00payload", ext_fields={"k": "v"})
                request.serialize_type = serialize_type
                response = await client.invoke(server.address, request, timeout=3)
                assert response.code == ResponseCode.SUCCESS
                assert response.is_response
                assert response.opaque == request.opaque
                assert response.body == b"\x00payload"
                assert response.ext_fields == {"k": "v"}
                assert response.serialize_type == SerializeType.JSON  # always JSON
        await server.shutdown()

    arun(scenario())


def test_unknown_code(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        async with RemotingClient() as client:
            response = await client.invoke(server.address, RemotingCommand.request(4242), 3)
        assert response.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
        assert response.remark == " request type 4242 not supported"
        await server.shutdown()

    arun(scenario())


def test_default_processor(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        server.register_default_processor(echo)
        async with RemotingClient() as client:
            response = await client.invoke(server.address, RemotingCommand.request(4242), 3)
        assert response.code == ResponseCode.SUCCESS
        await server.shutdown()

    arun(scenario())


def test_processor_exception_is_system_error_logged_once(
    arun: Run, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        server = await started_server()
        async with RemotingClient() as client:
            response = await client.invoke(server.address, RemotingCommand.request(FAIL), 3)
            assert response.code == ResponseCode.SYSTEM_ERROR
            assert response.remark is not None and "disk on fire" in response.remark
            ok = await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
            assert ok.code == ResponseCode.SUCCESS
        await server.shutdown()

    with caplog.at_level(logging.WARNING, logger="rmq_core.remoting"):
        arun(scenario())
    records = [r for r in caplog.records if "disk on fire" in str(r.exc_info) or "disk" in r.msg]
    assert len(records) == 1


def test_missing_header_field_answers_system_error_naming_it(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        async with RemotingClient() as client:
            bad = await client.invoke(server.address, RemotingCommand.request(HEADER), 3)
            good = await client.invoke(
                server.address, RemotingCommand.request(HEADER, ext_fields={"topic": "T"}), 3
            )
        assert bad.code == ResponseCode.SYSTEM_ERROR
        assert bad.remark is not None and "'topic'" in bad.remark
        assert (good.code, good.remark) == (ResponseCode.SUCCESS, "T")
        await server.shutdown()

    arun(scenario())


def test_oneway_gets_no_answer(arun: Run) -> None:
    async def scenario() -> None:
        received: list[RemotingCommand] = []

        async def record(request: RemotingCommand, conn: Connection) -> RemotingCommand:
            received.append(request)
            return request.response(ResponseCode.SUCCESS)

        server = await started_server()
        server.register_processor(2001, record)
        async with RemotingClient() as client:
            await client.invoke_oneway(server.address, RemotingCommand.request(2001))
            await client.invoke_oneway(server.address, RemotingCommand.request(4242))
            # The connection sees no response for the oneway calls: the next call's response
            # is the only frame, and nothing is left unmatched.
            response = await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
            assert response.code == ResponseCode.SUCCESS
            conn = await client.get_connection(server.address)
            assert conn.pending_calls == 0
        assert len(received) == 1 and received[0].is_oneway
        await server.shutdown()

    arun(scenario())


def test_system_busy_when_pool_full(arun: Run) -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def block(request: RemotingCommand, conn: Connection) -> RemotingCommand:
            await release.wait()
            return request.response(ResponseCode.SUCCESS)

        server = await started_server()
        server.register_processor(BLOCK, block, ProcessorPool("tiny", 1, 1))
        async with RemotingClient() as client:
            calls = [
                asyncio.create_task(
                    client.invoke(server.address, RemotingCommand.request(BLOCK), 3)
                )
                for _ in range(4)
            ]
            done, _ = await asyncio.wait(calls, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.sleep(0.1)
            busy = [t.result() for t in calls if t.done()]
            assert len(busy) == 2  # one running, one queued, two refused at once
            assert all(r.code == ResponseCode.SYSTEM_BUSY for r in busy)
            assert all(r.remark and "system busy" in r.remark for r in busy)
            release.set()
            rest = await asyncio.gather(*[t for t in calls if t not in done and not t.done()])
            assert [r.code for r in rest] == [ResponseCode.SUCCESS] * 2
        await server.shutdown()

    arun(scenario())


def test_server_initiated_request_answered_by_client_processor(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        seen: list[int] = []

        async def running_info(request: RemotingCommand, conn: Connection) -> RemotingCommand:
            seen.append(request.code)
            return request.response(ResponseCode.SUCCESS, body=b"running")

        async def notify(request: RemotingCommand, conn: Connection) -> None:
            seen.append(request.code)

        async with RemotingClient() as client:
            client.register_processor(307, running_info)
            client.register_processor(40, notify)
            await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
            [conn] = server.connections
            response = await conn.invoke(RemotingCommand.request(307), timeout=3)
            assert (response.code, response.body) == (ResponseCode.SUCCESS, b"running")
            await conn.invoke_oneway(RemotingCommand.request(40))
            unknown = await conn.invoke(RemotingCommand.request(999), timeout=3)
            assert unknown.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
            for _ in range(100):
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.01)
            assert seen == [307, 40]
        await server.shutdown()

    arun(scenario())


def test_pending_calls_fail_at_once_when_server_closes(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        closed: list[Connection] = []
        async with RemotingClient() as client:
            client.add_close_listener(closed.append)
            calls = [
                asyncio.create_task(
                    client.invoke(
                        server.address,
                        RemotingCommand.request(SLOW, ext_fields={"sleep": "30"}),
                        20,
                    )
                )
                for _ in range(3)
            ]
            await asyncio.sleep(0.2)
            started = time.monotonic()
            for conn in server.connections:
                conn.close()
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert time.monotonic() - started < 2.0
            assert all(isinstance(r, RemotingClosedError) for r in results), results
            assert len(closed) == 1
            # the next call reconnects
            response = await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
            assert response.code == ResponseCode.SUCCESS
        await server.shutdown()

    arun(scenario())


def test_invoke_reuses_an_open_connection_and_replaces_a_closed_one(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        client = RemotingClient()
        first = await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
        conn = await client.get_connection(server.address)
        again = await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
        assert first.code == again.code == ResponseCode.SUCCESS
        assert await client.get_connection(server.address) is conn
        conn.close()  # closed on the client's side, still in its table
        response = await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
        assert response.code == ResponseCode.SUCCESS
        assert await client.get_connection(server.address) is not conn
        await client.close()
        with pytest.raises(RemotingClosedError):
            await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
        await server.shutdown()

    arun(scenario())


def test_pending_calls_fail_when_server_shuts_down(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        async with RemotingClient() as client:
            call = asyncio.create_task(
                client.invoke(
                    server.address, RemotingCommand.request(SLOW, ext_fields={"sleep": "30"}), 20
                )
            )
            await asyncio.sleep(0.2)
            await server.shutdown(timeout=2)
            with pytest.raises(RemotingClosedError):
                await call

    arun(scenario())


def test_timeout(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        async with RemotingClient() as client:
            request = RemotingCommand.request(SLOW, ext_fields={"sleep": "2"})
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError) as info:
                await client.invoke(server.address, request, timeout=0.2)
            assert isinstance(info.value, TimeoutError)
            assert 0.15 < time.monotonic() - started < 1.0
            conn = await client.get_connection(server.address)
            assert not conn.closed and conn.pending_calls == 0
            ok = await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
            assert ok.code == ResponseCode.SUCCESS
        await server.shutdown(timeout=0.5)

    arun(scenario())


def test_connect_failure_names_the_address(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        address = server.address
        await server.shutdown()
        async with RemotingClient(connect_timeout=1) as client:
            with pytest.raises(RemotingConnectError, match=address):
                await client.invoke(address, RemotingCommand.request(ECHO), 3)
            with pytest.raises(RemotingConnectError, match="nonsense"):
                await client.invoke("nonsense", RemotingCommand.request(ECHO), 3)

    arun(scenario())


def test_concurrent_calls_share_one_connection(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        async with RemotingClient() as client:
            responses = await asyncio.gather(
                *[
                    client.invoke(server.address, RemotingCommand.request(ECHO, body=bytes([i])), 3)
                    for i in range(50)
                ]
            )
            assert [r.body for r in responses] == [bytes([i]) for i in range(50)]
            assert len(server.connections) == 1
            assert client.addresses == [server.address]
        await server.shutdown()

    arun(scenario())


def test_responses_are_coalesced_into_few_writes(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        writes: list[int] = []

        def spy(conn: Connection) -> None:
            transport = conn._transport
            assert transport is not None
            original = transport.write

            def write(data: bytes | bytearray | memoryview) -> None:
                writes.append(len(data))
                original(data)

            transport.write = write  # type: ignore[method-assign]

        server.add_connect_listener(spy)
        async with RemotingClient() as client:
            await asyncio.gather(
                *[
                    client.invoke(server.address, RemotingCommand.request(ECHO), 3)
                    for _ in range(200)
                ]
            )
        assert 1 <= len(writes) <= 20, len(writes)
        await server.shutdown()

    arun(scenario())


def test_connection_listeners(arun: Run) -> None:
    async def scenario() -> None:
        server = await started_server()
        opened: list[Connection] = []
        closed: list[Connection] = []
        server.add_connect_listener(opened.append)
        server.add_close_listener(closed.append)
        client = RemotingClient()
        await client.invoke(server.address, RemotingCommand.request(ECHO), 3)
        assert len(opened) == 1 and opened[0].remote_address.startswith("127.0.0.1:")
        opened[0].attributes["clientId"] = "x"
        await client.close()
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.01)
        assert closed == opened and closed[0].closed
        await server.shutdown()

    arun(scenario())
