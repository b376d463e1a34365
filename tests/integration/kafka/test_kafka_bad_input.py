"""Bad input gets kafka-python's exception classes with messages that say what is wrong.

These run against the shim only: several of them (a missing topic, a seek outside the log)
fail differently, or only after a timeout, on a real Kafka broker.
"""

from __future__ import annotations

import json
import time
import warnings

import pytest

from rmq_integrations.kafka import (
    IgnoredConfigWarning,
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    NewTopic,
    TopicPartition,
    errors,
)
from tests.integration.kafka.conftest import ThreadCluster, unique, wait_for


def make_topic(cluster: ThreadCluster, name: str, partitions: int = 1) -> None:
    with KafkaAdminClient(bootstrap_servers=cluster.namesrv) as admin:
        admin.create_topics([NewTopic(name, partitions, 1)])


def test_unknown_configs_are_refused(rmq_cluster: ThreadCluster) -> None:
    with pytest.raises(errors.KafkaConfigurationError, match=r"Unrecognized configs.*linger"):
        KafkaProducer(bootstrap_servers=rmq_cluster.namesrv, lingerms=5)
    with pytest.raises(ValueError, match="Unrecognized configs"):  # kafka-python's producer
        KafkaProducer(bootstrap_servers=rmq_cluster.namesrv, no_such_option=1)
    with pytest.raises(errors.KafkaConfigurationError, match="group_idd"):
        KafkaConsumer(bootstrap_servers=rmq_cluster.namesrv, group_idd="g")
    with pytest.raises(errors.KafkaConfigurationError, match="auto_offset_reset"):
        KafkaConsumer(bootstrap_servers=rmq_cluster.namesrv, auto_offset_reset="oldest")
    with pytest.raises(errors.KafkaConfigurationError, match="acks"):
        KafkaProducer(bootstrap_servers=rmq_cluster.namesrv, acks=2)


def test_meaningless_configs_warn_once(rmq_cluster: ThreadCluster) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        producer = KafkaProducer(
            bootstrap_servers=rmq_cluster.namesrv, security_protocol="PLAINTEXT", api_version=(3, 0)
        )
    producer.close()
    ours = [w for w in caught if issubclass(w.category, IgnoredConfigWarning)]
    assert len(ours) == 1
    assert "api_version" in str(ours[0].message) and "security_protocol" in str(ours[0].message)


def test_no_nameserver_is_no_brokers_available() -> None:
    with pytest.raises(errors.NoBrokersAvailable, match=r"127\.0\.0\.1:1"):
        KafkaProducer(bootstrap_servers="127.0.0.1:1", request_timeout_ms=500)
    with pytest.raises(errors.KafkaConfigurationError, match="bootstrap"):
        KafkaConsumer(bootstrap_servers="host:port")


def test_values_the_serializer_cannot_handle(rmq_cluster: ThreadCluster) -> None:
    topic = unique("serialize")
    make_topic(rmq_cluster, topic)
    with KafkaProducer(bootstrap_servers=rmq_cluster.namesrv) as plain:
        with pytest.raises(TypeError, match="Unsupported type for serialized value"):
            plain.send(topic, "a str without a value_serializer")
        with pytest.raises(ValueError, match="Need at least one: key or value"):
            plain.send(topic)
        with pytest.raises(TypeError, match=r"\(str, bytes\) tuples"):
            plain.send(topic, b"v", headers=[("h", "not bytes")])
        with pytest.raises(ValueError, match="Unrecognized partition 7"):
            plain.send(topic, b"v", partition=7)
        with pytest.raises(errors.MessageSizeTooLargeError, match="max_request_size"):
            plain.send(topic, b"x" * 2_000_000)
    as_json = KafkaProducer(
        bootstrap_servers=rmq_cluster.namesrv, value_serializer=lambda v: json.dumps(v).encode()
    )
    with pytest.raises(TypeError, match="not JSON serializable"):
        as_json.send(topic, {"when": object()})
    as_json.close()
    with pytest.raises(errors.IllegalStateError, match="closed"):
        as_json.send(topic, {"late": True})


def test_deserializer_failure_leaves_the_record(rmq_cluster: ThreadCluster) -> None:
    topic = unique("deserialize")
    make_topic(rmq_cluster, topic)
    with KafkaProducer(bootstrap_servers=rmq_cluster.namesrv) as producer:
        producer.send(topic, b"not json").get(timeout=10)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=rmq_cluster.namesrv,
        auto_offset_reset="earliest",
        value_deserializer=lambda b: json.loads(b),
    )
    tp = TopicPartition(topic, 0)
    deadline = time.monotonic() + 10
    with pytest.raises(json.JSONDecodeError):
        while time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
    consumer.seek(tp, 1)
    assert consumer.poll(timeout_ms=200) == {}
    consumer.close()


def test_seek_outside_the_log(rmq_cluster: ThreadCluster) -> None:
    topic = unique("seek-range")
    make_topic(rmq_cluster, topic)
    tp = TopicPartition(topic, 0)
    with KafkaProducer(bootstrap_servers=rmq_cluster.namesrv) as producer:
        for i in range(3):
            producer.send(topic, b"%d" % i).get(timeout=10)
    strict = KafkaConsumer(bootstrap_servers=rmq_cluster.namesrv, auto_offset_reset="none")
    strict.assign([tp])
    wait_for(lambda: strict.end_offsets([tp])[tp] == 3, 10, "the records")
    with pytest.raises(errors.NoOffsetForPartitionError, match="auto_offset_reset='none'"):
        strict.poll(timeout_ms=100)
    strict.seek(tp, 1_000)
    with pytest.raises(errors.OffsetOutOfRangeError, match="1000"):
        strict.poll(timeout_ms=100)
    strict.seek(tp, 1)
    assert [r.offset for r in strict.poll(timeout_ms=3000)[tp]] == [1, 2]
    with pytest.raises(ValueError, match="int >= 0"):
        strict.seek(tp, -1)
    with pytest.raises(ValueError, match="Unassigned"):
        strict.seek(TopicPartition(topic, 5), 0)
    strict.close()

    lenient = KafkaConsumer(bootstrap_servers=rmq_cluster.namesrv, auto_offset_reset="earliest")
    lenient.assign([tp])
    lenient.seek(tp, 1_000)  # reset to the beginning, as kafka-python would
    assert lenient.position(tp) == 0
    lenient.close()


def test_commit_without_a_group(rmq_cluster: ThreadCluster) -> None:
    consumer = KafkaConsumer(bootstrap_servers=rmq_cluster.namesrv)
    tp = TopicPartition(unique("nogroup"), 0)
    with pytest.raises(errors.IllegalStateError, match="Requires group_id"):
        consumer.commit()
    with pytest.raises(errors.IllegalStateError, match="Requires group_id"):
        consumer.commit_async()
    with pytest.raises(errors.IllegalStateError, match="Requires group_id"):
        consumer.committed(tp)
    with pytest.raises(errors.IllegalStateError, match="not assigned"):
        consumer.position(tp)
    consumer.close()
    with pytest.raises(errors.IllegalStateError, match="closed"):
        consumer.poll()


def test_commit_of_a_partition_the_group_moved(rmq_cluster: ThreadCluster) -> None:
    topic = unique("moved")
    make_topic(rmq_cluster, topic, 2)
    consumer = KafkaConsumer(topic, bootstrap_servers=rmq_cluster.namesrv, group_id=unique("g"))
    wait_for(lambda: consumer.poll(timeout_ms=50) == {} and consumer.assignment(), 10, "owning")
    with pytest.raises(errors.CommitFailedError, match="no longer owns"):
        consumer.commit({TopicPartition(topic, 9): 1})
    consumer.close()


def test_missing_topic_without_auto_creation(strict_cluster: ThreadCluster) -> None:
    topic = unique("missing")
    producer = KafkaProducer(bootstrap_servers=strict_cluster.namesrv)
    with pytest.raises(errors.UnknownTopicOrPartitionError, match=topic.replace(".", r"\.")):
        producer.send(topic, b"v")
    producer.close()
    producer = KafkaProducer(
        bootstrap_servers=strict_cluster.namesrv, allow_auto_create_topics=False
    )
    with pytest.raises(errors.UnknownTopicOrPartitionError, match="allow_auto_create"):
        producer.partitions_for(topic)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=strict_cluster.namesrv)
    with pytest.raises(errors.UnknownTopicOrPartitionError, match="does not exist"):
        consumer.assign([TopicPartition(topic, 0)])
    with pytest.raises(errors.UnknownTopicOrPartitionError):
        consumer.end_offsets([TopicPartition(topic, 0)])
    assert consumer.partitions_for_topic(topic) == set()
    consumer.close()


def test_bad_names(rmq_cluster: ThreadCluster) -> None:
    with pytest.raises(errors.InvalidGroupIdError, match="group_id"):
        KafkaConsumer(bootstrap_servers=rmq_cluster.namesrv, group_id="has space")
    with KafkaProducer(bootstrap_servers=rmq_cluster.namesrv) as producer:
        with pytest.raises(errors.InvalidTopicError, match="not a valid Kafka topic"):
            producer.send("bad topic!", b"v")
        with pytest.raises(errors.InvalidTopicError, match="at most 127"):
            producer.send("t" * 200, b"v")


def test_admin_errors(rmq_cluster: ThreadCluster) -> None:
    name = unique("admin-dup")
    with KafkaAdminClient(bootstrap_servers=rmq_cluster.namesrv) as admin:
        admin.create_topics([NewTopic(name, 2, 1)])
        with pytest.raises(errors.TopicAlreadyExistsError, match="already exists"):
            admin.create_topics([NewTopic(name, 2, 1)])
        result = admin.create_topics([NewTopic(name, 2, 1)], raise_errors=False)
        assert result["topics"][0]["error_code"] == 36
        with pytest.raises(errors.InvalidPartitionsError):
            admin.create_topics([NewTopic(unique("zero"), 0, 1)])
        with pytest.raises(errors.UnknownTopicOrPartitionError):
            admin.delete_topics([unique("never-created")])
