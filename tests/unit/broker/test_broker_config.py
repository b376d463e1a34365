"""BrokerConfig: broker.conf keys, units, unknown keys, runtime-mutable keys."""

from __future__ import annotations

import pytest

from rmq_core.broker.config import BrokerConfig, ConfigError
from rmq_core.broker.properties import dump_properties, parse_properties


def test_defaults_match_rocketmq() -> None:
    cfg = BrokerConfig()
    assert cfg.broker_cluster_name == "DefaultCluster"
    assert cfg.listen_port == 10911
    assert cfg.auto_create_topic_enable is True
    assert cfg.default_topic_queue_nums == 8
    assert cfg.broker_permission == 6
    assert cfg.short_polling_time == 1.0
    assert cfg.register_name_server_period == 30.0
    assert cfg.channel_expired_timeout == 120.0
    assert cfg.is_readable and cfg.is_writeable


def test_from_properties_converts_types_and_milliseconds() -> None:
    cfg = BrokerConfig.from_properties(
        {
            "brokerName": "broker-b",
            "listenPort": "20911",
            "autoCreateTopicEnable": "FALSE",
            "shortPollingTimeMills": "250",
            "namesrvAddr": "127.0.0.1:9876; 10.0.0.2:9876 ;",
        }
    )
    assert cfg.broker_name == "broker-b"
    assert cfg.listen_port == 20911
    assert cfg.auto_create_topic_enable is False
    assert cfg.short_polling_time == 0.25
    assert cfg.namesrv_addresses == ["127.0.0.1:9876", "10.0.0.2:9876"]


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match="brokerNmae"):
        BrokerConfig.from_properties({"brokerNmae": "x"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("listenPort", "abc"),
        ("listenPort", "70000"),
        ("autoCreateTopicEnable", "yes"),
        ("brokerId", "1"),
        ("shortPollingTimeMills", "-1"),
        ("brokerPermission", "9"),
    ],
)
def test_bad_values_are_errors(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        BrokerConfig.from_properties({key: value})


def test_to_properties_round_trips() -> None:
    cfg = BrokerConfig.from_properties({"shortPollingTimeMills": "1500", "traceOn": "false"})
    props = cfg.to_properties()
    assert props["shortPollingTimeMills"] == "1500"
    assert props["traceOn"] == "false"
    # an unset messageDelayLevel is left out: the store's table is the one in force
    assert set(props) == BrokerConfig.keys() - {"messageDelayLevel"}
    assert BrokerConfig.from_properties(props) == cfg


def test_mutable_keys_exclude_identity_and_ports() -> None:
    mutable = BrokerConfig.mutable_keys()
    assert "autoCreateTopicEnable" in mutable
    assert "listenPort" not in mutable
    assert "brokerName" not in mutable


def test_parse_properties_java_syntax() -> None:
    text = (
        "# comment\n"
        "! another\n"
        "brokerClusterName = DefaultCluster\n"
        "brokerName:broker-a\n"
        "namesrvAddr 127.0.0.1:9876\n"
        "messageDelayLevel = 1s 5s \\\n"
        "    10s\n"
        "   \n"
        "escaped\\ key = a\\tb\\u0041\n"
        "empty=\n"
    )
    assert parse_properties(text) == {
        "brokerClusterName": "DefaultCluster",
        "brokerName": "broker-a",
        "namesrvAddr": "127.0.0.1:9876",
        "messageDelayLevel": "1s 5s 10s",
        "escaped key": "a\tbA",
        "empty": "",
    }


def test_dump_then_parse_is_identity() -> None:
    values = {"a": "1", "key with space": "x=y:z", "path": "C:\\data", "lead": " blank"}
    assert parse_properties(dump_properties(values)) == values


def test_roles_and_delay_levels() -> None:
    assert BrokerConfig.from_properties({"brokerRole": "SYNC_MASTER"}).broker_role == "SYNC_MASTER"
    with pytest.raises(ConfigError, match="brokerRole"):
        BrokerConfig.from_properties({"brokerRole": "SLAVE"})
    cfg = BrokerConfig.from_properties({"messageDelayLevel": "1s 2m 3h 1d"})
    assert cfg.message_delay_level == "1s 2m 3h 1d"
    with pytest.raises(ConfigError, match="messageDelayLevel"):
        BrokerConfig.from_properties({"messageDelayLevel": "1s 5x"})


def test_broker_conf_splits_broker_and_store_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rmq_core.broker.conf_file import load_broker_conf

    conf = tmp_path / "broker.conf"
    conf.write_text(
        "brokerClusterName = DefaultCluster\n"
        "brokerName = broker-a\n"
        "brokerId = 0\n"
        "deleteWhen = 04\n"
        "fileReservedTime = 48\n"
        "brokerRole = ASYNC_MASTER\n"
        "flushDiskType = SYNC_FLUSH\n"
        "mapedFileSizeCommitLog = 1048576\n"
        f"storePathRootDir = {tmp_path}/store\n"
    )
    broker, store = load_broker_conf(conf)
    assert broker.broker_name == "broker-a"
    assert store.flush_disk_type == "SYNC_FLUSH"
    assert store.file_reserved_time == 48
    assert store.mapped_file_size_commit_log == 1048576
    assert store.store_path_root_dir == f"{tmp_path}/store"


def test_broker_conf_errors_name_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rmq_core.broker.conf_file import load_broker_conf

    with pytest.raises(ConfigError, match="flushDiskTpe"):
        load_broker_conf({"flushDiskTpe": "SYNC_FLUSH"})
    with pytest.raises(ConfigError, match="flushDiskType"):
        load_broker_conf({"flushDiskType": "SOMETIMES"})
    with pytest.raises(ConfigError, match="cannot read"):
        load_broker_conf(tmp_path / "missing.conf")
