"""A damaged metadata file stops the broker instead of being replaced by an empty table.

topics.json, consumerOffset.json and subscriptionGroup.json are written with a ``.bak`` of the
previous content; a file neither copy of which can be parsed must fail the load with a
ConfigError naming it, and must not be overwritten by a later persist or by the shutdown of a
broker whose start failed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rmq_core.broker.config import BrokerConfig, ConfigError
from rmq_core.broker.controller import BrokerController
from rmq_core.broker.managers import (
    ConsumerOffsetManager,
    SubscriptionGroupManager,
    TopicConfig,
    TopicConfigManager,
)
from rmq_core.broker.managers.persistence import (
    CONSUMER_OFFSET_FILE,
    SUBSCRIPTION_GROUP_FILE,
    TOPICS_FILE,
)
from rmq_core.store.config import StoreConfig

Loader = Callable[[Path], None]


def _load_topics(path: Path) -> None:
    TopicConfigManager(BrokerConfig, path).load()


def _load_offsets(path: Path) -> None:
    ConsumerOffsetManager(path).load()


def _load_groups(path: Path) -> None:
    SubscriptionGroupManager(BrokerConfig, path).load()


MANAGERS: list[tuple[str, str, Loader]] = [
    (TOPICS_FILE, "topicConfigTable", _load_topics),
    (CONSUMER_OFFSET_FILE, "offsetTable", _load_offsets),
    (SUBSCRIPTION_GROUP_FILE, "subscriptionGroupTable", _load_groups),
]
IDS = [name for name, _, _ in MANAGERS]


@pytest.mark.parametrize(("name", "table", "load"), MANAGERS, ids=IDS)
def test_a_missing_file_loads_nothing(tmp_path: Path, name: str, table: str, load: Loader) -> None:
    load(tmp_path / name)


@pytest.mark.parametrize(("name", "table", "load"), MANAGERS, ids=IDS)
@pytest.mark.parametrize("backup", [None, "{also torn", "[]"])
def test_a_damaged_file_is_a_config_error(
    tmp_path: Path, name: str, table: str, load: Loader, backup: str | None
) -> None:
    path = tmp_path / name
    path.write_text(f'{{"{table}": {{"x": ')
    if backup is not None:
        Path(f"{path}.bak").write_text(backup)
    with pytest.raises(ConfigError, match=re.escape(name)):
        load(path)


@pytest.mark.parametrize(("name", "table", "load"), MANAGERS, ids=IDS)
def test_a_table_that_is_not_an_object_is_a_config_error(
    tmp_path: Path, name: str, table: str, load: Loader
) -> None:
    path = tmp_path / name
    path.write_text(f'{{"{table}": [1, 2]}}')
    with pytest.raises(ConfigError, match=rf"{re.escape(name)}.*{table} is not an object"):
        load(path)


def test_a_damaged_file_with_a_good_backup_loads_the_backup(tmp_path: Path) -> None:
    path = tmp_path / TOPICS_FILE
    writer = TopicConfigManager(BrokerConfig, path)
    writer.update_topic_config(TopicConfig("Kept"))
    writer.update_topic_config(TopicConfig("Newer"))
    path.write_text("[]")  # valid JSON, but not a topics document
    again = TopicConfigManager(BrokerConfig, path)
    again.load()
    assert again.select("Kept") is not None


@pytest.mark.parametrize("name", IDS)
def test_the_broker_does_not_start_over_a_damaged_file(tmp_path: Path, name: str) -> None:
    root = tmp_path / "store"
    config_dir = root / "config"
    config_dir.mkdir(parents=True)
    damaged = config_dir / name
    damaged.write_text("{torn")
    backup = Path(f"{damaged}.bak")
    backup.write_text("{torn too")
    controller = BrokerController(
        BrokerConfig(listen_port=0),
        StoreConfig(store_path_root_dir=str(root), mapped_file_size_commit_log=64 * 1024),
    )

    async def start() -> None:
        await asyncio.wait_for(controller.start(), 30)

    with pytest.raises(ConfigError, match=rf"{re.escape(name)} is damaged"):
        asyncio.run(start())
    assert controller.ctx is None and controller.server is None
    assert damaged.read_text() == "{torn" and backup.read_text() == "{torn too"
    for other in IDS:
        if other != name:
            assert not (config_dir / other).exists(), "nothing is persisted after a failed start"
