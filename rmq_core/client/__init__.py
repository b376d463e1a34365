"""rmq's RocketMQ clients: async first, with a blocking facade in :mod:`rmq_core.client.sync`.

Java → Python names: DefaultMQProducer → :class:`Producer`, DefaultMQPushConsumer →
:class:`PushConsumer`, DefaultLitePullConsumer → :class:`LitePullConsumer` (see docs/naming.md).
"""

from rmq_core.client.config import (
    ClientConfig,
    ConsumeFromWhere,
    LitePullConsumerConfig,
    MessageModel,
    ProducerConfig,
    PushConsumerConfig,
)
from rmq_core.client.consumer.lite_pull import LitePullConsumer
from rmq_core.client.consumer.push import PushConsumer
from rmq_core.client.idempotent import Idempotent, MemoryIdStore, SqliteIdStore, idempotent
from rmq_core.client.instance import ClientInstance
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.producer import Producer
from rmq_core.client.query import MessageQuery, QueryResult
from rmq_core.client.rebalance.strategies import (
    AllocateMessageQueueAveragely,
    AllocateMessageQueueAveragelyByCircle,
    AllocateMessageQueueByConfig,
    AllocateMessageQueueConsistentHash,
    AllocateMessageQueueStrategy,
)
from rmq_core.client.results import (
    ConsumeOrderlyStatus,
    ConsumeStatus,
    PullResult,
    PullStatus,
    SendResult,
    SendStatus,
)
from rmq_core.client.selector import (
    MessageQueueSelector,
    SelectMessageQueueByHash,
    SelectMessageQueueByRandom,
)
from rmq_core.client.simple_consumer import (
    InvalidReceiptHandleError,
    ReceiptHandle,
    SimpleConsumer,
    SimpleConsumerConfig,
)
from rmq_core.client.sync import SimpleConsumer as SyncSimpleConsumer
from rmq_core.client.transaction_producer import (
    LocalTransactionState,
    TransactionHandle,
    TransactionListener,
    TransactionProducer,
    TransactionSendResult,
)
from rmq_core.common.message import Message, MessageExt

__all__ = [
    "AllocateMessageQueueAveragely",
    "AllocateMessageQueueAveragelyByCircle",
    "AllocateMessageQueueByConfig",
    "AllocateMessageQueueConsistentHash",
    "AllocateMessageQueueStrategy",
    "ClientConfig",
    "ClientInstance",
    "ConsumeFromWhere",
    "ConsumeOrderlyStatus",
    "ConsumeStatus",
    "Idempotent",
    "InvalidReceiptHandleError",
    "LitePullConsumer",
    "LitePullConsumerConfig",
    "LocalTransactionState",
    "MemoryIdStore",
    "Message",
    "MessageExt",
    "MessageModel",
    "MessageQuery",
    "MessageQueue",
    "MessageQueueSelector",
    "MessageSelector",
    "Producer",
    "ProducerConfig",
    "PullResult",
    "PullStatus",
    "PushConsumer",
    "PushConsumerConfig",
    "QueryResult",
    "ReceiptHandle",
    "SelectMessageQueueByHash",
    "SelectMessageQueueByRandom",
    "SendResult",
    "SendStatus",
    "SimpleConsumer",
    "SimpleConsumerConfig",
    "SqliteIdStore",
    "SyncSimpleConsumer",
    "TransactionHandle",
    "TransactionListener",
    "TransactionProducer",
    "TransactionSendResult",
    "idempotent",
]
