"""The broker's metadata managers: topics, consumer offsets, subscription groups, clients.

Each manager owns one table, is used from the event loop only (no locks), and, where RocketMQ
persists the table, reads and writes the same JSON file under ``<storePathRootDir>/config``.
"""

from rmq_core.broker.managers.clients import ClientChannelInfo, ClientConnection
from rmq_core.broker.managers.consumers import (
    ConsumerGroupEvent,
    ConsumerGroupInfo,
    ConsumerManager,
)
from rmq_core.broker.managers.offsets import ConsumerOffsetManager
from rmq_core.broker.managers.producers import ProducerManager
from rmq_core.broker.managers.subscription_groups import (
    SubscriptionGroupConfig,
    SubscriptionGroupManager,
)
from rmq_core.broker.managers.topics import TopicConfig, TopicConfigManager
from rmq_core.remoting.bodies.data_version import DataVersion

__all__ = [
    "ClientChannelInfo",
    "ClientConnection",
    "ConsumerGroupEvent",
    "ConsumerGroupInfo",
    "ConsumerManager",
    "ConsumerOffsetManager",
    "DataVersion",
    "ProducerManager",
    "SubscriptionGroupConfig",
    "SubscriptionGroupManager",
    "TopicConfig",
    "TopicConfigManager",
]
