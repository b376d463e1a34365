"""``TopicConfig`` as it travels in REGISTER_BROKER bodies (``TopicConfig.java``, reference §3.4).

Two encodings:

- JSON object ``{"attributes":{},"order":false,"perm":6,"readQueueNums":8,
  "topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":8}``;
- the text of ``TopicConfig.encode()`` used by compressed bodies:
  ``name read write perm filterType [attributesJson]`` (single spaces).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.common.perm import PERM_READ_WRITE
from rmq_core.remoting.bodies.fields import (
    BodyError,
    as_bool,
    as_int,
    as_map,
    as_str,
    load_object,
)

__all__ = ["TopicConfig"]


@dataclass(slots=True)
class TopicConfig:
    """One topic as a broker reports it; defaults are RocketMQ's."""

    topic_name: str
    read_queue_nums: int = 16
    write_queue_nums: int = 16
    perm: int = PERM_READ_WRITE
    topic_filter_type: str = "SINGLE_TAG"
    topic_sys_flag: int = 0
    order: bool = False
    attributes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object (keys as fastjson sorts them)."""
        return {
            "attributes": dict(self.attributes),
            "order": self.order,
            "perm": self.perm,
            "readQueueNums": self.read_queue_nums,
            "topicFilterType": self.topic_filter_type,
            "topicName": self.topic_name,
            "topicSysFlag": self.topic_sys_flag,
            "writeQueueNums": self.write_queue_nums,
        }

    @classmethod
    def from_json(cls, obj: object, name: str) -> TopicConfig:
        """Read the JSON object of topic ``name`` (its ``topicName`` wins when present)."""
        if not isinstance(obj, Mapping):
            raise BodyError(f"topic config of {name!r} must be an object")
        attributes = _attributes(as_map(obj, "attributes"), name)
        return cls(
            topic_name=as_str(obj, "topicName", name),
            read_queue_nums=as_int(obj, "readQueueNums", 16),
            write_queue_nums=as_int(obj, "writeQueueNums", 16),
            perm=as_int(obj, "perm", PERM_READ_WRITE),
            topic_filter_type=as_str(obj, "topicFilterType", "SINGLE_TAG"),
            topic_sys_flag=as_int(obj, "topicSysFlag", 0),
            order=as_bool(obj, "order", False),
            attributes=attributes,
        )

    @property
    def queue_count(self) -> int:
        """Queues that exist for reads or writes: ``max(read, write)``."""
        return max(self.read_queue_nums, self.write_queue_nums)

    def to_text(self) -> str:
        """``TopicConfig.encode()``: ``name read write perm filterType attributesJson``."""
        attributes = json.dumps(self.attributes, sort_keys=True, separators=(",", ":"))
        return (
            f"{self.topic_name} {self.read_queue_nums} {self.write_queue_nums} "
            f"{self.perm} {self.topic_filter_type} {attributes}"
        )

    @classmethod
    def from_text(cls, text: str) -> TopicConfig:
        """Parse ``TopicConfig.encode()`` text (the attributes part is optional)."""
        parts = text.split(" ", 5)
        if len(parts) < 5:
            raise BodyError(f"compressed topic config {text[:80]!r} has fewer than 5 fields")
        try:
            read, write, perm = int(parts[1]), int(parts[2]), int(parts[3])
        except ValueError as exc:
            raise BodyError(f"compressed topic config {text[:80]!r}: {exc}") from exc
        attributes: dict[str, str] = {}
        if len(parts) == 6 and parts[5].strip():
            doc = load_object(parts[5], f"attributes of topic {parts[0]!r}")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
                raise BodyError(f"attributes of topic {parts[0]!r} must map strings to strings")
            attributes = dict(doc)
        return cls(
            topic_name=parts[0],
            read_queue_nums=read,
            write_queue_nums=write,
            perm=perm,
            topic_filter_type=parts[4],
            attributes=attributes,
        )


def _attributes(raw: Mapping[Any, Any], name: str) -> dict[str, str]:
    """``Map<String,String>`` as fastjson reads it: numbers and booleans become their text."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int):
            value = str(value)
        if not isinstance(key, str) or not isinstance(value, str):
            raise BodyError(f"attributes of topic {name!r} must map strings to strings")
        out[key] = value
    return out
