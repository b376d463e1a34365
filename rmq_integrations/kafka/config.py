"""kafka-python config keys: which ones mean something on rmq, their defaults, validation.

Every key kafka-python 3.0.12 accepts is accepted here. Keys in the ``*_USED`` sets drive the
shim (see docs/kafka.md for what each maps to); the others are accepted and reported in one
:class:`IgnoredConfigWarning` per client. A key kafka-python does not know raises
:class:`~rmq_integrations.kafka.errors.KafkaConfigurationError`. Durations in these configs
are milliseconds, as in kafka-python.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from rmq_integrations.kafka import errors

__all__ = [
    "ADMIN_DEFAULTS",
    "CONSUMER_DEFAULTS",
    "DEFAULT_NAMESRV_PORT",
    "PRODUCER_DEFAULTS",
    "IgnoredConfigWarning",
    "bootstrap_addresses",
    "positive_ms",
    "resolve",
]

DEFAULT_NAMESRV_PORT = 9876
NAMESRV_ENV = "NAMESRV_ADDR"


class IgnoredConfigWarning(UserWarning):
    """A kafka-python config with no meaning on rmq was given (and is ignored)."""


_COMMON_IGNORED = [
    *("api_version", "bootstrap_timeout_ms", "client_dns_lookup", "connections_max_idle_ms"),
    *("kafka_client", "max_in_flight_requests_per_connection", "metric_reporters"),
    *("metrics_num_samples", "metrics_sample_window_ms", "proxy_url", "receive_buffer_bytes"),
    *("receive_message_max_bytes", "reconnect_backoff_max_ms", "reconnect_backoff_ms"),
    *("sasl_kerberos_domain_name", "sasl_kerberos_name", "sasl_kerberos_service_name"),
    *("sasl_mechanism", "sasl_oauth_token_provider", "sasl_plain_password"),
    *("sasl_plain_username", "security_protocol", "selector", "send_buffer_bytes"),
    *("socket_options", "socks5_proxy", "ssl_cafile", "ssl_certfile", "ssl_check_hostname"),
    *("ssl_ciphers", "ssl_context", "ssl_crlfile", "ssl_keyfile", "ssl_password"),
]

PRODUCER_DEFAULTS: dict[str, Any] = {
    "bootstrap_servers": "localhost",
    "client_id": None,
    "key_serializer": None,
    "value_serializer": None,
    "acks": -1,
    "retries": float("inf"),
    "batch_size": 16384,
    "linger_ms": 0,
    "partitioner": None,
    "max_block_ms": 60000,
    "max_request_size": 1048576,
    "request_timeout_ms": 30000,
    "delivery_timeout_ms": 120000,
    "retry_backoff_ms": 100,
    "allow_auto_create_topics": True,
    "metadata_max_age_ms": 300000,
    "metrics_enabled": True,
    # accepted, no meaning on rmq:
    "compression_type": None,
    "enable_idempotence": True,
    "transactional_id": None,
    "transaction_timeout_ms": 60000,
    **dict.fromkeys(_COMMON_IGNORED),
}
PRODUCER_USED = frozenset(list(PRODUCER_DEFAULTS)[:17])

CONSUMER_DEFAULTS: dict[str, Any] = {
    "bootstrap_servers": "localhost",
    "client_id": None,
    "group_id": None,
    "group_instance_id": None,
    "key_deserializer": None,
    "value_deserializer": None,
    "auto_offset_reset": "latest",
    "enable_auto_commit": True,
    "auto_commit_interval_ms": 5000,
    "default_offset_commit_callback": None,
    "consumer_timeout_ms": float("inf"),
    "max_poll_records": 500,
    "request_timeout_ms": 30000,
    "retry_backoff_ms": 100,
    "fetch_max_wait_ms": 500,
    "heartbeat_interval_ms": 3000,
    "metadata_max_age_ms": 300000,
    "exclude_internal_topics": True,
    "isolation_level": "read_uncommitted",
    "metrics_enabled": True,
    # accepted, no meaning on rmq:
    "allow_auto_create_topics": True,
    "check_crcs": True,
    "client_rack": "",
    "enable_incremental_fetch_sessions": True,
    "fetch_max_bytes": 52428800,
    "fetch_min_bytes": 1,
    "max_partition_fetch_bytes": 1048576,
    "max_poll_interval_ms": 300000,
    "metric_group_prefix": "consumer",
    "partition_assignment_strategy": None,
    "session_timeout_ms": 45000,
    **dict.fromkeys(_COMMON_IGNORED),
}
CONSUMER_USED = frozenset(list(CONSUMER_DEFAULTS)[:20])

ADMIN_DEFAULTS: dict[str, Any] = {
    "bootstrap_servers": "localhost",
    "client_id": None,
    "request_timeout_ms": 30000,
    "metadata_max_age_ms": 300000,
    "retry_backoff_ms": 100,
    **dict.fromkeys(k for k in _COMMON_IGNORED if k != "ssl_ciphers"),
}
ADMIN_USED = frozenset(list(ADMIN_DEFAULTS)[:5])

_USED = {"KafkaProducer": PRODUCER_USED, "KafkaConsumer": CONSUMER_USED}
_DEFAULTS = {
    "KafkaProducer": PRODUCER_DEFAULTS,
    "KafkaConsumer": CONSUMER_DEFAULTS,
    "KafkaAdminClient": ADMIN_DEFAULTS,
}


def resolve(kind: str, configs: Mapping[str, Any]) -> dict[str, Any]:
    """kafka-python's defaults for client ``kind`` overridden by ``configs``.

    Unknown keys raise KafkaConfigurationError; known keys without meaning here produce one
    IgnoredConfigWarning naming them all.
    """
    defaults = _DEFAULTS[kind]
    unknown = sorted(set(configs) - set(defaults))
    if unknown:
        raise errors.KafkaConfigurationError(
            f"Unrecognized configs for {kind}: {', '.join(unknown)} "
            "(kafka-python 3.0.12 does not know them either)"
        )
    used = _USED.get(kind, ADMIN_USED)
    ignored = sorted(k for k in configs if k not in used)
    if ignored:
        warnings.warn(
            f"{kind}: config(s) {', '.join(ignored)} have no meaning on rmq and are ignored "
            "(see docs/kafka.md)",
            IgnoredConfigWarning,
            stacklevel=3,
        )
    merged = dict(defaults)
    merged.update(configs)
    if "bootstrap_servers" not in configs and os.environ.get(NAMESRV_ENV):
        merged["bootstrap_servers"] = os.environ[NAMESRV_ENV]
    return merged


def bootstrap_addresses(value: str | Iterable[str]) -> tuple[str, ...]:
    """NameServer addresses from ``bootstrap_servers``: ``"h1:9876,h2"`` or a list; a host
    without a port gets 9876 (RocketMQ's NameServer port, not Kafka's 9092)."""
    if isinstance(value, str):
        parts = value.replace(";", ",").split(",")
    elif isinstance(value, Iterable):
        parts = [str(p) for p in value]
    else:
        raise errors.KafkaConfigurationError(
            f"bootstrap_servers must be a str or a list of str, not {type(value).__name__}"
        )
    addresses = []
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep:
            host, port = part, str(DEFAULT_NAMESRV_PORT)
        if not host or not port.isdigit():
            raise errors.KafkaConfigurationError(
                f"bad bootstrap server {part!r}: expected host[:port] of a NameServer"
            )
        addresses.append(f"{host}:{port}")
    if not addresses:
        raise errors.KafkaConfigurationError("bootstrap_servers names no NameServer")
    return tuple(addresses)


def positive_ms(configs: Mapping[str, Any], key: str) -> float:
    """``configs[key]`` (milliseconds) as seconds; KafkaConfigurationError unless a number >= 0."""
    value = configs[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise errors.KafkaConfigurationError(f"{key} must be a number of milliseconds >= 0")
    return float(value) / 1000.0
