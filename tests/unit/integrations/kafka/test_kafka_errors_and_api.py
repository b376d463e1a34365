"""The shim offers kafka-python's names: error classes, config keys and method signatures."""

from __future__ import annotations

import inspect
import warnings

import pytest

with warnings.catch_warnings():  # kafka-python's DeprecationWarnings on import
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka
    import kafka.errors as kafka_errors

import rmq_integrations.kafka as shim
from rmq_integrations.kafka import errors


def kafka_error_classes() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(kafka_errors).items()
        if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == "kafka.errors"
    }


def test_every_kafka_python_error_class_exists_alike() -> None:
    theirs = kafka_error_classes()
    assert len(theirs) >= 150
    for name, cls in theirs.items():
        ours = getattr(errors, name)
        assert ours.retriable == cls.retriable, name
        assert ours.invalid_metadata == cls.invalid_metadata, name
        if issubclass(cls, kafka_errors.BrokerResponseError):
            assert (ours.errno, ours.message) == (cls.errno, cls.message), name
        for base in cls.__mro__:
            if base.__module__ == "kafka.errors" and base is not cls:
                assert issubclass(ours, getattr(errors, base.__name__)), (name, base)
    assert issubclass(errors.NoBrokersAvailable, errors.KafkaError)  # the 2.x name


def test_error_text_and_codes() -> None:
    error = errors.OffsetOutOfRangeError("offset 9 of t-0")
    assert str(error) == "[Error 1] OffsetOutOfRangeError: offset 9 of t-0"
    assert errors.for_code(3) is errors.UnknownTopicOrPartitionError
    assert issubclass(errors.for_code(9999), errors.UnknownError)
    assert errors.for_code(9999).errno == 9999
    assert "rebalanced" in str(errors.CommitFailedError())
    assert issubclass(errors.KafkaConfigurationError, ValueError)


def test_config_keys_match_kafka_python() -> None:
    assert set(shim.KafkaProducer.DEFAULT_CONFIG) == set(kafka.KafkaProducer.DEFAULT_CONFIG)
    assert set(shim.KafkaConsumer.DEFAULT_CONFIG) == set(kafka.KafkaConsumer.DEFAULT_CONFIG)
    assert set(shim.KafkaAdminClient.DEFAULT_CONFIG) == set(kafka.KafkaAdminClient.DEFAULT_CONFIG)


PUBLIC_METHODS = {
    "KafkaProducer": [
        "send", "flush", "close", "partitions_for", "metrics", "bootstrap_connected",
        "init_transactions", "begin_transaction", "commit_transaction", "abort_transaction",
        "send_offsets_to_transaction",
    ],
    "KafkaConsumer": [
        "assign", "assignment", "beginning_offsets", "close", "commit", "commit_async",
        "committed", "end_offsets", "highwater", "metrics", "offsets_for_times",
        "partitions_for_topic", "pause", "paused", "poll", "position", "resume", "seek",
        "seek_to_beginning", "seek_to_end", "subscribe", "subscription", "topics",
        "unsubscribe", "group_metadata", "bootstrap", "bootstrap_connected",
    ],
    "KafkaAdminClient": [
        "close", "create_topics", "delete_topics", "list_topics", "describe_topics",
        "describe_cluster", "list_groups", "list_group_offsets",
    ],
}  # fmt: skip


def parameters(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("cls_name", sorted(PUBLIC_METHODS))
def test_method_signatures_match_kafka_python(cls_name: str) -> None:
    ours, theirs = getattr(shim, cls_name), getattr(kafka, cls_name)
    for method in PUBLIC_METHODS[cls_name]:
        assert parameters(getattr(ours, method)) == parameters(getattr(theirs, method)), method
    assert parameters(ours.__init__) == parameters(theirs.__init__)


def test_struct_fields_match_kafka_python() -> None:
    from kafka.consumer.fetcher import ConsumerRecord
    from kafka.producer.future import RecordMetadata

    assert shim.ConsumerRecord._fields == ConsumerRecord._fields
    assert shim.RecordMetadata._fields == RecordMetadata._fields
    for name in ("TopicPartition", "OffsetAndMetadata", "OffsetAndTimestamp",
                 "ConsumerGroupMetadata", "TopicPartitionReplica"):  # fmt: skip
        assert getattr(shim, name)._fields == getattr(kafka.structs, name)._fields, name
    assert parameters(shim.NewTopic.__init__) == parameters(kafka.admin.NewTopic.__init__)
    assert shim.TopicPartition("t", 1) == kafka.TopicPartition("t", 1)
