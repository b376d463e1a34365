"""``BrokerConfig``: the broker's own settings, loaded from RocketMQ's camelCase ``broker.conf``.

Every field carries its ``broker.conf`` key in its metadata (``key``) and, for durations, the
unit used in the file (``unit="ms"``): the Python API uses **seconds**, the file and the wire
use milliseconds, exactly as RocketMQ names them (``shortPollingTimeMills``...).

A ``broker.conf`` mixes broker keys with message store keys (``storePathRootDir``,
``flushDiskType``...); :mod:`rmq_core.broker.conf_file` splits one into both configs. Unknown
keys are an error (:class:`ConfigError`), never silently ignored.

Fields marked ``mutable`` may be changed at runtime by UPDATE_BROKER_CONFIG: every consumer of
the config reads it through the broker context each time instead of caching a value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmq_core.common.delay_levels import parse_delay_levels
from rmq_core.errors import RocketMQError

__all__ = [
    "DEFAULT_BROKER_NAME",
    "DEFAULT_CLUSTER_NAME",
    "DEFAULT_LISTEN_PORT",
    "DEFAULT_REGION_ID",
    "BrokerConfig",
    "ConfigError",
]

DEFAULT_CLUSTER_NAME = "DefaultCluster"
DEFAULT_BROKER_NAME = "broker-a"
DEFAULT_LISTEN_PORT = 10911
DEFAULT_REGION_ID = "DefaultRegion"
DEFAULT_TOPIC_QUEUE_NUMS = 8
PERM_READ_WRITE = 6
MASTER_ROLES = ("ASYNC_MASTER", "SYNC_MASTER")


class ConfigError(RocketMQError, ValueError):
    """A configuration file or update names an unknown key or holds a malformed value."""


def _opt(key: str, default: Any, *, unit: str = "", mutable: bool = False, doc: str = "") -> Any:
    return field(
        default=default, metadata={"key": key, "unit": unit, "mutable": mutable, "doc": doc}
    )


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Broker settings. Durations are seconds (``float``); see the module docstring."""

    broker_cluster_name: str = _opt(
        "brokerClusterName", DEFAULT_CLUSTER_NAME, doc="cluster this broker registers in"
    )
    broker_name: str = _opt("brokerName", DEFAULT_BROKER_NAME, doc="broker (replica set) name")
    broker_id: int = _opt("brokerId", 0, doc="0 = master; only masters are supported")
    broker_role: str = _opt(
        "brokerRole", "ASYNC_MASTER", doc="ASYNC_MASTER or SYNC_MASTER (no slaves yet)"
    )
    broker_ip1: str = _opt(
        "brokerIP1", "127.0.0.1", doc="address published to NameServers and in message ids"
    )
    broker_ip2: str = _opt("brokerIP2", "", doc="HA address published to NameServers (= IP1)")
    bind_address: str = _opt(
        "bindAddress", "127.0.0.1", doc="interface the ports listen on (0.0.0.0: all)"
    )
    listen_port: int = _opt(
        "listenPort", DEFAULT_LISTEN_PORT, doc="main port; the fast port is main-2 (off for 0)"
    )
    namesrv_addr: str = _opt("namesrvAddr", "", doc="NameServers, `host:port` separated by `;`")
    broker_permission: int = _opt(
        "brokerPermission", PERM_READ_WRITE, mutable=True, doc="PermName bits: 6 RW, 4 R, 2 W"
    )
    default_topic_queue_nums: int = _opt(
        "defaultTopicQueueNums", DEFAULT_TOPIC_QUEUE_NUMS, doc="queues of TBW102"
    )
    auto_create_topic_enable: bool = _opt(
        "autoCreateTopicEnable", True, mutable=True, doc="create topics on first send"
    )
    cluster_topic_enable: bool = _opt(
        "clusterTopicEnable", True, doc="cluster-name topic is readable/writable"
    )
    broker_topic_enable: bool = _opt(
        "brokerTopicEnable", True, doc="broker-name topic is readable/writable"
    )
    trace_topic_enable: bool = _opt(
        "traceTopicEnable", False, doc="create the message trace topic at start"
    )
    msg_trace_topic_name: str = _opt(
        "msgTraceTopicName", "RMQ_SYS_TRACE_TOPIC", doc="name of the trace topic"
    )
    auto_create_subscription_group: bool = _opt(
        "autoCreateSubscriptionGroup", True, mutable=True, doc="create groups on first use"
    )
    long_polling_enable: bool = _opt(
        "longPollingEnable", True, mutable=True, doc="hold pulls up to suspendTimeoutMillis"
    )
    short_polling_time: float = _opt(
        "shortPollingTimeMills", 1.0, unit="ms", mutable=True, doc="hold time without long polling"
    )
    notify_consumer_ids_changed_enable: bool = _opt(
        "notifyConsumerIdsChangedEnable",
        True,
        mutable=True,
        doc="send NOTIFY_CONSUMER_IDS_CHANGED on membership changes",
    )
    region_id: str = _opt("regionId", DEFAULT_REGION_ID, mutable=True, doc="MSG_REGION")
    trace_on: bool = _opt("traceOn", True, mutable=True, doc="TRACE_ON in send responses")
    enable_property_filter: bool = _opt(
        "enablePropertyFilter", False, mutable=True, doc="allow SQL92 subscriptions"
    )
    filter_support_retry: bool = _opt(
        "filterSupportRetry", False, mutable=True, doc="apply SQL92 filters to %RETRY% topics"
    )
    register_name_server_period: float = _opt(
        "registerNameServerPeriod", 30.0, unit="ms", doc="REGISTER_BROKER interval"
    )
    register_broker_timeout: float = _opt(
        "registerBrokerTimeoutMills", 24.0, unit="ms", doc="timeout of one REGISTER_BROKER"
    )
    channel_expired_timeout: float = _opt(
        "channelExpiredTimeout", 120.0, unit="ms", doc="drop clients silent for this long"
    )
    flush_consumer_offset_interval: float = _opt(
        "flushConsumerOffsetInterval", 5.0, unit="ms", doc="consumerOffset.json write interval"
    )
    send_thread_pool_queue_capacity: int = _opt(
        "sendThreadPoolQueueCapacity", 10000, doc="pending sends before SYSTEM_BUSY"
    )
    pull_thread_pool_queue_capacity: int = _opt(
        "pullThreadPoolQueueCapacity", 100000, doc="pending pulls before SYSTEM_BUSY"
    )
    admin_broker_thread_pool_queue_capacity: int = _opt(
        "adminBrokerThreadPoolQueueCapacity", 10000, doc="pending admin calls before SYSTEM_BUSY"
    )
    message_delay_level: str = _opt(
        "messageDelayLevel",
        "",
        doc="kept for compatibility: the table is StoreConfig's (empty here: use the store's)",
    )
    max_suspended_pulls: int = _opt(
        "maxSuspendedPullRequests", 100000, doc="long-polling holds before answering at once"
    )
    reject_transaction_message: bool = _opt(
        "rejectTransactionMessage", False, mutable=True, doc="refuse transactional sends"
    )
    transaction_timeout: float = _opt(
        "transactionTimeOut", 6.0, unit="ms", mutable=True, doc="half messages younger: unchecked"
    )
    transaction_check_max: int = _opt(
        "transactionCheckMax", 15, mutable=True, doc="check-backs before a half message is dropped"
    )
    transaction_check_interval: float = _opt(
        "transactionCheckInterval", 30.0, unit="ms", mutable=True, doc="transaction check period"
    )

    def __post_init__(self) -> None:
        if self.broker_id != 0:
            raise ConfigError(f"brokerId={self.broker_id}: only masters (brokerId=0) are supported")
        if self.broker_role not in MASTER_ROLES:
            raise ConfigError(
                f"brokerRole={self.broker_role}: only {' and '.join(MASTER_ROLES)} are supported"
            )
        if self.message_delay_level.strip():
            try:
                parse_delay_levels(self.message_delay_level)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if not 0 <= self.listen_port <= 65535:
            raise ConfigError(f"listenPort={self.listen_port} is not a TCP port")
        if self.transaction_check_interval <= 0 or self.transaction_check_max < 0:
            raise ConfigError("transactionCheckInterval must be > 0, transactionCheckMax >= 0")
        if self.broker_permission & ~0b1110:
            raise ConfigError(f"brokerPermission={self.broker_permission}: use 2, 4 or 6")
        for item in dataclasses.fields(self):
            if item.metadata["unit"] == "ms" and getattr(self, item.name) < 0:
                raise ConfigError(f"{item.metadata['key']} must not be negative")

    # --- properties <-> config ---------------------------------------------------------

    @classmethod
    def keys(cls) -> frozenset[str]:
        """Every ``broker.conf`` key this class understands."""
        return frozenset(f.metadata["key"] for f in dataclasses.fields(cls))

    @classmethod
    def mutable_keys(cls) -> frozenset[str]:
        """Keys UPDATE_BROKER_CONFIG may change while the broker runs."""
        return frozenset(
            f.metadata["key"] for f in dataclasses.fields(cls) if f.metadata["mutable"]
        )

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> BrokerConfig:
        """Build a config from camelCase keys; unknown keys raise :class:`ConfigError`."""
        return cls().with_properties(props)

    def with_properties(self, props: Mapping[str, str]) -> BrokerConfig:
        """Return a copy with ``props`` applied; unknown keys or bad values raise ConfigError."""
        by_key = {f.metadata["key"]: f for f in dataclasses.fields(self)}
        unknown = sorted(set(props) - set(by_key))
        if unknown:
            raise ConfigError(f"unknown broker config key(s): {', '.join(unknown)}")
        changes = {
            by_key[key].name: _convert(key, by_key[key], text) for key, text in props.items()
        }
        return dataclasses.replace(self, **changes)

    def to_properties(self) -> dict[str, str]:
        """Every key with its value as written in a ``broker.conf`` (durations in ms); an unset
        ``messageDelayLevel`` is left out (the store's value is the one in force)."""
        out: dict[str, str] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name == "message_delay_level" and not value.strip():
                continue
            if item.metadata["unit"] == "ms":
                out[item.metadata["key"]] = str(round(value * 1000))
            elif isinstance(value, bool):
                out[item.metadata["key"]] = "true" if value else "false"
            else:
                out[item.metadata["key"]] = str(value)
        return out

    # --- derived values ------------------------------------------------------------------

    @property
    def namesrv_addresses(self) -> list[str]:
        """NameServer addresses from ``namesrvAddr`` (``;`` separated, blanks dropped)."""
        return [a.strip() for a in self.namesrv_addr.split(";") if a.strip()]

    @property
    def is_writeable(self) -> bool:
        """True when ``brokerPermission`` grants PERM_WRITE."""
        return bool(self.broker_permission & 2)

    @property
    def is_readable(self) -> bool:
        """True when ``brokerPermission`` grants PERM_READ."""
        return bool(self.broker_permission & 4)


def _convert(key: str, item: dataclasses.Field[Any], text: str) -> Any:
    text = str(text).strip()
    kind: type = type(item.default)
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false"):
                raise ValueError(text)
            return lowered == "true"
        if item.metadata["unit"] == "ms":
            return int(text) / 1000.0
        if kind is int:
            return int(text)
    except ValueError:
        expected = "true/false" if kind is bool else "an integer"
        raise ConfigError(f"{key}={text!r}: expected {expected}") from None
    return text
