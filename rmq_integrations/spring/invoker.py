"""Binding a declared handler to its payload type and calling it for one message.

:func:`bind_handler` resolves the callable (a function, ``on_message`` of a decorated class,
which is instantiated with no arguments, or of an instance), finds its single payload
parameter and the type hint of that parameter, and checks that a converter supports it. The
result, a :class:`BoundHandler`, converts a :class:`~rmq_core.MessageExt` and calls the
handler; conversion errors are :class:`MessageConversionError`.

Raw targets (no conversion): ``MessageExt``, ``Message``, no hint, ``Any`` or ``object``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rmq_core import Message, MessageExt
from rmq_integrations.spring.converters import MessageConverter, describe_type
from rmq_integrations.spring.errors import ListenerDeclarationError, MessageConversionError

__all__ = ["RAW_TARGETS", "BoundHandler", "bind_handler", "instantiate"]

RAW_TARGETS: tuple[Any, ...] = (MessageExt, Message, Any, object, inspect.Parameter.empty)


@dataclass(frozen=True, slots=True)
class BoundHandler:
    """A handler ready to be called with delivered messages."""

    fn: Callable[[Any], Any]
    name: str
    target: Any
    converter: MessageConverter

    @property
    def raw(self) -> bool:
        return self.target in RAW_TARGETS

    def convert(self, msg: MessageExt) -> Any:
        """The handler's argument for ``msg`` (raises MessageConversionError)."""
        if self.raw:
            return msg
        try:
            return self.converter.deserialize(msg.body, self.target)
        except MessageConversionError:
            raise
        except Exception as exc:  # a custom converter's own error
            raise MessageConversionError(
                f"converting the body to {describe_type(self.target)} failed: {exc!r}"
            ) from exc

    def __call__(self, msg: MessageExt) -> Any:
        return self.fn(self.convert(msg))


def instantiate(cls: type) -> object:
    """``cls()``; a failure becomes a ListenerDeclarationError naming the class."""
    try:
        return cls()
    except Exception as exc:
        raise ListenerDeclarationError(
            f"cannot instantiate listener class {cls.__qualname__} with no arguments "
            f"({exc!r}); register an instance instead"
        ) from exc


def _callable_of(target: object) -> tuple[Callable[..., Any], str]:
    if isinstance(target, type):
        target = instantiate(target)
    on_message = getattr(target, "on_message", None)
    if on_message is not None and callable(on_message) and not inspect.isfunction(target):
        cls = type(target)
        return on_message, f"{cls.__module__}.{cls.__qualname__}.on_message"
    if not callable(target):
        raise ListenerDeclarationError(f"{target!r} is not callable")
    module = getattr(target, "__module__", "?")
    return target, f"{module}.{getattr(target, '__qualname__', repr(target))}"


def _payload_parameter(fn: Callable[..., Any], name: str) -> inspect.Parameter:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ListenerDeclarationError(f"cannot inspect the signature of {name}: {exc}") from exc
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [
        p
        for p in signature.parameters.values()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if not positional or len(required) > 1 or (required and required[0] is not positional[0]):
        raise ListenerDeclarationError(
            f"listener {name} must take exactly one (payload) parameter, has {signature}"
        )
    return positional[0]


def bind_handler(target: object, converter: MessageConverter) -> BoundHandler:
    """Resolve ``target`` to a :class:`BoundHandler`; raises ListenerDeclarationError when the
    handler's shape is wrong or no converter supports its parameter's type hint."""
    fn, name = _callable_of(target)
    if inspect.iscoroutinefunction(fn):
        raise ListenerDeclarationError(f"listener {name} is async; declare a plain function")
    parameter = _payload_parameter(fn, name)
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise ListenerDeclarationError(
            f"cannot resolve the type hints of listener {name}: {exc!r}"
        ) from exc
    hint = hints.get(parameter.name, inspect.Parameter.empty)
    bound = BoundHandler(fn, name, hint, converter)
    if not bound.raw and not converter.can_deserialize(hint):
        raise ListenerDeclarationError(
            f"listener {name}: no message converter supports its parameter type "
            f"{describe_type(hint)} (built in: bytes, str, MessageExt, dict/list/tuple, int, "
            "float, bool, dataclasses; add a custom converter for others)"
        )
    return bound
