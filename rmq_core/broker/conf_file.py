"""Reading a RocketMQ ``broker.conf``: one ``.properties`` file, two configs.

Keys are split between :class:`~rmq_core.broker.config.BrokerConfig` and the store's
:class:`~rmq_core.store.config.StoreConfig`; RocketMQ 4.x's misspelled ``mapedFileSize*`` keys
are accepted as aliases. A key neither config knows is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rmq_core.broker.config import BrokerConfig, ConfigError
from rmq_core.broker.properties import parse_properties
from rmq_core.errors import StoreError
from rmq_core.store.config import PROPERTY_KEYS as STORE_KEYS
from rmq_core.store.config import StoreConfig

__all__ = ["ALIASES", "load_broker_conf", "split_properties"]

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
        if key in broker_keys:
            broker[key] = value
            if key in STORE_KEYS:
                # messageDelayLevel: the broker delivers by it and the store writes
                # schedule-topic delivery times with it; both must use the same table
                store[key] = value
        elif key in STORE_KEYS:
            store[key] = value
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
