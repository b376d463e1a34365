"""``RocketMQTemplate``: rocketmq-spring's template over rmq's blocking producer.

Destinations are ``"topic"`` or ``"topic:tag"``. Payloads go through the message converter
(bytes, str, JSON for dicts/lists/dataclasses, custom converters first); a
:class:`~rmq_integrations.spring.messaging.GenericMessage` adds headers (keys, delay level,
user properties), and an rmq :class:`~rmq_core.Message` is sent as is (topic/tag from the
destination). Every send method blocks except ``async_send*``, whose callbacks and signals run
on the client's loop thread and must not block.

========================================== =================================================
method                                     RocketMQ send
========================================== =================================================
``convert_and_send(dest, payload)``        sync send, no result (Spring's ``convertAndSend``)
``send(dest, message)``                    sync send of a GenericMessage/Message
``sync_send(dest, payload, timeout=None)`` sync send → SendResult
``sync_send_batch(dest, payloads)``        one batch request → SendResult
``async_send(dest, payload, ...)``         async send → ``concurrent.futures.Future``
``send_one_way(dest, payload)``            one-way, no answer
``sync_send_orderly(dest, payload, key)``  queue chosen by hash of ``key`` (order per key)
``async_send_orderly`` / ``send_one_way_orderly`` the same, async / one-way
``sync_send_delay_time_level(d, p, lvl)``  delayed by level ``lvl`` (1..18)
``send_message_in_transaction(d, m, arg)`` half message + local transaction → result
========================================== =================================================

Each send sends the ``message_sent`` or ``send_failed`` signal; failures are raised (the
async methods report them through the future and ``on_exception``).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from rmq_core import Message, SelectMessageQueueByHash, SendResult
from rmq_core.client import TransactionSendResult
from rmq_core.client.sync import TransactionProducer
from rmq_integrations import signals
from rmq_integrations.spring.converters import MessageConverter, default_converter
from rmq_integrations.spring.messaging import (
    GenericMessage,
    parse_destination,
    to_rocketmq_message,
)
from rmq_integrations.spring.transaction import (
    DEFAULT_LOCAL_TRANSACTION_TIMEOUT,
    TransactionListenerAdapter,
)

__all__ = ["DEFAULT_PRODUCER_GROUP", "RocketMQTemplate", "SendCallback"]

log = logging.getLogger(__name__)

DEFAULT_PRODUCER_GROUP = "RocketMQTemplate"
SendCallback = Callable[[Any], Any]
"""``on_success(SendResult)`` / ``on_exception(BaseException)``; run on the client loop thread."""


class RocketMQTemplate:
    """Sends messages the rocketmq-spring way (see the module docstring for the methods).

    ``RocketMQTemplate(namesrv_addr, producer_group, send_timeout=3.0, converters=(...),
    transaction_listener=None, **producer_options)`` where ``producer_options`` are
    :class:`~rmq_core.client.ProducerConfig` fields. The producer starts on first use (or
    :meth:`start`); :meth:`shutdown` (or ``with``) stops it. ``context`` is entered around
    the transaction listener's calls; signals are sent with ``signal_sender`` (default: the
    template).
    """

    def __init__(
        self,
        namesrv_addr: str | None = None,
        producer_group: str = DEFAULT_PRODUCER_GROUP,
        *,
        send_timeout: float = 3.0,
        converters: Iterable[MessageConverter] = (),
        message_converter: MessageConverter | None = None,
        transaction_listener: object | None = None,
        local_transaction_timeout: float = DEFAULT_LOCAL_TRANSACTION_TIMEOUT,
        context: Callable[[], AbstractContextManager[Any]] | None = None,
        signal_sender: Any = None,
        **producer_options: Any,
    ) -> None:
        self.converter = message_converter or default_converter(converters)
        self.signal_sender = self if signal_sender is None else signal_sender
        self.local_transaction_timeout = local_transaction_timeout
        self._context = context or nullcontext
        self.producer = TransactionProducer(
            producer_group, namesrv_addr, send_msg_timeout=send_timeout, **producer_options
        )
        if transaction_listener is not None:
            self.register_transaction_listener(transaction_listener)
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def producer_group(self) -> str:
        return self.producer.config.producer_group

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> RocketMQTemplate:
        """Start the producer (idempotent; implicit on first send)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"template of group {self.producer_group} is shut down")
            if not self._started:
                self.producer.start()
                self._started = True
        return self

    def shutdown(self) -> None:
        """Wait for pending async sends and stop the producer (idempotent)."""
        with self._lock:
            if self._started:
                self.producer.shutdown()
            self._started = False
            self._closed = True

    def __enter__(self) -> RocketMQTemplate:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def register_transaction_listener(self, listener: object) -> None:
        """Use ``listener`` (class or instance, see :mod:`.transaction`) for transactions."""
        self.producer.set_transaction_listener(TransactionListenerAdapter(listener, self._context))

    # --- helpers ---------------------------------------------------------------------------

    def _message(
        self, destination: str, payload: Any, headers: Mapping[str, Any] | None
    ) -> Message:
        return to_rocketmq_message(parse_destination(destination), payload, self.converter, headers)

    def _run(
        self,
        mode: str,
        destination: str,
        msg: Message,
        action: Callable[[], SendResult | None],
    ) -> SendResult | None:
        started = time.monotonic()
        try:
            if not self._started:
                self.start()
            result = action()
        except Exception as exc:
            self._signal_failed(mode, destination, msg, exc, started)
            raise
        signals.emit(
            signals.message_sent,
            self.signal_sender,
            message=msg,
            destination=destination,
            result=result,
            mode=mode,
            duration=time.monotonic() - started,
        )
        return result

    def _signal_failed(
        self, mode: str, destination: str, msg: Message, exc: BaseException, started: float
    ) -> None:
        log.warning("%s send to %s failed: %s", mode, destination, exc)
        signals.emit(
            signals.send_failed,
            self.signal_sender,
            message=msg,
            destination=destination,
            exception=exc,
            mode=mode,
            duration=time.monotonic() - started,
        )

    # --- synchronous sends -----------------------------------------------------------------

    def convert_and_send(
        self, destination: str, payload: Any, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Convert ``payload`` and send it synchronously (Spring's ``convertAndSend``)."""
        self.sync_send(destination, payload, headers=headers)

    def send(self, destination: str, message: GenericMessage[Any] | Message) -> None:
        """Send a :class:`GenericMessage` (payload + headers) or an rmq ``Message``."""
        self.sync_send(destination, message)

    def sync_send(
        self,
        destination: str,
        payload: Any,
        timeout: float | None = None,
        delay_level: int = 0,
        headers: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send and wait for the broker; ``delay_level`` > 0 delays delivery."""
        msg = self._message(destination, payload, headers)
        if delay_level > 0:
            msg.delay_time_level = delay_level
        result = self._run(
            "sync", destination, msg, lambda: self.producer.send(msg, timeout=timeout)
        )
        assert result is not None
        return result

    def sync_send_batch(
        self,
        destination: str,
        payloads: Iterable[Any],
        timeout: float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send several payloads as one batch (one request, same topic, no delay); the
        result's ``msg_id`` joins the message ids with commas."""
        msgs = [self._message(destination, payload, headers) for payload in payloads]
        if not msgs:
            raise ValueError("sync_send_batch needs at least one payload")

        def send() -> SendResult:
            return self.producer.send_batch(msgs, timeout=timeout)

        result = self._run("batch", destination, msgs[0], send)
        assert result is not None
        return result

    def sync_send_delay_time_level(
        self,
        destination: str,
        payload: Any,
        delay_level: int,
        timeout: float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send with delay level ``delay_level`` (1..18 with RocketMQ's default levels)."""
        if delay_level <= 0:
            raise ValueError(f"delay_level must be positive, got {delay_level}")
        return self.sync_send(destination, payload, timeout, delay_level, headers)

    def sync_send_orderly(
        self,
        destination: str,
        payload: Any,
        hash_key: Any,
        timeout: float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send to the queue chosen by ``hash_key``: messages of one key keep their order."""
        msg = self._message(destination, payload, headers)
        selector = SelectMessageQueueByHash()

        def send() -> SendResult:
            return self.producer.send(msg, selector=selector, arg=hash_key, timeout=timeout)

        result = self._run("orderly", destination, msg, send)
        assert result is not None
        return result

    def send_one_way(
        self, destination: str, payload: Any, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Fire and forget (no broker answer, so no result in ``message_sent``)."""
        msg = self._message(destination, payload, headers)
        self._run("oneway", destination, msg, lambda: self.producer.send_oneway(msg))

    def send_one_way_orderly(
        self,
        destination: str,
        payload: Any,
        hash_key: Any,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """One-way to the queue chosen by ``hash_key``."""
        msg = self._message(destination, payload, headers)
        selector = SelectMessageQueueByHash()

        def send() -> None:
            self.producer.send_oneway(msg, selector=selector, arg=hash_key)

        self._run("oneway", destination, msg, send)

    # --- asynchronous sends ----------------------------------------------------------------

    def async_send(
        self,
        destination: str,
        payload: Any,
        on_success: SendCallback | None = None,
        on_exception: SendCallback | None = None,
        timeout: float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> concurrent.futures.Future[SendResult]:
        """Start a send; the future (and ``on_success``/``on_exception``) report the outcome."""
        return self._async(destination, payload, on_success, on_exception, timeout, headers, None)

    def async_send_orderly(
        self,
        destination: str,
        payload: Any,
        hash_key: Any,
        on_success: SendCallback | None = None,
        on_exception: SendCallback | None = None,
        timeout: float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> concurrent.futures.Future[SendResult]:
        """:meth:`async_send` to the queue chosen by ``hash_key``."""
        return self._async(
            destination, payload, on_success, on_exception, timeout, headers, (hash_key,)
        )

    def _async(
        self,
        destination: str,
        payload: Any,
        on_success: SendCallback | None,
        on_exception: SendCallback | None,
        timeout: float | None,
        headers: Mapping[str, Any] | None,
        hash_key: tuple[Any] | None,
    ) -> concurrent.futures.Future[SendResult]:
        msg = self._message(destination, payload, headers)
        started = time.monotonic()
        try:
            if not self._started:
                self.start()
            if hash_key is None:
                future = self.producer.send_async(msg, timeout=timeout)
            else:
                future = self.producer.send_async(
                    msg, selector=SelectMessageQueueByHash(), arg=hash_key[0], timeout=timeout
                )
        except Exception as exc:
            self._signal_failed("async", destination, msg, exc, started)
            raise

        def done(f: concurrent.futures.Future[SendResult]) -> None:
            exc = None if f.cancelled() else f.exception()
            if f.cancelled() or exc is not None:
                error = exc or concurrent.futures.CancelledError()
                self._signal_failed("async", destination, msg, error, started)
                _call_back(on_exception, error)
                return
            signals.emit(
                signals.message_sent,
                self.signal_sender,
                message=msg,
                destination=destination,
                result=f.result(),
                mode="async",
                duration=time.monotonic() - started,
            )
            _call_back(on_success, f.result())

        future.add_done_callback(done)
        return future

    # --- transactions ----------------------------------------------------------------------

    def send_message_in_transaction(
        self,
        destination: str,
        message: GenericMessage[Any] | Message | Any,
        arg: Any = None,
        timeout: float | None = None,
    ) -> TransactionSendResult:
        """Send a half message, run the transaction listener's local transaction with
        ``arg``, then commit or roll back; returns the result with the local state.

        Raises :class:`~rmq_core.ClientError` when no transaction listener is registered.
        """
        msg = self._message(destination, message, None)

        def send() -> TransactionSendResult:
            return self.producer.send_message_in_transaction(
                msg, arg, timeout=timeout, local_transaction_timeout=self.local_transaction_timeout
            )

        result = self._run("transaction", destination, msg, send)
        assert isinstance(result, TransactionSendResult)
        return result


def _call_back(callback: SendCallback | None, value: Any) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:
        log.exception("send callback %r raised; ignored", callback)
