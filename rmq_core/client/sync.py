"""Blocking facade for threaded code: ``Producer``, ``TransactionProducer``, ``PushConsumer``,
``LitePullConsumer`` and ``SimpleConsumer``, each wrapping the async client of that name.

The async clients run on one background event loop per process (a daemon thread started on
first use). Every blocking method submits a coroutine to that loop and waits for its result,
so the facade is safe to call from any thread (Flask request threads, Celery workers, plain
scripts). Push-consumer listeners that are plain functions run in the consumer's thread
pool; callbacks of :meth:`Producer.send_async` run on the loop thread and must not block.

After ``fork()`` the child gets a fresh loop on first use; clients created before the fork
belong to the parent's loop, so create them in the child (e.g. Celery's
``worker_process_init``). Calling a blocking method from the loop thread itself (from an
async callback) raises :class:`~rmq_core.errors.ClientError` instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from rmq_core.client import producer as _producer
from rmq_core.client import simple_consumer as _simple
from rmq_core.client import transaction_producer as _tx
from rmq_core.client.config import LitePullConsumerConfig, ProducerConfig, PushConsumerConfig
from rmq_core.client.consumer import lite_pull as _lite
from rmq_core.client.consumer import push as _push
from rmq_core.client.consumer.consume_service import MessageListener
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.rebalance.strategies import AllocateMessageQueueStrategy
from rmq_core.client.results import SendResult
from rmq_core.client.selector import MessageQueueSelector
from rmq_core.common.message import Message, MessageExt
from rmq_core.errors import ClientError

__all__ = [
    "BackgroundLoop",
    "LitePullConsumer",
    "Producer",
    "PushConsumer",
    "SimpleConsumer",
    "TransactionProducer",
    "run_sync",
]

T = TypeVar("T")

LIFECYCLE_TIMEOUT = 60.0  # s for start()/shutdown() (on top of a shutdown's own timeout)
CALL_MARGIN = 5.0  # s added to a call's own timeout before the facade gives up waiting
PRODUCER_SHUTDOWN_TIMEOUT = 5.0  # s a producer's shutdown waits for pending async sends
CONSUMER_SHUTDOWN_TIMEOUT = 10.0  # s a push consumer's shutdown waits for running listeners
DEFAULT_LOCAL_TRANSACTION_TIMEOUT = 60.0  # s a transactional send waits for the local transaction


class BackgroundLoop:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rmq-client-loop", daemon=True)
        self.thread.start()
        self._ready.wait(10.0)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; its outcome lands in the returned future.

        One ``call_soon_threadsafe`` starts a task that settles the future itself when the
        coroutine ends (``run_coroutine_threadsafe`` chains the two futures, which costs one
        more loop iteration per call). Cancelling the future cancels the task.
        """
        if threading.current_thread() is self.thread:
            coro.close()
            raise ClientError("blocking rmq client call made from the client's own loop thread")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(_start_settling, self.loop, coro, future)
        return future


def _start_settling(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    future: concurrent.futures.Future[T],
) -> None:
    """On the loop: run ``coro`` in a task that settles ``future`` (skipped if cancelled)."""
    if future.cancelled():
        coro.close()
        return
    task = loop.create_task(_settle_when_done(coro, future))
    future.add_done_callback(
        lambda f: loop.call_soon_threadsafe(task.cancel) if f.cancelled() else None
    )


async def _settle_when_done(
    coro: Coroutine[Any, Any, T], future: concurrent.futures.Future[T]
) -> None:
    try:
        result = await coro
    except asyncio.CancelledError:
        future.cancel()
        raise
    except BaseException as exc:
        _settle_future(future, None, exc)
        if not isinstance(exc, Exception):
            raise
        return
    _settle_future(future, result, None)


def _settle_future(
    future: concurrent.futures.Future[T], result: T | None, error: BaseException | None
) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]
    except concurrent.futures.InvalidStateError:
        pass  # the caller cancelled the future meanwhile


_LOOP: BackgroundLoop | None = None
_LOOP_LOCK = threading.Lock()


def background_loop() -> BackgroundLoop:
    """The process's background loop, (re)created on first use and after a fork."""
    global _LOOP
    current = _LOOP
    if current is not None and current.pid == os.getpid() and current.thread.is_alive():
        return current  # the usual case, without taking the lock
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP.pid != os.getpid() or not _LOOP.thread.is_alive():
            _LOOP = BackgroundLoop()
        return _LOOP


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = LIFECYCLE_TIMEOUT) -> T:
    """Run ``coro`` on the background loop and wait up to ``timeout`` s for its result."""
    future = background_loop().submit(coro)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError as exc:
        # concurrent.futures.TimeoutError is the builtin TimeoutError: a RequestTimeoutError
        # raised by ``coro`` itself lands here too and must keep its class.
        if future.done():
            return future.result()
        future.cancel()
        raise TimeoutError(f"rmq client call did not finish within {timeout} s") from exc


def _settle(future: concurrent.futures.Future[T], task: asyncio.Task[T]) -> None:
    """Copy the outcome of ``task`` (done) into ``future`` unless that was cancelled."""
    if task.cancelled():
        future.cancel()
        return
    try:
        if (error := task.exception()) is not None:
            future.set_exception(error)
        else:
            future.set_result(task.result())
    except concurrent.futures.InvalidStateError:
        pass  # the caller cancelled the future meanwhile


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


class Producer:
    """Blocking :class:`rmq_core.client.producer.Producer` (same arguments)."""

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: ProducerConfig | None = None,
        **options: Any,
    ) -> None:
        self.async_producer = _producer.Producer(group, namesrv_addr, config=config, **options)

    @property
    def config(self) -> ProducerConfig:
        return self.async_producer.config

    def _timeout(self, timeout: float | None) -> float:
        return (timeout or self.config.send_msg_timeout) + CALL_MARGIN

    def start(self) -> None:
        run_sync(self.async_producer.start())

    def shutdown(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` s (default 5) for pending async sends, then stop."""
        wait = PRODUCER_SHUTDOWN_TIMEOUT if timeout is None else timeout
        run_sync(self.async_producer.shutdown(wait), wait + LIFECYCLE_TIMEOUT)

    def __enter__(self) -> Producer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def send(
        self,
        msg: Message,
        mq: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        timeout: float | None = None,
    ) -> SendResult:
        coro = self.async_producer.send(msg, mq, selector=selector, arg=arg, timeout=timeout)
        return run_sync(coro, self._timeout(timeout))

    def send_async(
        self,
        msg: Message,
        on_success: _producer.SendCallback | None = None,
        on_exception: _producer.SendCallback | None = None,
        *,
        mq: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        timeout: float | None = None,
    ) -> concurrent.futures.Future[SendResult]:
        """Start a send; returns a ``concurrent.futures.Future``. Callbacks run on the loop.

        Back-pressure: while ``max_async_inflight`` sends (or ``max_async_inflight_bytes``
        bytes) are in flight, the calling thread blocks until there is room, up to the send
        timeout (then the future fails with :class:`~rmq_core.errors.RequestTimeoutError`).
        Like every other send error, validation errors arrive through the future.
        """

        async def reserve() -> asyncio.Task[SendResult]:
            await self.async_producer.wait_async_capacity(timeout)
            return self.async_producer.send_async(
                msg, on_success, on_exception, mq=mq, selector=selector, arg=arg, timeout=timeout
            )

        background = background_loop()
        loop = background.loop
        future: concurrent.futures.Future[SendResult] = concurrent.futures.Future()
        reserved = background.submit(reserve())  # raises on the loop thread itself
        try:
            task = reserved.result(self._timeout(timeout))
        except Exception as exc:  # the send's own error, or our wait for it timed out
            error: BaseException = exc
            if not reserved.done():
                reserved.cancel()
                error = TimeoutError(f"rmq client did not start the async send in {timeout} s")
            future.set_exception(error)
            return future
        future.add_done_callback(
            lambda f: loop.call_soon_threadsafe(task.cancel) if f.cancelled() else None
        )
        loop.call_soon_threadsafe(task.add_done_callback, lambda t: _settle(future, t))
        return future

    def send_oneway(
        self,
        msg: Message,
        mq: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
    ) -> None:
        coro = self.async_producer.send_oneway(msg, mq, selector=selector, arg=arg)
        run_sync(coro, self._timeout(None))

    def send_batch(
        self,
        msgs: Sequence[Message],
        mq: MessageQueue | None = None,
        *,
        timeout: float | None = None,
    ) -> SendResult:
        coro = self.async_producer.send_batch(msgs, mq, timeout=timeout)
        return run_sync(coro, self._timeout(timeout))

    def fetch_publish_message_queues(self, topic: str) -> list[MessageQueue]:
        return run_sync(self.async_producer.fetch_publish_message_queues(topic), CALL_MARGIN * 2)


class TransactionProducer(Producer):
    """Blocking :class:`rmq_core.client.transaction_producer.TransactionProducer` (same
    arguments): every send of :class:`Producer` plus transactional messages.

    The listener's methods run in client threads (plain functions) or on the client loop
    (coroutine functions). Without a listener it is an ordinary producer whose group's
    transaction checks are answered UNKNOW.
    """

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        listener: _tx.TransactionListener | None = None,
        check_thread_pool_size: int = _tx.DEFAULT_CHECK_THREAD_POOL_SIZE,
        check_request_hold_max: int = _tx.DEFAULT_CHECK_REQUEST_HOLD_MAX,
        config: ProducerConfig | None = None,
        **options: Any,
    ) -> None:
        self.async_producer: _tx.TransactionProducer = _tx.TransactionProducer(
            group,
            namesrv_addr,
            listener=listener,
            check_thread_pool_size=check_thread_pool_size,
            check_request_hold_max=check_request_hold_max,
            config=config,
            **options,
        )

    @property
    def listener(self) -> _tx.TransactionListener | None:
        return self.async_producer.listener

    def set_transaction_listener(self, listener: _tx.TransactionListener) -> None:
        """Set (or replace) the listener."""
        self.async_producer.set_transaction_listener(listener)

    def __enter__(self) -> TransactionProducer:
        self.start()
        return self

    def send_message_in_transaction(
        self,
        msg: Message,
        arg: Any = None,
        *,
        timeout: float | None = None,
        local_transaction_timeout: float = DEFAULT_LOCAL_TRANSACTION_TIMEOUT,
    ) -> _tx.TransactionSendResult:
        """Half send, local transaction, END_TRANSACTION; blocks until all are done.

        ``timeout`` (s) bounds the half send; the call gives up (TimeoutError) after that
        plus ``local_transaction_timeout`` s. A transaction given up on is resolved by the
        broker's check later.
        """
        coro = self.async_producer.send_message_in_transaction(msg, arg, timeout=timeout)
        return run_sync(coro, self._timeout(timeout) + local_transaction_timeout)

    def end_transaction(
        self,
        target: SendResult | _tx.TransactionHandle,
        state: _tx.LocalTransactionState,
        *,
        timeout: float | None = None,
    ) -> None:
        """Commit or roll back a half message by its send result or handle (see
        :meth:`rmq_core.client.transaction_producer.TransactionProducer.end_transaction`)."""
        coro = self.async_producer.end_transaction(target, state, timeout=timeout)
        run_sync(coro, self._timeout(timeout))


class PushConsumer:
    """Blocking :class:`rmq_core.client.consumer.push.PushConsumer` (same arguments)."""

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: PushConsumerConfig | None = None,
        allocate_strategy: AllocateMessageQueueStrategy | None = None,
        **options: Any,
    ) -> None:
        self.async_consumer = _push.PushConsumer(
            group, namesrv_addr, config=config, allocate_strategy=allocate_strategy, **options
        )

    @property
    def config(self) -> PushConsumerConfig:
        return self.async_consumer.config

    def subscribe(self, topic: str, expression: str | None = "*") -> None:
        run_sync(_call(self.async_consumer.subscribe, topic, expression), CALL_MARGIN)

    def unsubscribe(self, topic: str) -> None:
        run_sync(_call(self.async_consumer.unsubscribe, topic), CALL_MARGIN)

    def register_message_listener(
        self, listener: MessageListener, *, orderly: bool = False
    ) -> None:
        self.async_consumer.register_message_listener(listener, orderly=orderly)

    def start(self) -> None:
        run_sync(self.async_consumer.start())

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop pulling, give running listener calls up to ``timeout`` s (default 10),
        commit their offsets and leave the group."""
        wait = CONSUMER_SHUTDOWN_TIMEOUT if timeout is None else timeout
        run_sync(self.async_consumer.shutdown(wait), wait + LIFECYCLE_TIMEOUT)

    def __enter__(self) -> PushConsumer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def suspend(self) -> None:
        run_sync(_call(self.async_consumer.suspend), CALL_MARGIN)

    def resume(self) -> None:
        run_sync(_call(self.async_consumer.resume), CALL_MARGIN)

    def owned_queues(self) -> list[MessageQueue]:
        return run_sync(_call(self.async_consumer.owned_queues), CALL_MARGIN)


class LitePullConsumer:
    """Blocking :class:`rmq_core.client.consumer.lite_pull.LitePullConsumer`."""

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: LitePullConsumerConfig | None = None,
        allocate_strategy: AllocateMessageQueueStrategy | None = None,
        **options: Any,
    ) -> None:
        self.async_consumer = _lite.LitePullConsumer(
            group, namesrv_addr, config=config, allocate_strategy=allocate_strategy, **options
        )

    @property
    def config(self) -> LitePullConsumerConfig:
        return self.async_consumer.config

    def subscribe(self, topic: str, expression: str | None = "*") -> None:
        run_sync(_call(self.async_consumer.subscribe, topic, expression), CALL_MARGIN)

    def assign(self, mqs: Iterable[MessageQueue]) -> None:
        run_sync(_call(self.async_consumer.assign, list(mqs)), CALL_MARGIN)

    def assignment(self) -> list[MessageQueue]:
        return run_sync(_call(self.async_consumer.assignment), CALL_MARGIN)

    def start(self) -> None:
        run_sync(self.async_consumer.start())

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop pulling, commit (with ``auto_commit``) and leave the group; gives up
        (TimeoutError) after ``timeout`` s (default 60)."""
        run_sync(self.async_consumer.shutdown(), LIFECYCLE_TIMEOUT if timeout is None else timeout)

    def __enter__(self) -> LitePullConsumer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def poll(self, timeout: float | None = None) -> list[MessageExt]:
        wait = self.config.poll_timeout if timeout is None else timeout
        return run_sync(self.async_consumer.poll(wait), wait + CALL_MARGIN * 2)

    def commit(self, offsets: dict[MessageQueue, int] | None = None) -> None:
        run_sync(self.async_consumer.commit(offsets), CALL_MARGIN * 2)

    def committed(self, mq: MessageQueue) -> int:
        return run_sync(self.async_consumer.committed(mq), CALL_MARGIN * 2)

    def seek(self, mq: MessageQueue, offset: int) -> None:
        run_sync(self.async_consumer.seek(mq, offset), CALL_MARGIN * 2)

    def seek_to_begin(self, mq: MessageQueue) -> None:
        run_sync(self.async_consumer.seek_to_begin(mq), CALL_MARGIN * 2)

    def seek_to_end(self, mq: MessageQueue) -> None:
        run_sync(self.async_consumer.seek_to_end(mq), CALL_MARGIN * 2)

    def pause(self, mqs: Iterable[MessageQueue]) -> None:
        run_sync(_call(self.async_consumer.pause, list(mqs)), CALL_MARGIN)

    def resume(self, mqs: Iterable[MessageQueue]) -> None:
        run_sync(_call(self.async_consumer.resume, list(mqs)), CALL_MARGIN)

    def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        return run_sync(self.async_consumer.fetch_message_queues(topic), CALL_MARGIN * 2)


class SimpleConsumer:
    """Blocking :class:`rmq_core.client.simple_consumer.SimpleConsumer` (same arguments);
    ``rmq_core.client.SyncSimpleConsumer`` names it too."""

    def __init__(
        self,
        group: str | None = None,
        namesrv_addr: str | Sequence[str] | None = None,
        *,
        config: _simple.SimpleConsumerConfig | None = None,
        **options: Any,
    ) -> None:
        self.async_consumer = _simple.SimpleConsumer(group, namesrv_addr, config=config, **options)

    @property
    def config(self) -> _simple.SimpleConsumerConfig:
        return self.async_consumer.config

    def _timeout(self) -> float:
        return self.config.mq_client_api_timeout + CALL_MARGIN

    def subscribe(self, topic: str, expression: str | MessageSelector | None = "*") -> None:
        self.async_consumer.subscribe(topic, expression)

    def start(self) -> None:
        run_sync(self.async_consumer.start())

    def shutdown(self, timeout: float | None = None) -> None:
        """Leave the group; gives up (TimeoutError) after ``timeout`` s (default 60)."""
        run_sync(self.async_consumer.shutdown(), LIFECYCLE_TIMEOUT if timeout is None else timeout)

    def __enter__(self) -> SimpleConsumer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def receive(
        self,
        max_messages: int = 16,
        invisible_duration: float | None = None,
        *,
        await_duration: float | None = None,
        topic: str | None = None,
    ) -> list[MessageExt]:
        wait = self.config.await_duration if await_duration is None else await_duration
        coro = self.async_consumer.receive(
            max_messages, invisible_duration, await_duration=await_duration, topic=topic
        )
        return run_sync(coro, wait + self._timeout())

    def ack(self, message: _simple.Receipt) -> None:
        run_sync(self.async_consumer.ack(message), self._timeout())

    def change_invisible_duration(
        self, message: _simple.Receipt, invisible_duration: float
    ) -> _simple.ReceiptHandle:
        coro = self.async_consumer.change_invisible_duration(message, invisible_duration)
        return run_sync(coro, self._timeout())

    def ack_batch(self, messages: Iterable[_simple.Receipt]) -> None:
        run_sync(self.async_consumer.ack_batch(list(messages)), self._timeout())

    def forward_to_dead_letter(self, message: MessageExt) -> None:
        run_sync(self.async_consumer.forward_to_dead_letter(message), self._timeout() * 2)
