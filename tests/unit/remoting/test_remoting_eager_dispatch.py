"""Eager dispatch and write batching of a remoting Connection, over a fake transport.

A processor that answers without suspending is answered inside ``data_received`` (one write
per read, or per coalescing cap; no task); one that suspends continues as a task of its pool;
a lone client call is written at once, concurrent ones are coalesced up to the cap.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from rmq_core.remoting.codec import FrameDecoder, encode_frame
from rmq_core.remoting.codes import ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.dispatch import ProcessorPool, RequestDispatcher, _Continued
from rmq_core.remoting.transport import COALESCE_MAX_BYTES, COALESCE_MAX_PARTS, Connection
from tests.support.fake_transport import RecordingTransport

ECHO, WAIT, FAIL = 1, 2, 3


class Server:
    """A server-side connection whose WAIT processor parks until ``release`` is set."""

    def __init__(self, pool: ProcessorPool, max_in_flight: int = 256) -> None:
        self.release = asyncio.Event()
        self.cancelled = 0
        self.pool = pool
        dispatcher = RequestDispatcher("test", pool)
        dispatcher.register_processor(ECHO, self.echo)
        dispatcher.register_processor(WAIT, self.wait)
        dispatcher.register_processor(FAIL, self.fail)
        self.conn = Connection(
            on_request=dispatcher.dispatch, max_in_flight=max_in_flight, name="test"
        )
        self.transport = RecordingTransport()
        self.conn.connection_made(self.transport)

    async def echo(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        return request.response(ResponseCode.SUCCESS, remark=str(request.opaque))

    async def wait(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return request.response(ResponseCode.SUCCESS, remark=str(request.opaque))

    async def fail(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        raise RuntimeError("boom")

    def feed(self, *codes: int, first_opaque: int = 1) -> None:
        frames = []
        for i, code in enumerate(codes):
            request = RemotingCommand.request(code)
            request.opaque = first_opaque + i
            frames.append(encode_frame(request))
        self.conn.data_received(b"".join(frames))


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_answers_without_suspending_are_written_inside_data_received_in_one_write() -> None:
    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 10))
        server.feed(ECHO, ECHO, ECHO)
        # No loop iteration ran: the answers are already written, in one write, no task.
        assert len(server.transport.writes) == 1
        assert [r.remark for r in server.transport.responses()] == ["1", "2", "3"]
        assert server.pool.running == 0

    run(scenario)


def test_processor_that_suspends_continues_as_a_task_of_the_pool() -> None:
    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 10))
        server.feed(WAIT, ECHO)
        assert server.pool.running == 1
        assert [r.remark for r in server.transport.responses()] == ["2"]
        server.release.set()
        while server.pool.running:
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # the coalesced flush of the task's answer
        assert [r.remark for r in server.transport.responses()] == ["2", "1"]
        assert server.conn._in_flight == 0

    run(scenario)


def test_suspended_eager_job_is_cancelled_by_pool_shutdown() -> None:
    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 10))
        server.feed(WAIT)
        assert server.pool.running == 1
        await server.pool.shutdown(1.0)
        assert server.cancelled == 1
        assert server.pool.running == 0
        assert server.conn._in_flight == 0

    run(scenario)


def test_processor_error_is_answered_inline_as_system_error() -> None:
    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 10))
        server.feed(FAIL)
        (answer,) = server.transport.responses()
        assert answer.code == ResponseCode.SYSTEM_ERROR
        assert answer.remark is not None and "boom" in answer.remark

    run(scenario)


def test_eager_processor_may_call_wait_for_before_its_first_suspension() -> None:
    async def scenario() -> None:
        pool = ProcessorPool("p", 4, 10)
        dispatcher = RequestDispatcher("test", pool)

        async def timed(request: RemotingCommand, conn: Connection) -> RemotingCommand:
            await asyncio.wait_for(asyncio.sleep(0), 1.0)  # needs a current task on 3.12+
            return request.response(ResponseCode.SUCCESS, remark="timed")

        dispatcher.register_processor(ECHO, timed)
        conn = Connection(on_request=dispatcher.dispatch, name="test")
        transport = RecordingTransport()
        conn.connection_made(transport)
        loop = asyncio.get_running_loop()
        # From a loop callback, outside any task, as data_received runs.
        loop.call_soon(conn.data_received, encode_frame(RemotingCommand.request(ECHO)))
        for _ in range(20):
            await asyncio.sleep(0)
        (answer,) = transport.responses()
        assert (answer.code, answer.remark) == (ResponseCode.SUCCESS, "timed")
        assert pool.running == 0

    run(scenario)


def test_answers_queued_before_a_failing_step_of_a_read_are_still_written() -> None:
    def failing_complete(response: RemotingCommand) -> None:
        raise RuntimeError("response handling failed")

    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 10))
        server.conn._complete = failing_complete  # type: ignore[method-assign]
        answered = RemotingCommand.request(ECHO)
        answered.opaque = 1
        stray = RemotingCommand.request(ECHO).response(ResponseCode.SUCCESS)
        with pytest.raises(RuntimeError, match="response handling failed"):
            server.conn.data_received(encode_frame(answered) + encode_frame(stray))
        # The ECHO answered before the failing response is written by this read, not left
        # in the outbox until some later write.
        assert [r.remark for r in server.transport.responses()] == ["1"]

    run(scenario)


def test_queued_jobs_keep_their_order_before_eager_ones() -> None:
    async def scenario() -> None:
        server = Server(ProcessorPool("p", 1, 10))
        server.feed(WAIT, ECHO)  # the ECHO waits in the pool's queue behind the WAIT
        assert server.pool.pending == 1
        server.feed(ECHO, first_opaque=3)  # queued too, not run ahead of opaque 2
        assert server.transport.responses() == []
        server.release.set()
        for _ in range(20):
            await asyncio.sleep(0)
        assert [r.remark for r in server.transport.responses()] == ["1", "2", "3"]

    run(scenario)


def test_many_held_requests_released_by_one_finishing_do_not_recurse() -> None:
    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 10), max_in_flight=1)
        count = 600  # deeper than the recursion limit if each release nested the next
        server.feed(WAIT, *([ECHO] * count))
        assert server.transport.paused
        server.release.set()
        for _ in range(20):
            await asyncio.sleep(0)
        remarks = [r.remark for r in server.transport.responses()]
        assert remarks == [str(i) for i in range(1, count + 2)]
        assert not server.transport.paused

    run(scenario)


def test_lone_call_is_written_at_once_and_concurrent_calls_are_coalesced() -> None:
    async def scenario() -> None:
        conn = Connection(on_request=lambda request, connection: None, name="client")
        transport = RecordingTransport()
        conn.connection_made(transport)

        def answer_all() -> None:
            requests = FrameDecoder().feed(b"".join(transport.writes))
            transport.writes.clear()
            frames = [encode_frame(r.response(ResponseCode.SUCCESS)) for r in requests]
            conn.data_received(b"".join(frames))

        lone = asyncio.ensure_future(conn.invoke(RemotingCommand.request(ECHO), 3.0))
        await asyncio.sleep(0)  # the call's task runs once: its frame is written right away
        assert len(transport.writes) == 1
        answer_all()
        assert (await lone).code == ResponseCode.SUCCESS

        calls = [
            asyncio.ensure_future(conn.invoke(RemotingCommand.request(ECHO), 3.0)) for _ in range(5)
        ]
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(transport.writes) == 2  # the first alone, the other four in one write
        assert len(FrameDecoder().feed(b"".join(transport.writes))) == 5
        answer_all()
        assert [answer.code for answer in await asyncio.gather(*calls)] == [0] * 5

    run(scenario)


def test_answers_of_one_read_leave_in_parts_of_the_coalescing_cap() -> None:
    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 100))
        count = 2 * COALESCE_MAX_PARTS + 3
        server.feed(*[ECHO] * count)
        # Written while the read is processed, not all at its end: the peer starts on the
        # first answers while the rest are made.
        frames_per_write = [len(FrameDecoder().feed(w)) for w in server.transport.writes]
        assert frames_per_write == [COALESCE_MAX_PARTS, COALESCE_MAX_PARTS, 3]
        remarks = [r.remark for r in server.transport.responses()]
        assert remarks == [str(i) for i in range(1, count + 1)]

    run(scenario)


def test_concurrent_calls_leave_in_parts_of_the_coalescing_cap() -> None:
    async def scenario() -> None:
        conn = Connection(on_request=lambda request, connection: None, name="client")
        transport = RecordingTransport()
        conn.connection_made(transport)
        count = COALESCE_MAX_PARTS + 5
        calls = [
            asyncio.ensure_future(conn.invoke(RemotingCommand.request(ECHO), 3.0))
            for _ in range(count)
        ]
        for _ in range(3):
            await asyncio.sleep(0)
        frames_per_write = [len(FrameDecoder().feed(w)) for w in transport.writes]
        # The first alone (the only pending call), a full part as soon as it fills, the rest
        # at the end of the iteration.
        assert frames_per_write == [1, COALESCE_MAX_PARTS, 4]
        requests = FrameDecoder().feed(b"".join(transport.writes))
        frames = [encode_frame(r.response(ResponseCode.SUCCESS)) for r in requests]
        conn.data_received(b"".join(frames))
        assert [answer.code for answer in await asyncio.gather(*calls)] == [0] * count

    run(scenario)


def test_a_frame_reaching_the_byte_cap_is_written_at_once_in_order() -> None:
    async def scenario() -> None:
        conn = Connection(on_request=lambda request, connection: None, name="client")
        transport = RecordingTransport()
        conn.connection_made(transport)
        small = [RemotingCommand.request(ECHO) for _ in range(3)]
        large = RemotingCommand.request(ECHO, body=b"x" * COALESCE_MAX_BYTES)
        calls = [asyncio.ensure_future(conn.invoke(r, 3.0)) for r in [*small, large]]
        await asyncio.sleep(0)  # one iteration: every call's task ran once, no flush yet
        # The first went alone; the large one took the two queued before it along at once.
        requests = FrameDecoder().feed(b"".join(transport.writes))
        assert [len(r.body or b"") for r in requests] == [0, 0, 0, COALESCE_MAX_BYTES]
        assert len(transport.writes) == 2
        frames = [encode_frame(r.response(ResponseCode.SUCCESS)) for r in requests]
        conn.data_received(b"".join(frames))
        assert len(await asyncio.gather(*calls)) == 4

    run(scenario)


def test_a_held_request_released_by_a_capped_write_never_lands_inside_a_frame() -> None:
    """The cap writes the outbox and lets a request held for the queued bytes through; its
    inline answer must follow the whole frame that reached the cap, not its head alone."""

    async def scenario() -> None:
        server = Server(ProcessorPool("p", 4, 10))
        conn = server.conn
        transport = BufferingTransport()
        conn.connection_made(transport)
        conn._buffer_limits = (1000, 500)  # requests wait while 1,000 bytes wait to be written
        transport.buffered = 2000
        server.feed(ECHO, first_opaque=7)
        assert [request.opaque for request in conn._held] == [7]
        transport.buffered = 0  # the socket took them (asyncio calls nobody for that)
        answered = RemotingCommand.request(ECHO)
        for _ in range(COALESCE_MAX_PARTS - 1):
            conn.send_response(answered.response(ResponseCode.SUCCESS))
        conn.send_response(answered.response(ResponseCode.SUCCESS, body=b"B" * 5000))
        assert not conn._held  # the capped write let it through; it answered inline
        await asyncio.sleep(0)  # the coalesced flush of that answer
        answers = transport.responses()  # a frame inside another would not decode
        assert [len(a.body or b"") for a in answers[COALESCE_MAX_PARTS - 1 :]] == [5000, 0]
        assert answers[-1].remark == "7"

    run(scenario)


class BufferingTransport(RecordingTransport):
    """A RecordingTransport whose write buffer holds ``buffered`` bytes, as the test says."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = 0

    def get_write_buffer_size(self) -> int:
        return self.buffered


def test_a_continued_coroutine_can_also_be_awaited_directly() -> None:
    async def two_steps() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    async def scenario() -> None:
        coro = two_steps()
        first = coro.send(None)  # the first step, as try_run_eagerly runs it
        await _Continued(coro, first)  # finishes the remaining steps

    run(scenario)


class DuckTransport:
    """A stream transport that does not derive from asyncio.Transport (as uvloop's)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 4001) if name in ("peername", "sockname") else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))


def test_a_transport_not_derived_from_asyncio_transport_is_accepted() -> None:
    async def scenario() -> None:
        pool = ProcessorPool("p", 4, 10)
        dispatcher = RequestDispatcher("test", pool)

        async def echo(request: RemotingCommand, conn: Connection) -> RemotingCommand:
            return request.response(ResponseCode.SUCCESS)

        dispatcher.register_processor(ECHO, echo)
        conn = Connection(on_request=dispatcher.dispatch, name="test")
        transport = DuckTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        assert conn.remote_address == "127.0.0.1:4001"
        conn.data_received(encode_frame(RemotingCommand.request(ECHO)))
        assert [r.code for r in FrameDecoder().feed(b"".join(transport.writes))] == [0]

    run(scenario)


def test_eager_processors_run_in_their_own_copy_of_the_context() -> None:
    seen = contextvars.ContextVar("seen", default="unset")

    async def scenario() -> None:
        pool = ProcessorPool("p", 4, 10)
        dispatcher = RequestDispatcher("test", pool)

        async def remember(request: RemotingCommand, conn: Connection) -> RemotingCommand:
            before = seen.get()
            seen.set(str(request.opaque))
            return request.response(ResponseCode.SUCCESS, remark=before)

        dispatcher.register_processor(ECHO, remember)
        conn = Connection(on_request=dispatcher.dispatch, name="test")
        transport = RecordingTransport()
        conn.connection_made(transport)
        frames = []
        for opaque in (1, 2):
            request = RemotingCommand.request(ECHO)
            request.opaque = opaque
            frames.append(encode_frame(request))
        conn.data_received(b"".join(frames))
        assert [r.remark for r in transport.responses()] == ["unset", "unset"]
        assert seen.get() == "unset"

    run(scenario)
