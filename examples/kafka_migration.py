"""A kafka-python program moved to rmq by changing one import.

Everything below is kafka-python 3.x API, written the way kafka-python's documentation shows
it: an admin client creates a topic, a producer sends JSON values asynchronously with
callbacks and a keyed message, a synchronous send waits on its future, and a consumer group
member iterates until ``consumer_timeout_ms`` passes without a message, then commits. To run it
on Kafka instead, put the kafka-python import back.

    python examples/kafka_migration.py --bootstrap-servers 127.0.0.1:9876

``--bootstrap-servers`` is the rmq NameServer (the shim's bootstrap servers); the default is
$BOOTSTRAP_SERVERS, else localhost:9092 as in kafka-python's examples.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

# was: from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
# was: from kafka.admin import NewTopic
# was: from kafka.errors import KafkaError, TopicAlreadyExistsError
from rmq_integrations.kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, NewTopic
from rmq_integrations.kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger("kafka_migration")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("BOOTSTRAP_SERVERS", "localhost:9092")
    )
    parser.add_argument("--topic", default=f"migration-demo-{os.getpid()}")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before giving up")
    args = parser.parse_args()
    servers = args.bootstrap_servers

    # Create the topic (it may exist already).
    admin = KafkaAdminClient(bootstrap_servers=servers)
    try:
        admin.create_topics([NewTopic(name=args.topic, num_partitions=3, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()

    # Produce JSON messages asynchronously, with callbacks.
    producer = KafkaProducer(
        bootstrap_servers=servers, value_serializer=lambda m: json.dumps(m).encode("ascii")
    )
    acknowledged = []

    def on_send_success(record_metadata):
        acknowledged.append((record_metadata.partition, record_metadata.offset))

    def on_send_error(excp):
        log.error("I am an errback", exc_info=excp)

    for i in range(args.count - 1):
        producer.send(args.topic, {"n": i}).add_callback(on_send_success).add_errback(on_send_error)
    # A keyed message, sent synchronously by blocking on its future.
    future = producer.send(args.topic, key=b"foo", value={"n": args.count - 1})
    try:
        record_metadata = future.get(timeout=10)
    except KafkaError:
        log.exception("the synchronous send failed")
        return 1
    print(f"keyed message: {record_metadata.topic}:{record_metadata.partition} "
          f"offset {record_metadata.offset}")  # fmt: skip
    producer.flush()
    producer.close()
    print(f"acknowledged {len(acknowledged) + 1} of {args.count} messages")

    # Consume them as a member of a group, from the earliest offset.
    consumer = KafkaConsumer(
        args.topic,
        group_id="migration-demo-group",
        bootstrap_servers=servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
        value_deserializer=lambda m: json.loads(m.decode("ascii")),
    )
    seen = set()
    deadline = time.monotonic() + args.timeout
    while len(seen) < args.count and time.monotonic() < deadline:
        for message in consumer:
            print(f"{message.topic}:{message.partition}:{message.offset}: "
                  f"key={message.key} value={message.value}")  # fmt: skip
            seen.add(message.value["n"])
    consumer.commit()
    consumer.close()
    print(f"consumed {len(seen)} of {args.count} messages")
    return 0 if seen == set(range(args.count)) else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
