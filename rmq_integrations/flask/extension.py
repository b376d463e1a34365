"""The Flask extension: ``RocketMQ(app=None)`` / ``init_app(app)``.

::

    mq = RocketMQ()

    @mq.listener("Orders", "order-handler", tags="created")
    def handle(order: Order) -> None:           # runs in a consumer thread, in an app context
        current_app.logger.info("order %s", order.id)

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config["ROCKETMQ_NAMESRV_ADDR"] = "127.0.0.1:9876"
        mq.init_app(app)                          # app.extensions["rocketmq"]
        return app

    @bp.post("/orders")
    def create_order():
        mq.send("Orders:created", Order(...))     # the current app's producer

The extension object holds no app: each app gets a :class:`RocketMQState` in
``app.extensions["rocketmq"]`` with its own settings, template (producer, started on first
use) and listener container (its own consumers, client instance and NameServer), so the
app-factory pattern and several apps in one process work. Listeners declared on the
extension belong to every app it is initialised on. ``shutdown(app)`` (also run at interpreter
exit) stops the app's consumers, letting in-flight handlers finish, and its producer.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from flask import Flask, current_app

from rmq_core import SendResult
from rmq_core.client import ClientConfig
from rmq_core.client.sync import Producer
from rmq_integrations.flask.cli import EXTENSION_KEY, rocketmq_cli
from rmq_integrations.flask.config import DEFAULTS, ExtensionSettings, read_settings
from rmq_integrations.spring.annotations import listener_specs, rocketmq_message_listener
from rmq_integrations.spring.container import (
    ListenerContainer,
    RegisteredListener,
    unique_instance_name,
)
from rmq_integrations.spring.converters import MessageConverter, default_converter
from rmq_integrations.spring.errors import ListenerDeclarationError
from rmq_integrations.spring.invoker import bind_handler
from rmq_integrations.spring.template import RocketMQTemplate

__all__ = ["EXTENSION_KEY", "RocketMQ", "RocketMQState"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any] | type)

_LIVE_STATES: weakref.WeakSet[RocketMQState] = weakref.WeakSet()


def _shutdown_all() -> None:
    for state in list(_LIVE_STATES):
        try:
            state.shutdown()
        except Exception:
            log.exception("rocketmq: shutting down app %s failed", state.app_name)


atexit.register(_shutdown_all)


def _instance_options(consumer_options: Mapping[str, Any]) -> dict[str, Any]:
    """The client-instance settings (:class:`ClientConfig` fields such as
    ``rebalance_interval``) among ``consumer_options``, for the template's producer.

    The producer and the consumers of an app share one client instance, whose settings come
    from the client that starts it first; giving the producer the consumers' instance
    settings keeps them the same whichever starts first (producer options still win).
    """
    shared = {f.name for f in dataclasses.fields(ClientConfig)}
    return {k: v for k, v in consumer_options.items() if k in shared}


class RocketMQState:
    """One app's RocketMQ resources (``app.extensions["rocketmq"]``)."""

    def __init__(self, extension: RocketMQ, app: Flask, settings: ExtensionSettings) -> None:
        self.extension = extension
        self.settings = settings
        self.app_name = app.name
        self.instance_name = settings.instance_name or unique_instance_name(app.name)
        self._app = app
        self._lock = threading.RLock()
        self._template: RocketMQTemplate | None = None
        self._container: ListenerContainer | None = None

    @property
    def app(self) -> Flask:
        return self._app

    @property
    def template(self) -> RocketMQTemplate:
        """The app's template (created on first use; its producer starts on first send)."""
        with self._lock:
            if self._template is None:
                s = self.settings
                self._template = RocketMQTemplate(
                    s.namesrv_addr,
                    s.producer_group,
                    send_timeout=s.send_timeout,
                    converters=self.extension.converters,
                    context=self._app.app_context,
                    signal_sender=self._app,
                    # The consumers' client instance: one set of connections per app.
                    instance_name=self.instance_name,
                    **{**_instance_options(s.consumer_options), **s.producer_options},
                )
                if self.extension.transaction_listener is not None:
                    self._template.register_transaction_listener(
                        self.extension.transaction_listener
                    )
            return self._template

    @property
    def producer(self) -> Producer:
        """The app's blocking producer (started)."""
        return self.template.start().producer

    @property
    def container(self) -> ListenerContainer:
        """The app's listener container, holding every listener of the extension."""
        with self._lock:
            if self._container is None:
                s = self.settings
                container = ListenerContainer(
                    s.namesrv_addr,
                    converters=self.extension.converters,
                    consumer_options=s.consumer_options,
                    instance_name=self.instance_name,
                    context=self._app.app_context,
                    signal_sender=self._app,
                    shutdown_timeout=s.shutdown_timeout,
                )
                for target in self.extension.listener_targets:
                    container.register(target)
                self._container = container
            return self._container

    def add_listener(self, target: object) -> None:
        """Register a listener declared after ``init_app`` (started if the app consumes)."""
        with self._lock:
            if self._container is not None:
                self._container.register(target)

    def start_listeners(self, groups: Iterable[str] | None = None) -> list[RegisteredListener]:
        """Start the app's listeners (only those of ``groups`` when given); returns those
        running."""
        container = self.container
        container.start(groups)
        return [listener for listener in container.listeners if listener.running]

    def stop_listeners(self) -> None:
        """Stop the app's consumers (in-flight handlers finish first)."""
        with self._lock:
            container = self._container
        if container is not None:
            container.stop()

    def shutdown(self) -> None:
        """Stop consumers, then the producer. The state stays usable: a later send starts
        a new producer."""
        self.stop_listeners()
        with self._lock:
            template, self._template = self._template, None
        if template is not None:
            template.shutdown()


class RocketMQ:
    """Flask extension for rmq (see the module docstring).

    ``converters`` are tried before the built-in bytes/str/JSON converters, for sends and for
    listener parameters. ``transaction_listener`` (a class or instance with
    ``execute_local_transaction``/``check_local_transaction``) enables
    ``template.send_message_in_transaction``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        converters: Iterable[MessageConverter] = (),
        transaction_listener: object | None = None,
    ) -> None:
        self.converters: tuple[MessageConverter, ...] = tuple(converters)
        self.transaction_listener = transaction_listener
        self.listener_targets: list[object] = []
        self._states: weakref.WeakSet[RocketMQState] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    # --- app wiring ------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Read and check ``ROCKETMQ_*`` config, set up the app's state and CLI.

        Raises :class:`~rmq_integrations.flask.config.RocketMQConfigError` for a missing
        NameServer address, unknown keys or bad values.
        """
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        settings = read_settings(app.config, app.name)
        state = RocketMQState(self, app, settings)
        app.extensions[EXTENSION_KEY] = state
        self._states.add(state)
        _LIVE_STATES.add(state)
        if rocketmq_cli.name not in app.cli.commands:
            app.cli.add_command(rocketmq_cli)
        if settings.start_listeners:
            state.start_listeners()

    def state(self, app: Flask | None = None) -> RocketMQState:
        """The state of ``app`` (default: ``current_app``); RuntimeError if not initialised."""
        target = app if app is not None else current_app
        state = target.extensions.get(EXTENSION_KEY)
        if not isinstance(state, RocketMQState) or state.extension is not self:
            raise RuntimeError(
                f"RocketMQ is not initialised on app {target.name!r}: call init_app(app) first"
            )
        return state

    # --- listeners -------------------------------------------------------------------------

    def listener(self, topic: str, group: str, tags: str = "*", **options: Any) -> Callable[[F], F]:
        """Declare a handler: ``@mq.listener(topic, group, tags="*", **options)``.

        ``options`` are those of ``@rocketmq_message_listener`` (``selector_type``,
        ``selector_expression`` instead of ``tags``, ``consume_mode``, ``message_model``,
        ``consume_thread_max``, ``max_reconsume_times``, ...) and PushConsumer settings. The
        handler runs inside an app context of each app. Errors (duplicate group/topic,
        unsupported parameter type, bad options) raise ListenerDeclarationError here.
        """
        expression = options.pop("selector_expression", tags)
        decorate = rocketmq_message_listener(
            topic=topic, consumer_group=group, selector_expression=expression, **options
        )

        def declare(target: F) -> F:
            self.register(decorate(target))
            return target

        return declare

    def register(self, target: object) -> None:
        """Add a function/class declared with ``@rocketmq_message_listener`` to every app."""
        specs = listener_specs(target)
        if not specs:
            raise ListenerDeclarationError(
                f"{target!r} is not declared with @rocketmq_message_listener"
            )
        bind_handler(target, default_converter(self.converters))  # fail now, not at start
        for spec in specs:
            for other in self.listener_targets:
                for old in listener_specs(other):
                    if old.consumer_group == spec.consumer_group:
                        raise ListenerDeclarationError(
                            f"consumer group {spec.consumer_group} (topic {spec.topic}) is "
                            f"already used by listener {other!r} on topic {old.topic}; "
                            "give each listener its own group"
                        )
        self.listener_targets.append(target)
        for state in list(self._states):
            state.add_listener(target)

    def start_listeners(
        self, app: Flask | None = None, groups: Iterable[str] | None = None
    ) -> list[RegisteredListener]:
        """Start the consumers of ``app`` (default: current app) in background threads."""
        return self.state(app).start_listeners(groups)

    def stop_listeners(self, app: Flask | None = None) -> None:
        self.state(app).stop_listeners()

    def shutdown(self, app: Flask | None = None) -> None:
        """Stop the app's consumers and producer."""
        self.state(app).shutdown()

    # --- sending ---------------------------------------------------------------------------

    @property
    def template(self) -> RocketMQTemplate:
        """The current app's :class:`RocketMQTemplate`."""
        return self.state().template

    @property
    def producer(self) -> Producer:
        """The current app's blocking producer (started on first access)."""
        return self.state().producer

    def send(
        self,
        destination: str,
        payload: Any,
        *,
        keys: str | Iterable[str] | None = None,
        headers: dict[str, Any] | None = None,
        delay_level: int = 0,
        timeout: float | None = None,
    ) -> SendResult:
        """Convert and send ``payload`` to ``destination`` (``topic[:tag]``) synchronously
        with the current app's producer; ``keys`` become the message keys."""
        merged = dict(headers or {})
        if keys is not None:
            merged["KEYS"] = keys
        return self.template.sync_send(
            destination, payload, timeout=timeout, delay_level=delay_level, headers=merged
        )
