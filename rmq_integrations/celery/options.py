"""Transport options of the ``rocketmq://`` kombu transport (Celery's
``broker_transport_options``), validated once per connection.

========================  ===========  ========================================================
option                    default      meaning
========================  ===========  ========================================================
``namesrv_addr``          URL host     NameServer(s) ``host:port;host:port`` (overrides the URL)
``invisible_time``        30.0         seconds a received message stays invisible to others
``renew_invisible``       True         keep received, unacknowledged messages invisible while
                                       the worker holds them (ETA tasks, long tasks)
``polling_interval``      None         seconds slept between empty polls (None: long polling)
``long_poll``             5.0          seconds a pop waits on the broker for a message
``consumer_group_prefix`` ``kombu-``   consumer group = prefix + topic
``topic_prefix``          ``""``       prepended to every topic made from a queue name
``queue_nums``            1            queues of each topic the transport creates
``max_prefetch``          64           messages buffered per channel when prefetch is 0
``producer_group``        ``kombu-``   producer group of the transport's producer
                          ``producer``
``send_timeout``          3.0          seconds for one publish (retries included)
``binding_ttl``           1.0          seconds a binding table read from the NameServer is
                                       reused for direct/topic routing (a miss re-reads it)
``dead_letter_rejected``  True         ``reject(requeue=False)`` moves the message to the DLQ
========================  ===========  ========================================================

Unknown option names are an error (a typo never goes unnoticed); kombu's own options
(``visibility_timeout`` is *not* one of them, use ``invisible_time``) pass through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from rmq_core import ClientError

__all__ = ["KOMBU_OPTIONS", "TransportConfigError", "TransportOptions"]

#: options kombu/Celery themselves put into ``transport_options``; accepted and ignored here
KOMBU_OPTIONS = frozenset(
    {
        "body_encoding",
        "deadletter_queue",
        "max_retries",
        "interval_start",
        "interval_step",
        "interval_max",
        "confirm_publish",
        "client_properties",
    }
)


class TransportConfigError(ClientError, ValueError):
    """A malformed broker URL or transport option (never retried: fix the configuration)."""


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """Validated transport options (see the module docstring). Durations are seconds."""

    namesrv_addr: str = ""
    invisible_time: float = 30.0
    renew_invisible: bool = True
    polling_interval: float | None = None
    long_poll: float = 5.0
    consumer_group_prefix: str = "kombu-"
    topic_prefix: str = ""
    queue_nums: int = 1
    max_prefetch: int = 64
    producer_group: str = "kombu-producer"
    send_timeout: float = 3.0
    binding_ttl: float = 1.0
    dead_letter_rejected: bool = True

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> TransportOptions:
        """Options from ``raw``; TransportConfigError naming the bad option."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name in KOMBU_OPTIONS:
                continue
            if name not in known:
                raise TransportConfigError(
                    f"unknown rocketmq transport option {name!r}; known: {', '.join(sorted(known))}"
                )
            values[name] = _convert(name, value, cls.__dataclass_fields__[name].default)
        options = cls(**values)
        options.check()
        return options

    def check(self) -> None:
        """Raise TransportConfigError for out-of-range values."""
        ranges = (
            ("invisible_time", self.invisible_time, 0.001, 43_200.0),
            ("long_poll", self.long_poll, 0.0, 60.0),
            ("queue_nums", self.queue_nums, 1, 1024),
            ("max_prefetch", self.max_prefetch, 1, 10_000),
            ("send_timeout", self.send_timeout, 0.001, 3600.0),
            ("binding_ttl", self.binding_ttl, 0.0, 3600.0),
        )
        for name, value, low, high in ranges:
            if not low <= value <= high:
                raise TransportConfigError(f"{name} must be in [{low}, {high}], got {value}")
        if self.polling_interval is not None and self.polling_interval < 0:
            raise TransportConfigError(
                f"polling_interval must be >= 0, got {self.polling_interval}"
            )


def _convert(name: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float) or (default is None and name == "polling_interval"):
            return None if value is None else float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise TransportConfigError(f"rocketmq transport option {name}={value!r}: {exc}") from exc
