"""``ListenerContainer``: runs declared listeners on push consumers (one consumer per listener).

``register(obj)`` takes a function or class marked with ``@rocketmq_message_listener`` (or an
instance of such a class), ``scan(module)`` every marked object of a module; ``start()``
starts a :class:`rmq_core.client.sync.PushConsumer` per listener and ``stop()`` shuts them
down (in-flight handlers finish within ``shutdown_timeout``, consumed offsets are committed;
delivery is at-least-once, so a message in flight at the stop may be delivered again). A
listener registered while the container runs starts at once.

Each delivered message (the broker has already applied the tag or SQL92 selector) goes
through ``message_received``
→ conversion to the handler's parameter type → handler → ``message_consumed``. A conversion
error or an exception of the handler sends ``consume_failed``, is logged, and makes the
consumer retry the message: CONCURRENTLY listeners hand it back to the broker (``%RETRY%``
topic, growing delay, ``%DLQ%<group>`` after ``max_reconsume_times``), ORDERLY ones retry it
in place after ``suspend_current_queue_time``. Nothing is silently dropped. Each consumer
call carries one message (``consume_message_batch_max_size`` is forced to 1): the consumer
retries a call's messages as a whole, so only then does a failure retry nothing but the
failing message.

Registration errors (:class:`ListenerDeclarationError`): an object that is not a declared
listener, a second listener for the same (group, topic), a second listener of a group (a
RocketMQ group must subscribe alike in every consumer: give each listener its own group),
a handler whose parameter type no converter supports.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

from rmq_core import ConsumeOrderlyStatus, ConsumeStatus, MessageExt
from rmq_core.client.sync import PushConsumer, run_sync
from rmq_integrations import signals
from rmq_integrations.spring.annotations import ListenerSpec, listener_specs
from rmq_integrations.spring.converters import MessageConverter, default_converter
from rmq_integrations.spring.errors import ListenerDeclarationError
from rmq_integrations.spring.invoker import BoundHandler, bind_handler, instantiate

__all__ = ["ListenerContainer", "RegisteredListener", "unique_instance_name"]

log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_TIMEOUT = 10.0  # s each consumer gets to finish in-flight handlers
SHUTDOWN_MARGIN = 10.0  # s on top of that for committing offsets and leaving the group
_INSTANCE_SEQ = itertools.count(1)

ContextFactory = Callable[[], AbstractContextManager[Any]]


def unique_instance_name(prefix: str) -> str:
    """``<prefix>-<pid>-<n>``: distinct per process and per call, so clients built with it
    get their own client id (and so their own connections and NameServer settings)."""
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in prefix) or "rmq"
    return f"{safe}-{os.getpid()}-{next(_INSTANCE_SEQ)}"


class RegisteredListener:
    """One listener of a container: its spec, bound handler and (while running) consumer."""

    def __init__(self, spec: ListenerSpec, handler: BoundHandler) -> None:
        self.spec = spec
        self.handler = handler
        self.consumer: PushConsumer | None = None

    @property
    def name(self) -> str:
        return self.handler.name

    @property
    def running(self) -> bool:
        return self.consumer is not None

    def __repr__(self) -> str:
        s = self.spec
        return f"<listener {self.name} group={s.consumer_group} topic={s.topic}>"


def _one_message_batches(listener: RegisteredListener, asked: object) -> int:
    """The batch size a listener's consumer gets: always 1 message per listener call.

    The push consumer acknowledges or retries a listener call's messages as a whole (it has no
    ack index), so with larger batches one failing message would redeliver the messages
    consumed before it and fire their signals twice. A larger ``asked`` is logged and ignored.
    """
    if asked != 1:
        log.warning(
            "listener %s: consume_message_batch_max_size=%r ignored, listeners consume one "
            "message per call so that a failure retries only the failing message",
            listener.name,
            asked,
        )
    return 1


class ListenerContainer:
    """Starts and stops the consumers of registered listeners.

    ``namesrv_addr``: NameServer address(es) for listeners that do not name their own
    (``None``: the ``NAMESRV_ADDR`` environment variable). ``converters`` are tried before the
    built-in ones, or pass a whole ``message_converter``. ``consumer_options`` are
    PushConsumer settings applied to every listener (a listener's own settings win).
    ``instance_name`` (default: unique per container) keeps this container's clients apart
    from others in the process. ``context`` is entered around each handler call and its
    signals (the Flask extension passes ``app.app_context``). Signals are sent with
    ``signal_sender`` (default: the container).
    """

    def __init__(
        self,
        namesrv_addr: str | None = None,
        *,
        converters: Iterable[MessageConverter] = (),
        message_converter: MessageConverter | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        instance_name: str | None = None,
        context: ContextFactory | None = None,
        signal_sender: Any = None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        self.namesrv_addr = namesrv_addr
        self.converter = message_converter or default_converter(converters)
        self.consumer_options = dict(consumer_options or {})
        self.instance_name = instance_name or unique_instance_name("container")
        self.context = context or contextlib.nullcontext
        self.signal_sender = self if signal_sender is None else signal_sender
        self.shutdown_timeout = shutdown_timeout
        self._listeners: list[RegisteredListener] = []
        self._lock = threading.RLock()
        self._running = False
        self._groups: frozenset[str] | None = None

    # --- registration ----------------------------------------------------------------------

    @property
    def listeners(self) -> list[RegisteredListener]:
        with self._lock:
            return list(self._listeners)

    @property
    def running(self) -> bool:
        return self._running

    def register(self, target: object) -> list[RegisteredListener]:
        """Register every spec of ``target``; start them if the container runs."""
        specs = listener_specs(target)
        if not specs:
            raise ListenerDeclarationError(
                f"{target!r} is not declared with @rocketmq_message_listener"
            )
        if isinstance(target, type):
            target = instantiate(target)  # one instance for all of its specs
        added = [RegisteredListener(spec, bind_handler(target, self.converter)) for spec in specs]
        with self._lock:
            for listener in added:
                self._check_unique(listener)
            self._listeners.extend(added)
            if self._running:
                for listener in added:
                    if self._selected(listener):
                        self._start_listener(listener)
        return added

    def scan(self, module: ModuleType) -> list[RegisteredListener]:
        """Register every declared listener defined in ``module`` (in definition order)."""
        found: list[RegisteredListener] = []
        for value in list(vars(module).values()):
            if listener_specs(value) and getattr(value, "__module__", None) == module.__name__:
                found.extend(self.register(value))
        return found

    def _check_unique(self, new: RegisteredListener) -> None:
        for old in self._listeners:
            if old.spec.key == new.spec.key:
                raise ListenerDeclarationError(
                    f"a listener for group {new.spec.consumer_group} on topic {new.spec.topic} "
                    f"is declared twice: {old.name} and {new.name}"
                )
            if old.spec.consumer_group == new.spec.consumer_group:
                raise ListenerDeclarationError(
                    f"consumer group {new.spec.consumer_group} already has listener "
                    f"{old.name} (topic {old.spec.topic}); all consumers of a RocketMQ group "
                    f"must subscribe alike, so give {new.name} its own consumer_group"
                )

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, groups: Iterable[str] | None = None) -> None:
        """Start the consumers of the registered listeners (of ``groups`` only, when given);
        on failure stop those started. Raises ListenerDeclarationError for an unknown group."""
        with self._lock:
            if self._running:
                return
            wanted = None if groups is None else frozenset(groups)
            if wanted is not None:
                missing = sorted(wanted - {lst.spec.consumer_group for lst in self._listeners})
                if missing:
                    raise ListenerDeclarationError(
                        f"no listener is registered for group(s) {', '.join(missing)}"
                    )
            self._groups = wanted
            self._running = True
            try:
                for listener in self._listeners:
                    if self._selected(listener):
                        self._start_listener(listener)
            except BaseException:
                self.stop()
                raise

    def _selected(self, listener: RegisteredListener) -> bool:
        return self._groups is None or listener.spec.consumer_group in self._groups

    def stop(self) -> None:
        """Stop every consumer (each waits up to ``shutdown_timeout`` s for handlers)."""
        with self._lock:
            self._running = False
            for listener in self._listeners:
                self._stop_listener(listener)

    def __enter__(self) -> ListenerContainer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start_listener(self, listener: RegisteredListener) -> None:
        if listener.consumer is not None:
            return
        spec = listener.spec
        options = {"instance_name": self.instance_name, **self.consumer_options}
        options.update(spec.consumer_options())
        options["consume_message_batch_max_size"] = _one_message_batches(
            listener, options.get("consume_message_batch_max_size", 1)
        )
        consumer = PushConsumer(
            spec.consumer_group, spec.name_server or self.namesrv_addr, **options
        )
        consumer.subscribe(spec.topic, spec.message_selector())  # type: ignore[arg-type]
        consumer.register_message_listener(self._dispatcher(listener), orderly=spec.orderly)
        try:
            consumer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                consumer.shutdown()
            raise
        listener.consumer = consumer
        log.info("listener %s started (group %s, topic %s)", listener.name, *spec.key)
        with self.context():
            signals.emit(
                signals.listener_started,
                self.signal_sender,
                group=spec.consumer_group,
                topic=spec.topic,
                listener=listener.name,
            )

    def _stop_listener(self, listener: RegisteredListener) -> None:
        consumer, listener.consumer = listener.consumer, None
        if consumer is None:
            return
        try:
            # the blocking facade's shutdown() has no timeout; give ours to the async consumer
            run_sync(
                consumer.async_consumer.shutdown(self.shutdown_timeout),
                self.shutdown_timeout + SHUTDOWN_MARGIN,
            )
        except Exception:
            log.exception("listener %s: consumer shutdown failed", listener.name)
        spec = listener.spec
        log.info("listener %s stopped (group %s, topic %s)", listener.name, *spec.key)
        with self.context():
            signals.emit(
                signals.listener_stopped,
                self.signal_sender,
                group=spec.consumer_group,
                topic=spec.topic,
                listener=listener.name,
            )

    # --- consumption -----------------------------------------------------------------------

    def _dispatcher(self, listener: RegisteredListener) -> Callable[[list[MessageExt]], Any]:
        ok: Any = (
            ConsumeOrderlyStatus.SUCCESS
            if listener.spec.orderly
            else (ConsumeStatus.CONSUME_SUCCESS)
        )
        retry: Any = (
            ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
            if listener.spec.orderly
            else ConsumeStatus.RECONSUME_LATER
        )

        def dispatch(msgs: list[MessageExt]) -> Any:
            for msg in msgs:
                if not self._consume_one(listener, msg):
                    return retry
            return ok

        dispatch.__qualname__ = f"dispatch[{listener.name}]"
        return dispatch

    def _consume_one(self, listener: RegisteredListener, msg: MessageExt) -> bool:
        """Run the handler on ``msg`` inside the context; True when it succeeded."""
        spec = listener.spec
        context = {"group": spec.consumer_group, "topic": msg.topic, "listener": listener.name}
        with self.context():
            signals.emit(signals.message_received, self.signal_sender, message=msg, **context)
            started = time.monotonic()
            try:
                listener.handler(msg)
            except Exception as exc:
                duration = time.monotonic() - started
                log.warning(
                    "listener %s failed on message %s of %s (delivery %d); it will be retried",
                    listener.name,
                    msg.unique_key or msg.msg_id,
                    msg.topic,
                    msg.reconsume_times + 1,
                    exc_info=exc,
                )
                signals.emit(
                    signals.consume_failed,
                    self.signal_sender,
                    message=msg,
                    exception=exc,
                    reconsume_times=msg.reconsume_times,
                    duration=duration,
                    **context,
                )
                return False
            signals.emit(
                signals.message_consumed,
                self.signal_sender,
                message=msg,
                duration=time.monotonic() - started,
                **context,
            )
        return True
