"""Topic, offset, subscription-group and client managers: behaviour and JSON persistence."""

from __future__ import annotations

from pathlib import Path

from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.heartbeat import SubscriptionData
from rmq_core.broker.managers import (
    ClientChannelInfo,
    ConsumerGroupEvent,
    ConsumerManager,
    ConsumerOffsetManager,
    ProducerManager,
    SubscriptionGroupConfig,
    SubscriptionGroupManager,
    TopicConfig,
    TopicConfigManager,
)
from rmq_core.broker.managers.persistence import ThreadedConfigWriter
from rmq_core.remoting import fastjson


class FakeConnection:
    def __init__(self, address: str) -> None:
        self.remote_address = address
        self.closed = False

    async def invoke_oneway(self, request: object) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def _topics(cfg: BrokerConfig, path: Path | None = None) -> TopicConfigManager:
    return TopicConfigManager(lambda: cfg, path)


def test_builtin_topics() -> None:
    manager = _topics(BrokerConfig())
    tbw = manager.select("TBW102")
    assert tbw is not None and tbw.perm == 7 and tbw.write_queue_nums == 8
    assert manager.select("SCHEDULE_TOPIC_XXXX").read_queue_nums == 18  # type: ignore[union-attr]
    assert manager.select("DefaultCluster").perm == 7  # type: ignore[union-attr]
    assert manager.select("broker-a").perm == 7  # type: ignore[union-attr]
    assert manager.is_system_topic("DefaultCluster")
    assert not manager.is_system_topic("TopicTest")


def test_no_tbw102_without_auto_create() -> None:
    manager = _topics(BrokerConfig(auto_create_topic_enable=False))
    assert manager.select("TBW102") is None
    assert manager.create_topic_in_send_message_method("T", "TBW102", "c", 4) is None


def test_auto_create_from_tbw102() -> None:
    manager = _topics(BrokerConfig())
    changes: list[int] = []
    manager.add_change_listener(lambda: changes.append(1))
    created = manager.create_topic_in_send_message_method("NewTopic", "TBW102", "c", 4)
    assert created is not None
    assert (created.read_queue_nums, created.write_queue_nums, created.perm) == (4, 4, 6)
    assert (
        manager.create_topic_in_send_message_method("Big", "TBW102", "c", 64).write_queue_nums == 8
    )  # type: ignore[union-attr]
    assert len(changes) == 2
    assert manager.create_topic_in_send_message_method("X", "NoSuchTemplate", "c", 4) is None


def test_tbw102_loses_inherit_when_auto_create_turned_off() -> None:
    cfg = {"value": BrokerConfig()}
    manager = TopicConfigManager(lambda: cfg["value"])
    cfg["value"] = BrokerConfig(auto_create_topic_enable=False)
    assert manager.create_topic_in_send_message_method("T", "TBW102", "c", 4) is None


def test_topics_persist_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "config" / "topics.json"
    manager = _topics(BrokerConfig(), path)
    manager.update_topic_config(TopicConfig("Orders", 2, 3, 6, order=True, attributes={"a": "b"}))
    data = fastjson.loads(path.read_bytes())
    assert data["topicConfigTable"]["Orders"]["writeQueueNums"] == 3
    assert data["dataVersion"]["counter"] == 1
    again = _topics(BrokerConfig(), path)
    again.load()
    loaded = again.select("Orders")
    assert loaded == TopicConfig("Orders", 2, 3, 6, order=True, attributes={"a": "b"})
    assert again.data_version.counter == 1
    assert again.delete_topic("Orders") and not again.delete_topic("Orders")


def test_topics_load_falls_back_to_backup(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    manager = _topics(BrokerConfig(), path)
    manager.update_topic_config(TopicConfig("A"))
    manager.update_topic_config(TopicConfig("B"))
    path.write_text("{ torn")
    again = _topics(BrokerConfig(), path)
    again.load()
    assert again.select("A") is not None and again.select("B") is None


def test_offsets_persist_with_bare_integer_keys(tmp_path: Path) -> None:
    path = tmp_path / "consumerOffset.json"
    offsets = ConsumerOffsetManager(path)
    offsets.commit_offset("c", "G", "T", 0, 120)
    offsets.commit_offset("c", "G", "T", 1, -1)  # ali-ons "no offset yet"
    assert offsets.query_offset("G", "T", 0) == 120
    assert offsets.query_offset("G", "T", 1) == -1
    assert offsets.dirty
    offsets.persist()
    assert not offsets.dirty
    text = path.read_text()
    assert '"T@G":{0:120}' in text
    again = ConsumerOffsetManager(path)
    again.load()
    assert again.query_offsets("G", "T") == {0: 120}
    assert again.topics_of_group("G") == {"T"} and again.groups_of_topic("T") == {"G"}
    again.remove_group("G")
    assert again.query_offset("G", "T", 0) == -1


def test_subscription_groups(tmp_path: Path) -> None:
    path = tmp_path / "subscriptionGroup.json"
    cfg = {"value": BrokerConfig()}
    groups = SubscriptionGroupManager(lambda: cfg["value"], path)
    assert groups.select("TOOLS_CONSUMER") is not None
    created = groups.find_subscription_group_config("G1")
    assert created is not None and created.retry_max_times == 16
    cfg["value"] = BrokerConfig(auto_create_subscription_group=False)
    assert groups.find_subscription_group_config("G2") is None
    assert groups.find_subscription_group_config("CID_RMQ_SYS_X") is not None
    custom = SubscriptionGroupConfig.from_json(
        {"groupName": "G3", "retryMaxTimes": "3", "consumeEnable": False, "whatever": [1]}
    )
    groups.update_subscription_group_config(custom)
    again = SubscriptionGroupManager(lambda: cfg["value"], path)
    again.load()
    loaded = again.select("G3")
    assert loaded is not None and loaded.retry_max_times == 3 and not loaded.consume_enable
    assert loaded.to_json()["whatever"] == [1]
    assert again.delete_subscription_group_config("G3")


def test_consumer_manager_events() -> None:
    events: list[tuple[ConsumerGroupEvent, str, int]] = []
    manager = ConsumerManager()
    manager.add_listener(lambda e, g, ch: events.append((e, g, len(ch))))
    a, b = FakeConnection("1.1.1.1:1"), FakeConnection("1.1.1.1:2")
    sub = SubscriptionData("T", "TagA", sub_version=1)

    def register(conn: FakeConnection, cid: str) -> bool:
        info = ClientChannelInfo(conn, cid)  # type: ignore[arg-type]
        return manager.register_consumer(
            "G", info, "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_LAST_OFFSET", [sub]
        )

    assert register(a, "A")
    assert not register(a, "A")  # refresh only
    assert register(b, "B")
    assert manager.get_consumer_group_info("G").all_client_ids() == ["A", "B"]  # type: ignore[union-attr]
    assert manager.find_subscription_data("G", "T") == sub
    manager.do_channel_close_event(a)  # type: ignore[arg-type]
    manager.unregister_consumer("G", b)  # type: ignore[arg-type]
    assert manager.get_consumer_group_info("G") is None
    assert events == [
        (ConsumerGroupEvent.CHANGE, "G", 1),
        (ConsumerGroupEvent.CHANGE, "G", 2),
        (ConsumerGroupEvent.CHANGE, "G", 1),
        (ConsumerGroupEvent.UNREGISTER, "G", 0),
        (ConsumerGroupEvent.CHANGE, "G", 0),
    ]


def test_consumer_subscription_changes_and_expiry() -> None:
    manager = ConsumerManager()
    conn = FakeConnection("1.1.1.1:1")
    info = ClientChannelInfo(conn, "A", last_update=100.0)  # type: ignore[arg-type]
    manager.register_consumer(
        "G", info, "CONSUME_PASSIVELY", "CLUSTERING", "X", [SubscriptionData("T1")]
    )
    info2 = ClientChannelInfo(conn, "A", last_update=101.0)  # type: ignore[arg-type]
    changed = manager.register_consumer(
        "G", info2, "CONSUME_PASSIVELY", "CLUSTERING", "X", [SubscriptionData("T2")]
    )
    assert changed
    assert set(manager.get_consumer_group_info("G").subscriptions) == {"T2"}  # type: ignore[union-attr]
    assert manager.groups_subscribing("T2") == {"G"}
    assert manager.scan_not_active_channel(120.0, now=200.0) == []
    expired = manager.scan_not_active_channel(120.0, now=300.0)
    assert [e.client_id for e in expired] == ["A"]
    assert manager.groups() == []


def test_producer_manager() -> None:
    manager = ProducerManager()
    conn = FakeConnection("1.1.1.1:1")
    manager.register_producer("P", ClientChannelInfo(conn, "A", last_update=1.0))  # type: ignore[arg-type]
    assert manager.groups() == ["P"]
    assert manager.available_channel("P").client_id == "A"  # type: ignore[union-attr]
    assert manager.scan_not_active_channel(120.0, now=500.0)[0].client_id == "A"
    assert manager.groups() == []
    manager.register_producer("P", ClientChannelInfo(conn, "A"))  # type: ignore[arg-type]
    manager.do_channel_close_event(conn)  # type: ignore[arg-type]
    assert manager.channels("P") == []


def test_threaded_writer_keeps_newest_and_flushes(tmp_path: Path) -> None:
    writer = ThreadedConfigWriter()
    writer.start()
    path = tmp_path / "x.json"
    for i in range(50):
        writer.write(path, f'{{"n":{i}}}'.encode())
    assert writer.flush(5.0)
    writer.shutdown()
    assert path.read_text() == '{"n":49}'
    writer.write(path, b'{"n":50}')  # after shutdown: synchronous
    assert path.read_text() == '{"n":50}'
