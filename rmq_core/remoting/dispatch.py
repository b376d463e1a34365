"""Request dispatch shared by the server and the client: processor table and bounded pools.

A :class:`RequestDispatcher` maps a request code to ``(processor, pool)``. For each incoming
request it:

- answers ``REQUEST_CODE_NOT_SUPPORTED`` with remark ``" request type N not supported"`` when
  no processor (and no default processor) is registered;
- answers ``SYSTEM_BUSY`` at once when the pool has no free slot and its pending queue is full;
- otherwise runs the processor in the pool; the processor returns the response (or ``None``
  for no answer). A :class:`~rmq_core.remoting.headers.HeaderFieldError` becomes
  ``SYSTEM_ERROR`` with the field named in the remark; any other exception ``SYSTEM_ERROR`` with
  the exception text, logged once with its traceback.

A pool with a free slot and nothing queued runs the processor **eagerly**: its first step runs
at once, inside the connection's ``data_received``, and a processor that finishes without
suspending (a send under ASYNC_FLUSH, most admin calls) answers there, without a task and
without the two extra loop iterations a task costs (its first step, then the write). A
processor that suspends continues as a task of the pool from where it stopped, in the same copy
of the context. On Python 3.12+ this is the standard eager task start (``asyncio.Task(...,
eager_start=True)``): the first step runs inside its task, so ``asyncio.current_task()``,
``asyncio.timeout()`` and ``asyncio.wait_for`` (built on ``timeout()`` there) work as in any
task. Python 3.11 has no eager start: the first step runs outside any task
(``asyncio.current_task()`` is None) and a task adopts the coroutine afterwards, so on 3.11 a
processor must not open an ``asyncio.timeout()`` before its first ``await``
(``asyncio.wait_for`` does not need a task on 3.11).

Oneway requests never get a response, not even an error. Responses always carry the request's
opaque, the RESPONSE flag and JSON serialization (the ali-ons client reads the header length
without masking the serialize-type byte).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, TypeAlias

from rmq_core.remoting.codes import ResponseCode, SerializeType
from rmq_core.remoting.command import FLAG_ONEWAY, FLAG_RESPONSE, RemotingCommand
from rmq_core.remoting.headers import HeaderFieldError

if TYPE_CHECKING:
    from rmq_core.remoting.transport import Connection

__all__ = ["Processor", "ProcessorPool", "RequestDispatcher"]

logger = logging.getLogger(__name__)

Processor: TypeAlias = Callable[[RemotingCommand, "Connection"], Awaitable[RemotingCommand | None]]
"""An async request handler: ``await processor(request, connection) -> response | None``."""

SYSTEM_BUSY_REMARK = "[OVERLOAD]system busy, start flow control for a while"

_Job: TypeAlias = Callable[[], Coroutine[Any, Any, None]]


class ProcessorPool:
    """At most ``max_concurrency`` processor tasks at once and ``max_pending`` waiting ones.

    :meth:`try_submit` refuses a job when both are exhausted; the caller answers SYSTEM_BUSY.
    Jobs are started in submission order. A pool belongs to the event loop it first runs on.
    """

    def __init__(self, name: str, max_concurrency: int, max_pending: int) -> None:
        if max_concurrency < 1 or max_pending < 0:
            raise ValueError("max_concurrency must be >= 1 and max_pending >= 0")
        self.name = name
        self.max_concurrency = max_concurrency
        self.max_pending = max_pending
        self._queue: collections.deque[_Job] = collections.deque()
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (
            f"ProcessorPool({self.name!r}, running={self.running}/{self.max_concurrency}, "
            f"pending={self.pending}/{self.max_pending})"
        )

    @property
    def running(self) -> int:
        """Jobs running now."""
        return len(self._tasks)

    @property
    def pending(self) -> int:
        """Jobs waiting for a free slot."""
        return len(self._queue)

    def try_submit(self, job: _Job) -> bool:
        """Start or queue ``job`` (a coroutine factory); ``False`` when the pool is full."""
        if len(self._tasks) < self.max_concurrency:
            self._start(job)
            return True
        if len(self._queue) < self.max_pending:
            self._queue.append(job)
            return True
        return False

    def try_run_eagerly(self, job: _Job) -> bool:
        """Run ``job`` now when a slot is free and nothing is queued (``False`` otherwise: the
        caller submits it). Its first step runs on the caller's stack; if it suspends, it
        continues as a task of the pool, holding a slot like any other job."""
        if self._queue or len(self._tasks) >= self.max_concurrency:
            return False
        if sys.version_info >= (3, 12):
            loop = asyncio.get_running_loop()
            task = asyncio.Task(job(), loop=loop, eager_start=True)  # its own context copy
            if task.done():
                self._finished(task)
            else:
                self._adopt(task)
            return True
        self._run_first_step(job)
        return True

    def _run_first_step(self, job: _Job) -> None:
        """Python 3.11's eager start: run the first step of ``job`` outside any task, then
        hand the suspended coroutine to a task as a :class:`_Continued`."""
        context = contextvars.copy_context()  # as a task's: the job's own copy
        coro = job()
        try:
            yielded = context.run(coro.send, None)
        except StopIteration:
            return
        except Exception:
            logger.exception("pool %s: job failed", self.name)
            return
        loop = asyncio.get_running_loop()
        self._adopt(loop.create_task(_Continued(coro, yielded), context=context))

    def _start(self, job: _Job) -> None:
        self._adopt(asyncio.get_running_loop().create_task(job()))

    def _adopt(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("pool %s: job failed", self.name, exc_info=task.exception())
        while self._queue and len(self._tasks) < self.max_concurrency:
            self._start(self._queue.popleft())

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Drop queued jobs, cancel running ones and wait up to ``timeout`` s for them."""
        self._queue.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


class _Continued(Coroutine[Any, Any, None]):
    """A coroutine whose first step already ran (and yielded ``first``), presented to a task
    as a fresh one: the task's first ``send`` gets ``first`` back, everything after that (and
    a cancellation before it) goes to the coroutine itself. Used on Python 3.11 only (3.12+
    starts tasks eagerly itself)."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, None], first: Any) -> None:
        self._coro = coro
        self._first: list[Any] = [first]

    def send(self, value: Any) -> Any:
        if self._first:
            return self._first.pop()
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._first.clear()
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._first.clear()
        self._coro.close()

    def __await__(self) -> Generator[Any, None, None]:
        while True:
            try:
                yielded = self.send(None)
            except StopIteration:
                return
            try:
                yield yielded
            except GeneratorExit:
                self.close()
                raise
            except BaseException as exc:  # thrown in by whoever awaits this
                try:
                    self._first.append(self.throw(exc))
                except StopIteration:
                    return


class RequestDispatcher:
    """Processor table by request code, with a default processor and a default pool."""

    def __init__(self, name: str, default_pool: ProcessorPool) -> None:
        self.name = name
        self.default_pool = default_pool
        self._table: dict[int, tuple[Processor, ProcessorPool]] = {}
        self._default: tuple[Processor, ProcessorPool] | None = None
        self._pools: dict[int, ProcessorPool] = {id(default_pool): default_pool}

    def register_processor(
        self, code: int, processor: Processor, pool: ProcessorPool | None = None
    ) -> None:
        """Serve requests with ``code`` by ``processor`` in ``pool`` (the default pool if None)."""
        self._table[int(code)] = (processor, self._pool(pool))

    def register_default_processor(
        self, processor: Processor, pool: ProcessorPool | None = None
    ) -> None:
        """Serve every code without its own processor by ``processor``."""
        self._default = (processor, self._pool(pool))

    def _pool(self, pool: ProcessorPool | None) -> ProcessorPool:
        pool = pool or self.default_pool
        self._pools[id(pool)] = pool
        return pool

    def dispatch(self, request: RemotingCommand, connection: Connection) -> None:
        """Handle one incoming request (called from the connection's ``data_received``).

        Calls ``connection.request_finished()`` once the request is answered or dropped.
        """
        entry = self._table.get(request.code, self._default)
        if entry is None:
            logger.warning(
                "%s: request code %d from %s not supported",
                self.name,
                request.code,
                connection.remote_address,
            )
            _answer(
                connection,
                request,
                request.response(
                    ResponseCode.REQUEST_CODE_NOT_SUPPORTED,
                    f" request type {request.code} not supported",
                ),
            )
            connection.request_finished()
            return
        processor, pool = entry

        def job() -> Coroutine[Any, Any, None]:
            return self._run(processor, request, connection)

        if pool.try_run_eagerly(job):
            return
        if not pool.try_submit(job):
            logger.warning(
                "%s: pool %s full, SYSTEM_BUSY for code %d from %s",
                self.name,
                pool.name,
                request.code,
                connection.remote_address,
            )
            busy = request.response(ResponseCode.SYSTEM_BUSY, SYSTEM_BUSY_REMARK)
            _answer(connection, request, busy)
            connection.request_finished()

    async def _run(
        self, processor: Processor, request: RemotingCommand, connection: Connection
    ) -> None:
        """Run ``processor`` on ``request``, answer, then release the connection's slot (one
        coroutine per request: every layer is a coroutine frame more per request)."""
        try:
            try:
                response = await processor(request, connection)
            except HeaderFieldError as exc:
                logger.warning(
                    "%s: bad header in code %d from %s: %s",
                    self.name,
                    request.code,
                    connection.remote_address,
                    exc,
                )
                response = request.response(ResponseCode.SYSTEM_ERROR, str(exc))
            except Exception as exc:
                logger.exception(
                    "%s: processor for code %d from %s failed",
                    self.name,
                    request.code,
                    connection.remote_address,
                )
                response = request.response(ResponseCode.SYSTEM_ERROR, _describe(exc))
            if response is not None:
                _answer(connection, request, response)
        finally:
            connection.request_finished()

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every pool of this dispatcher (queued requests are dropped unanswered)."""
        for pool in list(self._pools.values()):
            await pool.shutdown(timeout)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _answer(connection: Connection, request: RemotingCommand, response: RemotingCommand) -> None:
    if request.flag & FLAG_ONEWAY:
        return
    response.opaque = request.opaque
    response.flag = (response.flag | FLAG_RESPONSE) & ~FLAG_ONEWAY
    response.serialize_type = SerializeType.JSON
    connection.send_response(response)
