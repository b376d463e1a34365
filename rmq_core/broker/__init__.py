"""rmq's broker: RocketMQ-compatible message serving on top of :mod:`rmq_core.store`.

``BrokerController(BrokerConfig(...), StoreConfig(...))`` runs one broker in the current event
loop (``await start()`` / ``await shutdown()``); ``load_broker_conf(path)`` reads a RocketMQ
``broker.conf`` into both configs. See docs/broker.md.
"""

from rmq_core.broker.conf_file import load_broker_conf
from rmq_core.broker.config import BrokerConfig, ConfigError
from rmq_core.broker.controller import BrokerController

__all__ = ["BrokerConfig", "BrokerController", "ConfigError", "load_broker_conf"]
