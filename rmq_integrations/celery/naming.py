"""How kombu names become RocketMQ names.

RocketMQ topic and group names allow only ``[%|a-zA-Z0-9_-]`` (topics at most 127 characters),
while kombu queue names contain dots, ``@`` and colons (``celery@host.celery.pidbox``). A
queue maps to one topic:

- a name that is already legal (and short enough) is used as is, after ``topic_prefix``;
- any other name has each illegal character replaced by ``_``, is cut to
  :data:`MAX_READABLE` characters and gets ``-`` plus the first 10 hex digits of its SHA-1,
  so two different queue names never share a topic.

The queue's consumer group is ``consumer_group_prefix + topic`` (every queue has its own group,
so its position, retries and dead letters are its own: ``%DLQ%<group>``).
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_READABLE", "group_for_topic", "topic_for_queue"]

MAX_TOPIC_LENGTH = 127
MAX_READABLE = 80
_LEGAL = re.compile(r"^[a-zA-Z0-9_-]+$")
_ILLEGAL_CHAR = re.compile(r"[^a-zA-Z0-9_-]")


def topic_for_queue(queue: str, prefix: str = "") -> str:
    """The topic holding kombu queue ``queue`` (see the module docstring)."""
    if not queue:
        raise ValueError("a kombu queue name must not be empty")
    if _LEGAL.match(queue) and len(prefix) + len(queue) <= MAX_TOPIC_LENGTH:
        return prefix + queue
    digest = hashlib.sha1(queue.encode("utf-8")).hexdigest()[:10]
    readable = _ILLEGAL_CHAR.sub("_", queue)[:MAX_READABLE]
    return f"{prefix}{readable}-{digest}"


def group_for_topic(topic: str, prefix: str) -> str:
    """The consumer group that consumes ``topic``'s queue."""
    return prefix + topic
