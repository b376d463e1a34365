"""Subscription groups (consumer group settings) and ``config/subscriptionGroup.json``.

File shape (reference §5.6): ``{"dataVersion":{...},"forbiddenTable":{},
"subscriptionGroupTable":{"g":{SubscriptionGroupConfig}}}``. Members of SubscriptionGroupConfig
are in reference §3.6; members this broker does not interpret (``groupRetryPolicy``,
``subscriptionDataSet``, future ones) are kept verbatim so an mqadmin round trip loses nothing.

A group is created on first use (heartbeat, pull, send-back) when ``autoCreateSubscriptionGroup``
is on, and always for RocketMQ's system groups (``CID_RMQ_SYS_*`` and the built-in ones).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.managers.persistence import (
    ConfigWriter,
    SyncConfigWriter,
    data_version_of,
    load_json,
    table_of,
)
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.data_version import DataVersion

__all__ = ["SYS_CONSUMER_GROUP_PREFIX", "SubscriptionGroupConfig", "SubscriptionGroupManager"]

logger = logging.getLogger(__name__)

SYS_CONSUMER_GROUP_PREFIX = "CID_RMQ_SYS_"
BUILTIN_GROUPS = (
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_RMQ_SYS_TRANS",
)

# python name -> (JSON name, default)
_FIELDS: dict[str, tuple[str, Any]] = {
    "consume_enable": ("consumeEnable", True),
    "consume_from_min_enable": ("consumeFromMinEnable", True),
    "consume_broadcast_enable": ("consumeBroadcastEnable", True),
    "consume_message_orderly": ("consumeMessageOrderly", False),
    "retry_queue_nums": ("retryQueueNums", 1),
    "retry_max_times": ("retryMaxTimes", 16),
    "broker_id": ("brokerId", 0),
    "which_broker_when_consume_slowly": ("whichBrokerWhenConsumeSlowly", 1),
    "notify_consumer_ids_changed_enable": ("notifyConsumerIdsChangedEnable", True),
    "group_sys_flag": ("groupSysFlag", 0),
    "consume_timeout_minute": ("consumeTimeoutMinute", 15),
}


@dataclass(slots=True)
class SubscriptionGroupConfig:
    """One consumer group's settings (Java ``SubscriptionGroupConfig``)."""

    group_name: str
    consume_enable: bool = True
    consume_from_min_enable: bool = True
    consume_broadcast_enable: bool = True
    consume_message_orderly: bool = False
    retry_queue_nums: int = 1
    retry_max_times: int = 16
    broker_id: int = 0
    which_broker_when_consume_slowly: int = 1
    notify_consumer_ids_changed_enable: bool = True
    group_sys_flag: int = 0
    consume_timeout_minute: int = 15
    attributes: dict[str, str] = field(default_factory=dict)
    group_retry_policy: dict[str, Any] = field(default_factory=lambda: {"type": "CUSTOMIZED"})
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The fastjson object (keys sorted); uninterpreted members are written back."""
        out: dict[str, Any] = dict(self.extra)
        out["groupName"] = self.group_name
        out["attributes"] = dict(self.attributes)
        out["groupRetryPolicy"] = self.group_retry_policy
        for name, (key, _default) in _FIELDS.items():
            out[key] = getattr(self, name)
        return {k: out[k] for k in sorted(out)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], name: str | None = None) -> SubscriptionGroupConfig:
        """Read a SubscriptionGroupConfig object; raises ValueError on malformed members."""
        group = data.get("groupName") or name
        if not isinstance(group, str) or not group:
            raise ValueError("subscription group config without groupName")
        values: dict[str, Any] = {}
        for pyname, (key, default) in _FIELDS.items():
            if key in data and data[key] is not None:
                values[pyname] = _coerce(key, data[key], type(default))
        attributes = data.get("attributes") or {}
        policy = data.get("groupRetryPolicy") or {"type": "CUSTOMIZED"}
        if not isinstance(attributes, dict) or not isinstance(policy, dict):
            raise ValueError(f"group {group}: attributes/groupRetryPolicy must be objects")
        known = {key for key, _ in _FIELDS.values()} | {
            "groupName",
            "attributes",
            "groupRetryPolicy",
        }
        extra = {str(k): v for k, v in data.items() if k not in known and v is not None}
        return cls(
            group_name=group,
            attributes={str(k): str(v) for k, v in attributes.items()},
            group_retry_policy=dict(policy),
            extra=extra,
            **values,
        )

    def copy(self) -> SubscriptionGroupConfig:
        """An independent copy."""
        return dataclasses.replace(
            self,
            attributes=dict(self.attributes),
            group_retry_policy=dict(self.group_retry_policy),
            extra=dict(self.extra),
        )


def _coerce(key: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"{key} must be a boolean, got {value!r}")
    if isinstance(value, bool):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be an integer, got {value!r}") from None


def is_sys_consumer_group(group: str) -> bool:
    """True for RocketMQ's internal groups (``CID_RMQ_SYS_*``)."""
    return group.startswith(SYS_CONSUMER_GROUP_PREFIX)


class SubscriptionGroupManager:
    """The broker's subscription group table."""

    def __init__(
        self,
        config: Callable[[], BrokerConfig],
        path: Path | None = None,
        writer: ConfigWriter | None = None,
    ) -> None:
        self._config = config
        self._path = path
        self._writer: ConfigWriter = writer or SyncConfigWriter()
        self._table: dict[str, SubscriptionGroupConfig] = {
            name: SubscriptionGroupConfig(name) for name in BUILTIN_GROUPS
        }
        self._forbidden: dict[str, Any] = {}
        self.data_version = DataVersion.now()

    def load(self) -> None:
        """Merge ``subscriptionGroup.json`` (or its ``.bak``) over the built-in groups.

        A missing file loads nothing; a damaged one (no usable copy, or a table that is not an
        object) raises ConfigError naming it. A malformed entry is logged and skipped.
        """
        if self._path is None:
            return
        data = load_json(self._path)
        if data is None:
            return
        table = table_of(data, "subscriptionGroupTable", self._path)
        forbidden = table_of(data, "forbiddenTable", self._path)
        self.data_version = data_version_of(data, self._path)
        if forbidden:
            self._forbidden = forbidden
        for name, raw in table.items():
            try:
                item = SubscriptionGroupConfig.from_json(raw, str(name))
            except (TypeError, ValueError, AttributeError) as exc:
                logger.error("%s: skipping group %r: %s", self._path, name, exc)
                continue
            self._table[item.group_name] = item

    def select(self, group: str) -> SubscriptionGroupConfig | None:
        """The config of ``group`` without creating it."""
        return self._table.get(group)

    def find_subscription_group_config(self, group: str) -> SubscriptionGroupConfig | None:
        """The config of ``group``, created with defaults when auto-creation allows it."""
        found = self._table.get(group)
        if found is not None:
            return found
        if not (self._config().auto_create_subscription_group or is_sys_consumer_group(group)):
            return None
        created = SubscriptionGroupConfig(group)
        logger.info("auto-created subscription group %s", group)
        self._put(created)
        return created

    def update_subscription_group_config(self, item: SubscriptionGroupConfig) -> None:
        """Create or replace a group (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)."""
        self._put(item)

    def delete_subscription_group_config(self, group: str) -> bool:
        """Remove ``group``; True when it existed."""
        if self._table.pop(group, None) is None:
            return False
        self._changed()
        return True

    def __contains__(self, group: object) -> bool:
        return group in self._table

    def __iter__(self) -> Iterator[SubscriptionGroupConfig]:
        return iter(list(self._table.values()))

    def _put(self, item: SubscriptionGroupConfig) -> None:
        self._table[item.group_name] = item
        self._changed()

    def _changed(self) -> None:
        self.data_version.next_version()
        self.persist()

    def to_json(self) -> dict[str, Any]:
        """SubscriptionGroupWrapper (file content and GET_ALL_SUBSCRIPTIONGROUP_CONFIG body)."""
        return {
            "dataVersion": self.data_version.to_json(),
            "forbiddenTable": self._forbidden,
            "subscriptionGroupTable": {
                name: self._table[name].to_json() for name in sorted(self._table)
            },
        }

    def encode(self) -> bytes:
        """The ``subscriptionGroup.json`` content."""
        return fastjson.dumps(self.to_json())

    def persist(self) -> None:
        """Write the file (through the configured writer)."""
        if self._path is not None:
            self._writer.write(self._path, self.encode())
