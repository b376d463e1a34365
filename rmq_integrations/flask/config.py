"""The extension's ``ROCKETMQ_*`` configuration keys: defaults and validation.

==================================== ============ ==============================================
key                                  default      meaning
==================================== ============ ==============================================
``ROCKETMQ_NAMESRV_ADDR``            None         ``"host:port[;host:port]"``; required (falls
                                                  back to the ``NAMESRV_ADDR`` environment
                                                  variable)
``ROCKETMQ_PRODUCER_GROUP``          derived      producer group of the app's template
                                                  (``<app name>-producer``)
``ROCKETMQ_SEND_TIMEOUT``            3.0          seconds a send may take, retries included
``ROCKETMQ_PRODUCER_OPTIONS``        {}           more ProducerConfig fields
``ROCKETMQ_CONSUMER_OPTIONS``        {}           PushConsumerConfig fields for every listener
                                                  (a listener's own arguments win)
``ROCKETMQ_START_LISTENERS``         False        start the listeners in ``init_app`` (else:
                                                  ``flask rocketmq consume`` or
                                                  ``RocketMQ.start_listeners()``)
``ROCKETMQ_INSTANCE_NAME``           None         client instance name; None gives each app
                                                  its own (``<app>-<pid>-<n>``)
``ROCKETMQ_SHUTDOWN_TIMEOUT``        10.0         seconds each consumer gets to finish its
                                                  in-flight handlers on shutdown
==================================== ============ ==============================================

Unknown ``ROCKETMQ_*`` keys are an error (a typo would otherwise be silently ignored).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rmq_core import ClientError
from rmq_core.client import ProducerConfig, PushConsumerConfig

__all__ = ["DEFAULTS", "PREFIX", "ExtensionSettings", "RocketMQConfigError", "read_settings"]

PREFIX = "ROCKETMQ_"
DEFAULTS: dict[str, Any] = {
    "ROCKETMQ_NAMESRV_ADDR": None,
    "ROCKETMQ_PRODUCER_GROUP": None,
    "ROCKETMQ_SEND_TIMEOUT": 3.0,
    "ROCKETMQ_PRODUCER_OPTIONS": {},
    "ROCKETMQ_CONSUMER_OPTIONS": {},
    "ROCKETMQ_START_LISTENERS": False,
    "ROCKETMQ_INSTANCE_NAME": None,
    "ROCKETMQ_SHUTDOWN_TIMEOUT": 10.0,
}
_ADDRESS = re.compile(r"^[^\s:;]+:\d{1,5}$")


class RocketMQConfigError(ClientError):
    """The app's ``ROCKETMQ_*`` configuration is missing or wrong (raised by ``init_app``)."""


@dataclass(frozen=True, slots=True)
class ExtensionSettings:
    """Validated settings of one app."""

    namesrv_addr: str
    producer_group: str
    send_timeout: float
    producer_options: Mapping[str, Any]
    consumer_options: Mapping[str, Any]
    start_listeners: bool
    instance_name: str | None
    shutdown_timeout: float


def _safe_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text) or "flask"


def _namesrv(config: Mapping[str, Any]) -> str:
    value = config.get("ROCKETMQ_NAMESRV_ADDR") or os.environ.get("NAMESRV_ADDR")
    if not value:
        raise RocketMQConfigError(
            "ROCKETMQ_NAMESRV_ADDR is not set: put the NameServer address ('host:port', several "
            "separated by ';') in app.config['ROCKETMQ_NAMESRV_ADDR'] or the NAMESRV_ADDR "
            "environment variable before init_app()"
        )
    if not isinstance(value, str):
        raise RocketMQConfigError(f"ROCKETMQ_NAMESRV_ADDR must be a string, not {value!r}")
    for address in (a.strip() for a in value.replace(",", ";").split(";")):
        if address and not _ADDRESS.match(address):
            raise RocketMQConfigError(
                f"ROCKETMQ_NAMESRV_ADDR holds a bad address {address!r}: expected host:port"
            )
    return value


_RESERVED = {
    "namesrv_addr": "ROCKETMQ_NAMESRV_ADDR",
    "instance_name": "ROCKETMQ_INSTANCE_NAME",
    "producer_group": "ROCKETMQ_PRODUCER_GROUP",
    "send_msg_timeout": "ROCKETMQ_SEND_TIMEOUT",
    "consumer_group": "the listener's group argument",
}


def _options(config: Mapping[str, Any], key: str, cls: type) -> dict[str, Any]:
    value = config.get(key) or {}
    if not isinstance(value, Mapping):
        raise RocketMQConfigError(f"{key} must be a mapping of option names to values")
    for name in value:
        if name in _RESERVED:
            raise RocketMQConfigError(f"{key} must not set {name}: use {_RESERVED[name]}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise RocketMQConfigError(
            f"{key} has unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return dict(value)


def _seconds(config: Mapping[str, Any], key: str) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RocketMQConfigError(f"{key} must be a positive number of seconds, not {value!r}")
    return float(value)


def read_settings(config: Mapping[str, Any], app_name: str) -> ExtensionSettings:
    """Validate an app's config (defaults already applied); raises RocketMQConfigError."""
    unknown = sorted(k for k in config if k.startswith(PREFIX) and k not in DEFAULTS)
    if unknown:
        raise RocketMQConfigError(
            f"unknown configuration key(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}"
        )
    group = config.get("ROCKETMQ_PRODUCER_GROUP") or f"{_safe_name(app_name)}-producer"
    instance = config.get("ROCKETMQ_INSTANCE_NAME")
    return ExtensionSettings(
        namesrv_addr=_namesrv(config),
        producer_group=str(group),
        send_timeout=_seconds(config, "ROCKETMQ_SEND_TIMEOUT"),
        producer_options=_options(config, "ROCKETMQ_PRODUCER_OPTIONS", ProducerConfig),
        consumer_options=_options(config, "ROCKETMQ_CONSUMER_OPTIONS", PushConsumerConfig),
        start_listeners=bool(config.get("ROCKETMQ_START_LISTENERS")),
        instance_name=str(instance) if instance else None,
        shutdown_timeout=_seconds(config, "ROCKETMQ_SHUTDOWN_TIMEOUT"),
    )
