"""Topic configurations: the built-in topics, auto-creation and ``config/topics.json``.

``topics.json`` = ``{"dataVersion":{...},"topicConfigTable":{"T":{TopicConfig},...}}``
(reference §5.6); TopicConfig members are in reference §3.4. The table is used from the event
loop only. Every change bumps the data version, persists the file and calls the change
listeners (the controller re-registers the broker with the NameServers).

Auto-creation (reference §5.10): a send to an unknown topic naming a ``defaultTopic`` that
exists and has PERM_INHERIT creates the topic with ``min(clientQueueNums, default.writeQueueNums)``
queues and the default's perm minus INHERIT. TBW102 only inherits while
``autoCreateTopicEnable`` is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rmq_core.broker import perm as permission
from rmq_core.broker import topic_validator as tv
from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.managers.persistence import (
    ConfigWriter,
    SyncConfigWriter,
    data_version_of,
    load_json,
    table_of,
)
from rmq_core.errors import RocketMQError
from rmq_core.remoting import fastjson
from rmq_core.remoting.bodies.data_version import DataVersion
from rmq_core.remoting.bodies.topic_config import TopicConfig

__all__ = [
    "DEFAULT_QUEUE_NUMS",
    "SCHEDULE_TOPIC_QUEUE_NUMS",
    "TopicConfig",
    "TopicConfigManager",
]

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_NUMS = 16
SCHEDULE_TOPIC_QUEUE_NUMS = 18
BENCHMARK_QUEUE_NUMS = 1024
FILTER_TYPES = ("SINGLE_TAG", "MULTI_TAG")


ChangeListener = Callable[[], None]


def _topic_from_json(raw: object, name: str) -> TopicConfig:
    """A ``topics.json`` entry; ValueError (or BodyError) when it is not a usable topic."""
    item = TopicConfig.from_json(raw, name)
    if not item.topic_name:
        item.topic_name = name
    if not item.topic_name:
        raise ValueError("topic config without topicName")
    if item.topic_filter_type not in FILTER_TYPES:
        raise ValueError(
            f"topic {item.topic_name}: unknown topicFilterType {item.topic_filter_type!r}"
        )
    return item


class TopicConfigManager:
    """The broker's topic table (built-in topics plus ``topics.json``)."""

    def __init__(
        self,
        config: Callable[[], BrokerConfig],
        path: Path | None = None,
        writer: ConfigWriter | None = None,
    ) -> None:
        """``config`` returns the current broker config (it may change at runtime);
        ``path`` is ``topics.json`` (None: memory only)."""
        self._config = config
        self._path = path
        self._writer: ConfigWriter = writer or SyncConfigWriter()
        self._table: dict[str, TopicConfig] = {}
        self._listeners: list[ChangeListener] = []
        self.data_version = DataVersion.now()
        self._system_topics: frozenset[str] = frozenset()
        self._add_builtin_topics()

    # --- setup -------------------------------------------------------------------------

    def _add_builtin_topics(self) -> None:
        cfg = self._config()
        rw = permission.PERM_READ | permission.PERM_WRITE
        builtin: list[TopicConfig] = [
            TopicConfig(tv.RMQ_SYS_SELF_TEST_TOPIC, 1, 1),
            TopicConfig(tv.RMQ_SYS_BENCHMARK_TOPIC, BENCHMARK_QUEUE_NUMS, BENCHMARK_QUEUE_NUMS),
            TopicConfig(tv.RMQ_SYS_OFFSET_MOVED_EVENT, 1, 1),
            TopicConfig(
                tv.RMQ_SYS_SCHEDULE_TOPIC, SCHEDULE_TOPIC_QUEUE_NUMS, SCHEDULE_TOPIC_QUEUE_NUMS
            ),
            TopicConfig(f"{cfg.broker_cluster_name}_REPLY_TOPIC", 1, 1),
            TopicConfig(tv.RMQ_SYS_TRANS_HALF_TOPIC, 1, 1),
            TopicConfig(tv.RMQ_SYS_TRANS_OP_HALF_TOPIC, 1, 1),
        ]
        if cfg.auto_create_topic_enable:
            nums = cfg.default_topic_queue_nums
            builtin.append(
                TopicConfig(
                    tv.AUTO_CREATE_TOPIC_KEY_TOPIC, nums, nums, rw | permission.PERM_INHERIT
                )
            )
        cluster_perm = permission.PERM_INHERIT | (rw if cfg.cluster_topic_enable else 0)
        builtin.append(TopicConfig(cfg.broker_cluster_name, perm=cluster_perm))
        broker_perm = permission.PERM_INHERIT | (rw if cfg.broker_topic_enable else 0)
        builtin.append(TopicConfig(cfg.broker_name, 1, 1, broker_perm))
        if cfg.trace_topic_enable:
            builtin.append(TopicConfig(cfg.msg_trace_topic_name, 1, 1))
        for item in builtin:
            self._table[item.topic_name] = item
        self._system_topics = frozenset(
            {cfg.broker_cluster_name, cfg.broker_name, f"{cfg.broker_cluster_name}_REPLY_TOPIC"}
        )

    def load(self) -> None:
        """Merge ``topics.json`` (or its ``.bak``) over the built-in topics.

        A missing file loads nothing; a damaged one (no usable copy, or a table that is not an
        object) raises ConfigError naming it. A malformed entry is logged and skipped.
        """
        if self._path is None:
            return
        data = load_json(self._path)
        if data is None:
            return
        table = table_of(data, "topicConfigTable", self._path)
        self.data_version = data_version_of(data, self._path)
        for name, raw in table.items():
            try:
                item = _topic_from_json(raw, str(name))
            except (RocketMQError, ValueError) as exc:
                logger.error("%s: skipping topic %r: %s", self._path, name, exc)
                continue
            self._table[item.topic_name] = item

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call ``listener()`` after every change of the table (create, update, delete)."""
        self._listeners.append(listener)

    # --- queries -----------------------------------------------------------------------

    def select(self, topic: str) -> TopicConfig | None:
        """The config of ``topic`` or None."""
        return self._table.get(topic)

    def __contains__(self, topic: object) -> bool:
        return topic in self._table

    def __iter__(self) -> Iterator[TopicConfig]:
        return iter(list(self._table.values()))

    def __len__(self) -> int:
        return len(self._table)

    def is_system_topic(self, topic: str) -> bool:
        """True for built-in topics, including this broker's cluster/broker-name topics."""
        return tv.is_system_topic(topic, self._system_topics)

    def is_order_topic(self, topic: str) -> bool:
        """True when the topic is configured ``order``."""
        item = self._table.get(topic)
        return item is not None and item.order

    # --- changes -----------------------------------------------------------------------

    def create_topic_in_send_message_method(
        self,
        topic: str,
        default_topic: str,
        remote_address: str,
        client_default_topic_queue_nums: int,
        topic_sys_flag: int = 0,
    ) -> TopicConfig | None:
        """Auto-create ``topic`` from template ``default_topic``; None when not allowed."""
        existing = self._table.get(topic)
        if existing is not None:
            return existing
        template = self._table.get(default_topic)
        if template is None:
            logger.warning(
                "cannot create topic %s for %s: default topic %s does not exist",
                topic,
                remote_address,
                default_topic,
            )
            return None
        template_perm = template.perm
        if default_topic == tv.AUTO_CREATE_TOPIC_KEY_TOPIC and not (
            self._config().auto_create_topic_enable
        ):
            template_perm = permission.PERM_READ | permission.PERM_WRITE
        if not permission.is_inherited(template_perm):
            logger.warning(
                "cannot create topic %s for %s: default topic %s has no inherit permission",
                topic,
                remote_address,
                default_topic,
            )
            return None
        queue_nums = max(0, min(client_default_topic_queue_nums, template.write_queue_nums))
        created = TopicConfig(
            topic,
            queue_nums,
            queue_nums,
            template_perm & ~permission.PERM_INHERIT,
            template.topic_filter_type,
            topic_sys_flag,
        )
        logger.info("auto-created topic %s for %s (%d queues)", topic, remote_address, queue_nums)
        self._put(created)
        return created

    def create_topic_in_send_message_back_method(
        self, topic: str, queue_nums: int, perm: int, topic_sys_flag: int = 0
    ) -> TopicConfig:
        """Create ``topic`` (retry/DLQ topics) if absent; return its config."""
        existing = self._table.get(topic)
        if existing is not None:
            return existing
        created = TopicConfig(topic, queue_nums, queue_nums, perm, topic_sys_flag=topic_sys_flag)
        logger.info("created topic %s (%d queues, perm %d)", topic, queue_nums, perm)
        self._put(created)
        return created

    def update_topic_config(self, item: TopicConfig) -> None:
        """Create or replace a topic (UPDATE_AND_CREATE_TOPIC)."""
        self._put(item)

    def delete_topic(self, topic: str) -> bool:
        """Remove ``topic``; True when it existed."""
        if self._table.pop(topic, None) is None:
            return False
        logger.info("deleted topic %s", topic)
        self._changed()
        return True

    def _put(self, item: TopicConfig) -> None:
        self._table[item.topic_name] = item
        self._changed()

    def _changed(self) -> None:
        self.data_version.next_version()
        self.persist()
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                logger.exception("topic change listener failed")

    # --- encoding ----------------------------------------------------------------------

    def table_json(self) -> dict[str, Any]:
        """``{topic: TopicConfig JSON}`` sorted by topic."""
        return {name: self._table[name].to_json() for name in sorted(self._table)}

    def encode(self) -> bytes:
        """The ``topics.json`` content."""
        return fastjson.dumps(
            {"dataVersion": self.data_version.to_json(), "topicConfigTable": self.table_json()}
        )

    def serialize_wrapper(self) -> dict[str, Any]:
        """TopicConfigAndMappingSerializeWrapper (GET_ALL_TOPIC_CONFIG, REGISTER_BROKER)."""
        return {
            "dataVersion": self.data_version.to_json(),
            "mappingDataVersion": DataVersion().to_json(),
            "topicConfigTable": self.table_json(),
            "topicQueueMappingDetailMap": {},
            "topicQueueMappingInfoMap": {},
        }

    def persist(self) -> None:
        """Write ``topics.json`` (through the configured writer)."""
        if self._path is not None:
            self._writer.write(self._path, self.encode())
