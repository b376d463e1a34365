"""Message converters: payload → body bytes on send, body bytes → the listener's type on receive.

A converter answers two questions for each direction (see :class:`MessageConverter`). The
template asks ``can_serialize(payload)``; the listener container asks
``can_deserialize(type_hint)`` once, when a listener is declared, so a handler whose parameter
type no converter supports is refused at once, not on the first message.

Built-in converters (the default chain, tried in this order):

- :class:`BytesMessageConverter`: ``bytes``/``bytearray``/``memoryview`` ↔ ``bytes``;
- :class:`StringMessageConverter`: ``str`` ↔ ``str`` (UTF-8; undecodable bytes are an error);
- :class:`JsonMessageConverter`: ``dict``, ``list``, ``tuple``, numbers, booleans and dataclass
  instances → compact UTF-8 JSON; JSON → ``dict``/``list``/``tuple`` (optionally
  parameterised, e.g. ``dict[str, int]``), ``int``/``float``/``bool``, and dataclasses (nested
  dataclasses, ``list[Item]``, ``X | None`` fields; unknown keys are ignored, missing required
  fields and wrong value types are errors).

Custom converters go first: ``CompositeMessageConverter([MyConverter(), *DEFAULT_CONVERTERS])``
or the ``converters=`` argument of the template, the container and the Flask extension.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from rmq_integrations.spring.errors import MessageConversionError

__all__ = [
    "DEFAULT_CONVERTERS",
    "BytesMessageConverter",
    "CompositeMessageConverter",
    "JsonMessageConverter",
    "MessageConverter",
    "StringMessageConverter",
    "default_converter",
    "describe_type",
]

MAX_JSON_DEPTH = 64
"""How deeply nested a type hint may be before it counts as unsupported (guards recursion)."""


@runtime_checkable
class MessageConverter(Protocol):
    """Turns payloads into bodies and bodies into typed values.

    ``serialize`` is called only when ``can_serialize`` said yes, ``deserialize`` only for a
    ``target`` that ``can_deserialize`` accepted; both raise :class:`MessageConversionError`
    on data they cannot handle.
    """

    def can_serialize(self, payload: object) -> bool: ...

    def serialize(self, payload: object) -> bytes: ...

    def can_deserialize(self, target: Any) -> bool: ...

    def deserialize(self, body: bytes, target: Any) -> object: ...


def describe_type(target: Any) -> str:
    """A readable name for a type hint (``list[int]``, ``Order``)."""
    if isinstance(target, type) and not typing.get_args(target):
        return target.__qualname__
    return repr(target).replace("typing.", "")


class BytesMessageConverter:
    """Raw bytes both ways."""

    def can_serialize(self, payload: object) -> bool:
        return isinstance(payload, bytes | bytearray | memoryview)

    def serialize(self, payload: object) -> bytes:
        assert isinstance(payload, bytes | bytearray | memoryview)
        return bytes(payload)

    def can_deserialize(self, target: Any) -> bool:
        return target is bytes

    def deserialize(self, body: bytes, target: Any) -> object:
        return bytes(body)


class StringMessageConverter:
    """Text in ``encoding`` (UTF-8) both ways; a body that does not decode is an error."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding

    def can_serialize(self, payload: object) -> bool:
        return isinstance(payload, str)

    def serialize(self, payload: object) -> bytes:
        assert isinstance(payload, str)
        return payload.encode(self.encoding)

    def can_deserialize(self, target: Any) -> bool:
        return target is str

    def deserialize(self, body: bytes, target: Any) -> object:
        try:
            return body.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise MessageConversionError(
                f"body is not valid {self.encoding} text at byte {exc.start}"
            ) from exc


class JsonMessageConverter:
    """JSON for containers, numbers and dataclasses (see the module docstring)."""

    def can_serialize(self, payload: object) -> bool:
        if isinstance(payload, bool | int | float | dict | list | tuple):
            return True
        return dataclasses.is_dataclass(payload) and not isinstance(payload, type)

    def serialize(self, payload: object) -> bytes:
        try:
            text = json.dumps(
                payload, default=_json_default, ensure_ascii=False, separators=(",", ":")
            )
        except (TypeError, ValueError) as exc:
            raise MessageConversionError(f"cannot encode the payload as JSON: {exc}") from exc
        return text.encode("utf-8")

    def can_deserialize(self, target: Any) -> bool:
        if target in (bool, int, float):
            return True
        origin = typing.get_origin(target) or target
        if origin in (dict, list, tuple) or dataclasses.is_dataclass(target):
            return _json_compatible(target, 0, set())
        return False

    def deserialize(self, body: bytes, target: Any) -> object:
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageConversionError(f"body is not valid JSON: {exc}") from exc
        return _from_json(value, target, "$")


def _json_default(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__qualname__} is not JSON serializable")


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or origin is types.UnionType


def _field_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception as exc:
        raise MessageConversionError(
            f"cannot resolve the field types of {cls.__qualname__}: {exc}"
        ) from exc


def _json_compatible(hint: Any, depth: int, seen: set[type]) -> bool:
    """Whether values of ``hint`` can be rebuilt from JSON by :func:`_from_json`."""
    if depth > MAX_JSON_DEPTH:
        return False
    if hint in (Any, object, str, int, float, bool, type(None), None):
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is None:
        if hint in (dict, list, tuple):
            return True
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if hint in seen:
                return True
            seen.add(hint)
            try:
                hints = _field_hints(hint)
            except MessageConversionError:
                return False
            return all(
                _json_compatible(hints.get(f.name, Any), depth + 1, seen)
                for f in dataclasses.fields(hint)
            )
        return False
    if _is_union(origin) or origin in (list, tuple):
        return all(a is Ellipsis or _json_compatible(a, depth + 1, seen) for a in args)
    if origin is dict:
        return (not args or args[0] is str) and all(
            _json_compatible(a, depth + 1, seen) for a in args[1:]
        )
    return False


def _fail(path: str, expected: str, value: object) -> MessageConversionError:
    return MessageConversionError(
        f"JSON value at {path} is {type(value).__name__}, expected {expected}"
    )


def _from_json(value: Any, hint: Any, path: str) -> Any:
    """``value`` (decoded JSON) checked against and converted to ``hint``."""
    if hint in (Any, object):
        return value
    if hint in (None, type(None)):
        if value is not None:
            raise _fail(path, "null", value)
        return None
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(path, "a boolean", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "an integer", value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, "a number", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(path, "a string", value)
        return value
    origin = typing.get_origin(hint) or hint
    args = typing.get_args(hint)
    if _is_union(origin):
        return _from_union(value, args, path)
    if origin is dict:
        return _from_json_dict(value, args, path)
    if origin in (list, tuple):
        return _from_json_sequence(value, origin, args, path)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_json_dataclass(value, hint, path)
    raise MessageConversionError(f"no JSON mapping for {describe_type(hint)} at {path}")


def _from_union(value: Any, args: Sequence[Any], path: str) -> Any:
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _from_json(value, arg, path)
        except MessageConversionError as exc:
            errors.append(str(exc))
    raise MessageConversionError("; ".join(errors) or f"no alternative matched at {path}")


def _from_json_dict(value: Any, args: Sequence[Any], path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "an object", value)
    if len(args) < 2:
        return value
    return {k: _from_json(v, args[1], f"{path}.{k}") for k, v in value.items()}


def _from_json_sequence(value: Any, origin: Any, args: Sequence[Any], path: str) -> Any:
    if not isinstance(value, list):
        raise _fail(path, "an array", value)
    if not args:
        items: Iterable[Any] = value
    elif origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(args) != len(value):
            raise MessageConversionError(
                f"JSON array at {path} has {len(value)} items, expected {len(args)}"
            )
        items = [
            _from_json(v, a, f"{path}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        ]
    else:
        items = [_from_json(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else list(items)


def _from_json_dataclass(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, f"an object for {cls.__qualname__}", value)
    hints = _field_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name in value:
            kwargs[f.name] = _from_json(value[f.name], hints.get(f.name, Any), f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise MessageConversionError(
                f"JSON object at {path} lacks the required field {f.name!r} of {cls.__qualname__}"
            )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise MessageConversionError(f"cannot build {cls.__qualname__} at {path}: {exc}") from exc


class CompositeMessageConverter:
    """Tries its converters in order; the first that accepts a payload or type wins."""

    def __init__(self, converters: Iterable[MessageConverter]) -> None:
        self.converters: tuple[MessageConverter, ...] = tuple(converters)
        if not self.converters:
            raise ValueError("CompositeMessageConverter needs at least one converter")

    def _for_payload(self, payload: object) -> MessageConverter | None:
        return next((c for c in self.converters if c.can_serialize(payload)), None)

    def _for_target(self, target: Any) -> MessageConverter | None:
        return next((c for c in self.converters if c.can_deserialize(target)), None)

    def can_serialize(self, payload: object) -> bool:
        return self._for_payload(payload) is not None

    def serialize(self, payload: object) -> bytes:
        converter = self._for_payload(payload)
        if converter is None:
            raise MessageConversionError(
                f"no message converter can serialize a {type(payload).__qualname__}"
            )
        return converter.serialize(payload)

    def can_deserialize(self, target: Any) -> bool:
        return self._for_target(target) is not None

    def deserialize(self, body: bytes, target: Any) -> object:
        converter = self._for_target(target)
        if converter is None:
            raise MessageConversionError(
                f"no message converter can produce {describe_type(target)}"
            )
        return converter.deserialize(body, target)


DEFAULT_CONVERTERS: tuple[MessageConverter, ...] = (
    BytesMessageConverter(),
    StringMessageConverter(),
    JsonMessageConverter(),
)


def default_converter(extra: Iterable[MessageConverter] = ()) -> CompositeMessageConverter:
    """``extra`` converters (tried first) followed by bytes, str and JSON."""
    return CompositeMessageConverter([*extra, *DEFAULT_CONVERTERS])
