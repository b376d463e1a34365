"""Lenient field readers for JSON bodies, the way fastjson reads Java beans (reference §1.9).

Map keys may be bare numbers, numbers may arrive as numeric strings, unknown properties are
ignored. Anything that still does not fit raises :class:`BodyError` naming the field; the
readers never raise anything else on bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rmq_core.errors import RemoteProtocolError
from rmq_core.remoting import fastjson

__all__ = [
    "BodyError",
    "as_bool",
    "as_int",
    "as_list",
    "as_map",
    "as_opt_str",
    "as_str",
    "dumps",
    "load_json",
    "load_object",
    "str_list",
]


class BodyError(RemoteProtocolError):
    """A body that is not the JSON (or compressed) document its request or response needs."""


def as_int(obj: Mapping[Any, Any], key: str, default: int | None = None) -> int:
    """``obj[key]`` as an int (numeric strings and integral floats accepted).

    A missing key gives ``default``; without a default it is an error.
    """
    value = obj.get(key)
    if value is None:
        if default is None:
            raise BodyError(f"missing number {key!r}")
        return default
    if isinstance(value, bool):
        raise BodyError(f"{key!r} must be a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise BodyError(f"{key!r} must be an integer, got {value!r}")


def as_str(obj: Mapping[Any, Any], key: str, default: str | None = None) -> str:
    """``obj[key]`` as a string; a missing key gives ``default`` (required without one)."""
    value = obj.get(key)
    if value is None:
        if default is None:
            raise BodyError(f"missing string {key!r}")
        return default
    if isinstance(value, str):
        return value
    raise BodyError(f"{key!r} must be a string, got {value!r}")


def as_opt_str(obj: Mapping[Any, Any], key: str) -> str | None:
    """``obj[key]`` as a string, or None when absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BodyError(f"{key!r} must be a string, got {value!r}")


def as_bool(obj: Mapping[Any, Any], key: str, default: bool = False) -> bool:
    """``obj[key]`` as a boolean (``"true"``/``"false"`` strings accepted)."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BodyError(f"{key!r} must be a boolean, got {value!r}")


def as_map(obj: Mapping[Any, Any], key: str) -> Mapping[Any, Any]:
    """``obj[key]`` as an object; absent or null gives an empty map."""
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise BodyError(f"{key!r} must be an object, got {type(value).__name__}")


def as_list(obj: Mapping[Any, Any], key: str) -> list[Any]:
    """``obj[key]`` as an array; absent or null gives an empty list."""
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise BodyError(f"{key!r} must be an array, got {type(value).__name__}")


def str_list(values: list[Any], what: str) -> list[str]:
    """``values`` when every item is a string."""
    if not all(isinstance(v, str) for v in values):
        raise BodyError(f"{what} must hold strings only")
    return list(values)


def load_json(data: bytes | str, what: str) -> Any:
    """Parse ``data`` leniently (:func:`fastjson.loads`); empty or malformed is a BodyError."""
    if not data:
        raise BodyError(f"{what}: empty body")
    try:
        return fastjson.loads(data)
    except (ValueError, RemoteProtocolError, UnicodeDecodeError, RecursionError) as exc:
        raise BodyError(f"{what}: malformed JSON: {exc}") from exc


def load_object(data: bytes | str, what: str) -> Mapping[Any, Any]:
    """:func:`load_json` that must give a JSON object."""
    doc = load_json(data, what)
    if not isinstance(doc, Mapping):
        raise BodyError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    return doc


def dumps(obj: object) -> bytes:
    """Compact JSON with sorted keys, as fastjson writes a Java bean (UTF-8)."""
    return fastjson.dumps(obj)
