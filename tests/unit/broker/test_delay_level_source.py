"""One delay-level table: StoreConfig's ``messageDelayLevel``, parsed by one parser.

The store stamps schedule-topic delivery times with the table and the broker delivers by it;
a table set on the store alone must be the broker's too, and two different tables are refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from rmq_core.broker.conf_file import reconcile_delay_levels
from rmq_core.broker.config import BrokerConfig, ConfigError
from rmq_core.broker.context import BrokerContext
from rmq_core.broker.controller import BrokerController
from rmq_core.broker.processors.admin_broker import store_properties
from rmq_core.broker.schedule import DelayLevelTable
from rmq_core.common.delay_levels import DEFAULT_MESSAGE_DELAY_LEVEL, parse_delay_levels
from rmq_core.errors import StoreError
from rmq_core.store.config import StoreConfig

BAD = ["", "   ", "1x", "1.5s", "-1s", "1s 5", "10 s", "1S", "\u0661s", "1s\u00b2"]


def _context(config: BrokerConfig, store_config: StoreConfig) -> BrokerContext:
    store: Any = object()  # the context only keeps the store; nothing here reads from it
    return BrokerContext(config, store_config, store)


@pytest.mark.parametrize("text", BAD)
def test_every_reader_rejects_the_same_values(text: str) -> None:
    with pytest.raises(ValueError, match="messageDelayLevel"):
        parse_delay_levels(text)
    with pytest.raises(ValueError, match="messageDelayLevel"):
        DelayLevelTable.parse(text)
    with pytest.raises(StoreError, match="messageDelayLevel"):
        StoreConfig(message_delay_level=text)
    if text.strip():  # empty on BrokerConfig means "not set here"
        with pytest.raises(ConfigError, match="messageDelayLevel"):
            BrokerConfig(message_delay_level=text)


def test_every_reader_accepts_the_same_values() -> None:
    text = " 2s\t3m 1h 1d "
    expected = (2_000, 180_000, 3_600_000, 86_400_000)
    assert parse_delay_levels(text) == expected
    assert DelayLevelTable.parse(text).delays_ms == expected
    assert StoreConfig(message_delay_level=text).delay_levels_ms() == expected
    assert BrokerConfig(message_delay_level=text).message_delay_level == text
    assert StoreConfig().delay_levels_ms() == parse_delay_levels(DEFAULT_MESSAGE_DELAY_LEVEL)


def test_the_store_table_is_the_broker_table() -> None:
    ctx = _context(BrokerConfig(), StoreConfig(message_delay_level="1s 2s"))
    assert ctx.delay_levels.delays_ms == (1_000, 2_000)
    assert store_properties(ctx)["messageDelayLevel"] == "1s 2s"
    assert "messageDelayLevel" not in ctx.config.to_properties()


def test_a_table_set_on_the_broker_config_only_moves_to_the_store() -> None:
    config = BrokerConfig(message_delay_level="1s 2s")
    controller = BrokerController(config, StoreConfig())
    assert controller.store_config.message_delay_level == "1s 2s"
    ctx = _context(config, StoreConfig())
    assert ctx.store_config.delay_levels_ms() == ctx.delay_levels.delays_ms == (1_000, 2_000)


def test_the_same_table_on_both_is_accepted() -> None:
    store_config = StoreConfig(message_delay_level="1s  2s")
    assert reconcile_delay_levels(BrokerConfig(message_delay_level="1s 2s"), store_config) is (
        store_config
    )


def test_two_different_tables_are_refused() -> None:
    config = BrokerConfig(message_delay_level="1s 2s")
    store_config = StoreConfig(message_delay_level="5s")
    with pytest.raises(ConfigError, match="set it on StoreConfig only"):
        BrokerController(config, store_config)
    with pytest.raises(ConfigError, match=r"'1s 2s'.*'5s'"):
        _context(config, store_config)
