"""Serializers and deserializers with kafka-python's interface (``kafka.serializer``).

A config value may be a :class:`Serializer`/:class:`Deserializer` (called with
``(topic, headers, data)``) or, as in kafka-python's documented examples, a plain callable
taking only the data; :func:`as_serializer`/:func:`as_deserializer` wrap the latter.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

__all__ = [
    "DefaultSerializer",
    "Deserializer",
    "JsonSerializer",
    "Serializer",
    "as_deserializer",
    "as_serializer",
]

Headers = list[tuple[str, bytes]]


class Serializer(ABC):
    @abstractmethod
    def serialize(self, topic: str, headers: Headers, data: Any) -> bytes | None: ...

    def close(self) -> None:  # noqa: B027 - optional hook, as in kafka-python
        """Release resources; called when the producer closes."""


class Deserializer(ABC):
    @abstractmethod
    def deserialize(self, topic: str, headers: Headers, data: bytes | None) -> Any: ...

    def close(self) -> None:  # noqa: B027 - optional hook, as in kafka-python
        """Release resources; called when the consumer closes."""


class DefaultSerializer(Serializer, Deserializer):
    """bytes pass through; ``str`` is encoded (and decoded) with ``encoding``."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding

    def serialize(self, topic: str, headers: Headers, data: Any) -> bytes | None:
        if data is None or isinstance(data, bytes | bytearray | memoryview):
            return None if data is None else bytes(data)
        return str(data).encode(self.encoding)

    def deserialize(self, topic: str, headers: Headers, data: bytes | None) -> Any:
        return None if data is None else data.decode(self.encoding)


class JsonSerializer(DefaultSerializer):
    """JSON text in ``encoding``; ``None`` stays ``None``."""

    def serialize(self, topic: str, headers: Headers, data: Any) -> bytes | None:
        if data is None:
            return None
        return super().serialize(topic, headers, json.dumps(data))

    def deserialize(self, topic: str, headers: Headers, data: bytes | None) -> Any:
        if data is None:
            return None
        return json.loads(super().deserialize(topic, headers, data))


class _SerializeWrapper(Serializer):
    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def serialize(self, topic: str, headers: Headers, data: Any) -> Any:
        return self.fn(data)


class _DeserializeWrapper(Deserializer):
    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def deserialize(self, topic: str, headers: Headers, data: bytes | None) -> Any:
        return self.fn(data)


def as_serializer(value: Any, name: str) -> Serializer | None:
    """``value`` as a :class:`Serializer` (None stays None); TypeError if not callable."""
    if value is None or isinstance(value, Serializer):
        return value
    if hasattr(value, "serialize"):
        return value  # type: ignore[no-any-return]  # duck-typed (e.g. kafka-python's own)
    if not callable(value):
        raise TypeError(f"{name} must be a Serializer or a callable, not {type(value).__name__}")
    return _SerializeWrapper(value)


def as_deserializer(value: Any, name: str) -> Deserializer | None:
    """``value`` as a :class:`Deserializer` (None stays None); TypeError if not callable."""
    if value is None or isinstance(value, Deserializer):
        return value
    if hasattr(value, "deserialize"):
        return value  # type: ignore[no-any-return]
    if not callable(value):
        raise TypeError(f"{name} must be a Deserializer or a callable, not {type(value).__name__}")
    return _DeserializeWrapper(value)
