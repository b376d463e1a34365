"""A broker that goes away: sends are retried, then fail with a Kafka error in time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rmq_integrations.kafka import KafkaProducer, errors
from tests.integration.kafka.conftest import ThreadCluster, unique


def test_send_fails_with_a_retriable_kafka_error_when_the_broker_is_gone(tmp_path: Path) -> None:
    cluster = ThreadCluster(tmp_path).start()
    producer = None
    try:
        producer = KafkaProducer(
            bootstrap_servers=cluster.namesrv,
            request_timeout_ms=1000,
            delivery_timeout_ms=2500,
            retry_backoff_ms=100,
        )
        topic = unique("doomed")
        assert producer.send(topic, b"before", key=b"k").get(timeout=10).offset == 0
        cluster.stop_broker()
        started = time.monotonic()
        futures = [producer.send(topic, b"after-%d" % i, key=b"k") for i in range(3)]
        for future in futures:
            with pytest.raises(errors.KafkaError) as caught:
                future.get(timeout=30)
            assert caught.value.retriable, caught.value
        assert time.monotonic() - started < 15
        metrics = producer.metrics()
        assert metrics is not None
        assert metrics["producer-metrics"]["record-retry-total"] > 0
        assert metrics["producer-metrics"]["record-error-total"] == 3
        producer.flush(timeout=5)
    finally:
        if producer is not None:
            producer.close(timeout=5)
        cluster.stop()
