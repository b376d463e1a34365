"""kafka-python's API on rmq: ``from rmq_integrations.kafka import KafkaProducer, KafkaConsumer``.

Code written for kafka-python 3.x runs on rmq by changing its import. ``bootstrap_servers``
names the rmq NameServer(s) (port 9876 when omitted). Topics are topics, partition ``n`` is the
n-th queue of the topic in (broker name, queue id) order, offsets are queue offsets and
consumer groups are RocketMQ consumer groups; docs/kafka.md lists what differs.
"""

from rmq_integrations.kafka import errors
from rmq_integrations.kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
from rmq_integrations.kafka.config import IgnoredConfigWarning
from rmq_integrations.kafka.consumer import KafkaConsumer
from rmq_integrations.kafka.future import Future, FutureRecordMetadata
from rmq_integrations.kafka.listener import ConsumerRebalanceListener
from rmq_integrations.kafka.partitioner import DefaultPartitioner, Partitioner, murmur2
from rmq_integrations.kafka.producer import KafkaProducer
from rmq_integrations.kafka.serializer import (
    DefaultSerializer,
    Deserializer,
    JsonSerializer,
    Serializer,
)
from rmq_integrations.kafka.structs import (
    ConsumerGroupMetadata,
    ConsumerRecord,
    OffsetAndMetadata,
    OffsetAndTimestamp,
    RecordMetadata,
    TopicPartition,
    TopicPartitionReplica,
)

__version__ = "3.0.12"  # the kafka-python API version this shim follows

__all__ = [
    "ConsumerGroupMetadata",
    "ConsumerRebalanceListener",
    "ConsumerRecord",
    "DefaultPartitioner",
    "DefaultSerializer",
    "Deserializer",
    "Future",
    "FutureRecordMetadata",
    "IgnoredConfigWarning",
    "JsonSerializer",
    "KafkaAdminClient",
    "KafkaConsumer",
    "KafkaProducer",
    "NewPartitions",
    "NewTopic",
    "OffsetAndMetadata",
    "OffsetAndTimestamp",
    "Partitioner",
    "RecordMetadata",
    "Serializer",
    "TopicPartition",
    "TopicPartitionReplica",
    "__version__",
    "errors",
    "murmur2",
]
