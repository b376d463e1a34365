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
    LocalTransactionState,
    Message,
    MessageExt,
    MessageModel,
    MessageQuery,
    MessageQueue,
    MessageSelector,
    Producer,
    PushConsumer,
    SelectMessageQueueByHash,
    SendResult,
    SendStatus,
    SimpleConsumer,
    SyncSimpleConsumer,
    TransactionProducer,
    idempotent,
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
    "LocalTransactionState",
    "Message",
    "MessageExt",
    "MessageModel",
    "MessageQuery",
    "MessageQueue",
    "MessageSelector",
    "Producer",
    "PushConsumer",
    "RemotingError",
    "RequestTimeoutError",
    "RocketMQError",
    "SelectMessageQueueByHash",
    "SendResult",
    "SendStatus",
    "SimpleConsumer",
    "StoreError",
    "SyncSimpleConsumer",
    "TransactionProducer",
    "__version__",
    "idempotent",
]
