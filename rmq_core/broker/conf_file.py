"""Reading a RocketMQ ``broker.conf``: one ``.properties`` file, two configs.

Keys are split between :class:`~rmq_core.broker.config.BrokerConfig` and the store's
:class:`~rmq_core.store.config.StoreConfig`; RocketMQ 4.x's misspelled ``mapedFileSize*`` keys
are accepted as aliases. A key neither config knows is a :class:`ConfigError` naming it.

``messageDelayLevel`` is the store's: the store stamps schedule-topic delivery times with the
table and the broker delivers by it, so there is one table, ``StoreConfig.message_delay_level``.
``BrokerConfig`` still accepts the key (code written for RocketMQ's BrokerConfig);
:func:`reconcile_delay_levels` folds such a value into the store config or rejects a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rmq_core.broker.config import BrokerConfig, ConfigError
from rmq_core.broker.properties import parse_properties
from rmq_core.common.delay_levels import DEFAULT_MESSAGE_DELAY_LEVEL
from rmq_core.errors import StoreError
from rmq_core.store.config import PROPERTY_KEYS as STORE_KEYS
from rmq_core.store.config import StoreConfig

__all__ = ["ALIASES", "load_broker_conf", "reconcile_delay_levels", "split_properties"]

ALIASES = {
    "mapedFileSizeCommitLog": "mappedFileSizeCommitLog",
    "mapedFileSizeConsumeQueue": "mappedFileSizeConsumeQueue",
}


def split_properties(props: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return ``(broker_props, store_props)``; raises ConfigError for unknown keys."""
    broker_keys = BrokerConfig.keys()
    broker: dict[str, str] = {}
    store: dict[str, str] = {}
    unknown: list[str] = []
    for raw_key, value in props.items():
        key = ALIASES.get(raw_key, raw_key)
        if key in STORE_KEYS:
            # keys both configs know (messageDelayLevel) belong to the store
            store[key] = value
        elif key in broker_keys:
            broker[key] = value
        else:
            unknown.append(raw_key)
    if unknown:
        raise ConfigError(f"unknown broker.conf key(s): {', '.join(sorted(unknown))}")
    return broker, store


def load_broker_conf(source: str | Path | Mapping[str, str]) -> tuple[BrokerConfig, StoreConfig]:
    """Build both configs from a ``broker.conf`` (a path or an already-parsed mapping); keys
    absent from it keep their defaults. Raises ConfigError for an unreadable file, an unknown
    key or a bad value."""
    if isinstance(source, Mapping):
        props = dict(source)
    else:
        try:
            props = parse_properties(Path(source).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read broker config {source}: {exc}") from exc
    broker_props, store_props = split_properties(props)
    broker_config = BrokerConfig.from_properties(broker_props)
    try:
        store_config = StoreConfig.from_properties(store_props)
    except StoreError as exc:
        raise ConfigError(str(exc)) from exc
    return broker_config, store_config


def reconcile_delay_levels(broker_config: BrokerConfig, store_config: StoreConfig) -> StoreConfig:
    """The store config whose ``message_delay_level`` both the store and the broker use.

    An empty ``BrokerConfig.message_delay_level`` (the default) leaves ``store_config`` as it
    is; a value set only there (the store's is the default) is moved into the store config;
    the same value in both is fine. Different non-default values in both raise ConfigError
    naming both: set the table on ``StoreConfig`` only.
    """
    broker_value = " ".join(broker_config.message_delay_level.split())
    store_value = " ".join(store_config.message_delay_level.split())
    if not broker_value or broker_value == store_value:
        return store_config
    if store_value == DEFAULT_MESSAGE_DELAY_LEVEL:
        return store_config.replace(message_delay_level=broker_config.message_delay_level)
    raise ConfigError(
        f"messageDelayLevel is set twice with different values: BrokerConfig "
        f"{broker_config.message_delay_level!r}, StoreConfig "
        f"{store_config.message_delay_level!r}; set it on StoreConfig only"
    )
