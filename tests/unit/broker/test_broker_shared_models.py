"""The broker's metadata files use the shared wire models (``rmq_core.remoting.bodies``) and
keep their bytes: what a file holds is what the broker writes back."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from rmq_core.broker import managers
from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.managers import (
    ConsumerOffsetManager,
    SubscriptionGroupManager,
    TopicConfigManager,
)
from rmq_core.remoting.bodies.data_version import DataVersion
from rmq_core.remoting.bodies.topic_config import TopicConfig

VERSION = b'{"counter":7,"stateVersion":2,"timestamp":1700000000123}'
ORDERS = (
    b'"Orders":{"attributes":{"+delete.policy":"COMPACTION"},"order":true,"perm":6,'
    b'"readQueueNums":4,"topicFilterType":"MULTI_TAG","topicName":"Orders","topicSysFlag":0,'
    b'"writeQueueNums":8}'
)


def test_broker_uses_the_shared_wire_models() -> None:
    assert managers.TopicConfig is TopicConfig
    assert managers.DataVersion is DataVersion
    assert importlib.util.find_spec("rmq_core.broker.managers.data_version") is None


def test_topics_json_keeps_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    path.write_bytes(b'{"dataVersion":' + VERSION + b',"topicConfigTable":{' + ORDERS + b"}}")
    topics = TopicConfigManager(lambda: BrokerConfig(), path)
    topics.load()
    assert topics.select("Orders") == TopicConfig(
        "Orders", 4, 8, 6, "MULTI_TAG", order=True, attributes={"+delete.policy": "COMPACTION"}
    )
    encoded = topics.encode()
    assert encoded.startswith(b'{"dataVersion":' + VERSION + b',"topicConfigTable":{')
    assert ORDERS in encoded
    wrapper = topics.serialize_wrapper()
    assert wrapper["mappingDataVersion"] == {"counter": 0, "stateVersion": 0, "timestamp": 0}


def test_bad_topic_entries_are_skipped_and_a_bad_version_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    path.write_bytes(
        b'{"dataVersion":"garbage","topicConfigTable":{'
        b'"Odd":{"topicName":"Odd","topicFilterType":"SQL"},'
        b'"Nums":{"topicName":"Nums","readQueueNums":"x"},'
        b'"Fine":{"topicName":"Fine","readQueueNums":"2","writeQueueNums":2,'
        b'"attributes":{"n":1,"b":true}}}}'
    )
    before = time.time_ns() // 1_000_000
    topics = TopicConfigManager(lambda: BrokerConfig(), path)
    topics.load()
    assert topics.select("Odd") is None and topics.select("Nums") is None
    fine = topics.select("Fine")
    assert fine is not None and fine.read_queue_nums == 2
    assert fine.attributes == {"n": "1", "b": "true"}
    assert topics.data_version.counter == 0 and topics.data_version.timestamp >= before


def test_offset_and_group_files_keep_their_version(tmp_path: Path) -> None:
    offsets_path = tmp_path / "consumerOffset.json"
    offsets_path.write_bytes(b'{"dataVersion":' + VERSION + b',"offsetTable":{"T@G":{0:5}}}')
    offsets = ConsumerOffsetManager(offsets_path)
    offsets.load()
    assert offsets.encode() == offsets_path.read_bytes()

    groups_path = tmp_path / "subscriptionGroup.json"
    groups = SubscriptionGroupManager(lambda: BrokerConfig(), groups_path)
    groups.find_subscription_group_config("G1")
    groups.persist()
    written = groups_path.read_bytes()
    again = SubscriptionGroupManager(lambda: BrokerConfig(), groups_path)
    again.load()
    assert again.encode() == written
    assert again.data_version == groups.data_version
