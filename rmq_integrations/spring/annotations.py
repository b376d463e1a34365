"""``@rocketmq_message_listener``: declare a message handler, Spring-Messaging style.

The decorator only *marks* a function or class with a validated :class:`ListenerSpec`; a
:class:`~rmq_integrations.spring.container.ListenerContainer` (or the Flask extension) picks
marked objects up with ``register`` / ``scan`` and runs them. Nothing is global, so importing
a module never starts a consumer.

- A function handler takes one parameter; its type hint chooses the converter (``bytes``,
  ``str``, ``dict``, a dataclass, ...; ``MessageExt`` or no hint gives the raw message).
- A class handler has ``on_message(self, payload)``; the container instantiates it with no
  arguments (or registers an instance you built).
- One object may carry several specs (stack the decorator), but not two for the same
  consumer group and topic.

Bad declarations (blank or illegal names, unknown consumer options, a bad tag or SQL92
expression, an ``async`` handler, a class without ``on_message``) raise
:class:`~rmq_integrations.spring.errors.ListenerDeclarationError` at decoration time.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from rmq_core import ConsumeFromWhere, FilterError, MessageModel
from rmq_core.client import MessageSelector, PushConsumerConfig
from rmq_integrations.spring.errors import ListenerDeclarationError

__all__ = [
    "LISTENER_ATTRIBUTE",
    "ConsumeMode",
    "ListenerSpec",
    "SelectorType",
    "listener_specs",
    "rocketmq_message_listener",
]

LISTENER_ATTRIBUTE = "__rocketmq_listeners__"
"""Attribute holding the tuple of :class:`ListenerSpec` of a decorated function or class."""

_VALID_NAME = re.compile(r"^[%|a-zA-Z0-9_-]+$")
_MAX_NAME_LENGTH = 255
_SPEC_FIELDS = {
    "consume_thread_max",
    "max_reconsume_times",
    "consume_timeout",
    "suspend_current_queue_time",
    "message_model",
    "consume_from_where",
    "instance_name",
}

F = TypeVar("F", bound=Callable[..., Any] | type)


class SelectorType(enum.StrEnum):
    """How ``selector_expression`` is read: tags (``"a || b"``) or an SQL92 condition."""

    TAG = "TAG"
    SQL92 = "SQL92"


class ConsumeMode(enum.StrEnum):
    """CONCURRENTLY: messages in parallel, failures go back to the broker for a later retry.
    ORDERLY: one message at a time per queue, failures retried in place (order kept)."""

    CONCURRENTLY = "CONCURRENTLY"
    ORDERLY = "ORDERLY"


def _check_name(kind: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ListenerDeclarationError(f"{kind} must be a non-blank string, got {value!r}")
    if len(value) > _MAX_NAME_LENGTH or not _VALID_NAME.match(value):
        raise ListenerDeclarationError(
            f"{kind} {value!r} is not a legal name (at most {_MAX_NAME_LENGTH} characters "
            "of ^[%|a-zA-Z0-9_-]+$)"
        )
    return value


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """What ``@rocketmq_message_listener`` declares (rocketmq-spring's annotation attributes).

    Durations are seconds (Spring's ``consumeTimeout`` is minutes and
    ``suspendCurrentQueueTimeMillis`` milliseconds). ``max_reconsume_times`` -1 means the
    client default: 16 deliveries for CONCURRENTLY, unbounded local retries for ORDERLY.
    ``options`` are further :class:`~rmq_core.client.PushConsumerConfig` fields.
    """

    topic: str
    consumer_group: str
    selector_type: SelectorType = SelectorType.TAG
    selector_expression: str = "*"
    consume_mode: ConsumeMode = ConsumeMode.CONCURRENTLY
    message_model: MessageModel = MessageModel.CLUSTERING
    consume_thread_max: int | None = None
    max_reconsume_times: int = -1
    consume_timeout: float | None = None
    suspend_current_queue_time: float | None = None
    consume_from_where: ConsumeFromWhere | None = None
    name_server: str | None = None
    instance_name: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def key(self) -> tuple[str, str]:
        """(consumer group, topic): at most one listener per key in a container."""
        return (self.consumer_group, self.topic)

    @property
    def orderly(self) -> bool:
        return self.consume_mode is ConsumeMode.ORDERLY

    def message_selector(self) -> MessageSelector:
        """What the consumer subscribes with; the broker filters by it (SQL92 needs a broker
        with ``enablePropertyFilter=true``, as in RocketMQ)."""
        if self.selector_type is SelectorType.SQL92:
            return MessageSelector.by_sql(self.selector_expression)
        return MessageSelector.by_tag(self.selector_expression)

    def consumer_options(self) -> dict[str, Any]:
        """PushConsumer keyword options this spec sets (unset ones are left to defaults)."""
        options: dict[str, Any] = {"message_model": self.message_model}
        if self.consume_thread_max is not None:
            options["consume_thread_max"] = self.consume_thread_max
        if self.max_reconsume_times != -1:
            options["max_reconsume_times"] = self.max_reconsume_times
        if self.consume_timeout is not None:
            options["consume_timeout"] = self.consume_timeout
        if self.suspend_current_queue_time is not None:
            options["suspend_current_queue_time"] = self.suspend_current_queue_time
        if self.consume_from_where is not None:
            options["consume_from_where"] = self.consume_from_where
        if self.instance_name is not None:
            options["instance_name"] = self.instance_name
        options.update(self.options)
        return options

    def validate(self) -> ListenerSpec:
        """Check every field; returns self or raises ListenerDeclarationError."""
        _check_name("topic", self.topic)
        _check_name("consumer_group", self.consumer_group)
        if not isinstance(self.selector_expression, str):
            raise ListenerDeclarationError("selector_expression must be a string")
        try:
            self.message_selector()
        except FilterError as exc:
            raise ListenerDeclarationError(
                f"listener {self.consumer_group}/{self.topic}: bad {self.selector_type.value} "
                f"selector {self.selector_expression!r}: {exc}"
            ) from exc
        if self.consume_thread_max is not None and self.consume_thread_max < 1:
            raise ListenerDeclarationError("consume_thread_max must be at least 1")
        if self.max_reconsume_times < -1:
            raise ListenerDeclarationError("max_reconsume_times must be -1 (default) or >= 0")
        clash = sorted(_SPEC_FIELDS & set(self.options))
        if clash:
            raise ListenerDeclarationError(
                f"pass {', '.join(clash)} as listener arguments, not as extra options"
            )
        try:
            dataclasses.replace(PushConsumerConfig(), **self.consumer_options())
        except TypeError as exc:
            known = ", ".join(f.name for f in dataclasses.fields(PushConsumerConfig))
            raise ListenerDeclarationError(
                f"listener {self.consumer_group}/{self.topic}: unknown consumer option ({exc}); "
                f"known: {known}"
            ) from exc
        return self


def listener_specs(target: object) -> tuple[ListenerSpec, ...]:
    """The specs a decorated function, class or instance of a decorated class carries."""
    specs = getattr(target, LISTENER_ATTRIBUTE, None)
    if specs is None and not isinstance(target, type):
        specs = getattr(type(target), LISTENER_ATTRIBUTE, None)
    return tuple(specs or ())


def _check_target(target: object) -> None:
    if isinstance(target, type):
        handler = getattr(target, "on_message", None)
        if handler is None or not callable(handler):
            raise ListenerDeclarationError(
                f"listener class {target.__qualname__} has no on_message(self, payload) method"
            )
    elif not callable(target):
        raise ListenerDeclarationError(f"{target!r} is neither a function nor a class")
    else:
        handler = target
    if inspect.iscoroutinefunction(handler):
        raise ListenerDeclarationError(
            f"{getattr(handler, '__qualname__', handler)!r} is async; listeners run in the "
            "consumer's worker threads, declare a plain function"
        )


def rocketmq_message_listener(
    *,
    topic: str,
    consumer_group: str,
    selector_type: SelectorType | str = SelectorType.TAG,
    selector_expression: str = "*",
    consume_mode: ConsumeMode | str = ConsumeMode.CONCURRENTLY,
    message_model: MessageModel | str = MessageModel.CLUSTERING,
    consume_thread_max: int | None = None,
    max_reconsume_times: int = -1,
    consume_timeout: float | None = None,
    suspend_current_queue_time: float | None = None,
    consume_from_where: ConsumeFromWhere | str | None = None,
    name_server: str | None = None,
    instance_name: str | None = None,
    **options: Any,
) -> Callable[[F], F]:
    """Mark a function (one payload parameter) or a class (``on_message``) as a listener.

    ``selector_type``, ``consume_mode``, ``message_model`` and ``consume_from_where`` accept
    the enum members or their names. Other keyword ``options`` are PushConsumer settings
    (e.g. ``consume_message_batch_max_size``, ``pull_batch_size``).
    """
    try:
        spec = ListenerSpec(
            topic=topic,
            consumer_group=consumer_group,
            selector_type=SelectorType(selector_type),
            selector_expression=selector_expression,
            consume_mode=ConsumeMode(consume_mode),
            message_model=MessageModel(message_model),
            consume_thread_max=consume_thread_max,
            max_reconsume_times=max_reconsume_times,
            consume_timeout=consume_timeout,
            suspend_current_queue_time=suspend_current_queue_time,
            consume_from_where=(
                None if consume_from_where is None else ConsumeFromWhere(consume_from_where)
            ),
            name_server=name_server,
            instance_name=instance_name,
            options=MappingProxyType(dict(options)),
        ).validate()
    except ValueError as exc:
        raise ListenerDeclarationError(f"listener {consumer_group}/{topic}: {exc}") from exc

    def mark(target: F) -> F:
        _check_target(target)
        existing = (
            target.__dict__.get(LISTENER_ATTRIBUTE, ()) if hasattr(target, "__dict__") else ()
        )
        if any(s.key == spec.key for s in existing):
            raise ListenerDeclarationError(
                f"{getattr(target, '__qualname__', target)!r} is declared twice as a listener "
                f"of group {spec.consumer_group} on topic {spec.topic}"
            )
        setattr(target, LISTENER_ATTRIBUTE, (*existing, spec))
        return target

    return mark
