"""rmq: Apache RocketMQ re-implemented in Python.

The public API is re-exported here as it is built; integrations and connectors import only
from this package and :mod:`rmq_core.client`.
"""

import logging

from rmq_core.client import (
    ConsumeFromWhere,
    ConsumeOrderlyStatus,
    ConsumeStatus,
    LitePullConsumer,
    Message,
    MessageExt,
    MessageModel,
    MessageQueue,
    Producer,
    PushConsumer,
    SelectMessageQueueByHash,
    SendResult,
    SendStatus,
)
from rmq_core.errors import (
    BrokerError,
    ClientError,
    FilterError,
    RemotingError,
    RequestTimeoutError,
    RocketMQError,
    StoreError,
)

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BrokerError",
    "ClientError",
    "ConsumeFromWhere",
    "ConsumeOrderlyStatus",
    "ConsumeStatus",
    "FilterError",
    "LitePullConsumer",
    "Message",
    "MessageExt",
    "MessageModel",
    "MessageQueue",
    "Producer",
    "PushConsumer",
    "RemotingError",
    "RequestTimeoutError",
    "RocketMQError",
    "SelectMessageQueueByHash",
    "SendResult",
    "SendStatus",
    "StoreError",
    "__version__",
]
