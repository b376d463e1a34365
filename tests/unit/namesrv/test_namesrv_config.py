"""NamesrvConfig: defaults, namesrv.conf keys, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmq_core.namesrv.config import NamesrvConfig, NamesrvConfigError, parse_properties


def test_defaults_are_safe() -> None:
    config = NamesrvConfig()
    assert (config.host, config.port) == ("127.0.0.1", 9876)
    assert config.broker_timeout == 120.0
    assert config.scan_interval == 5.0
    assert config.kv_config_path is None


def test_properties_file(tmp_path: Path) -> None:
    conf = tmp_path / "namesrv.conf"
    conf.write_text(
        "# comment\nlistenPort = 9877\nbindAddress=0.0.0.0\nkvConfigPath=/x/kv.json\n"
        "scanNotActiveBrokerInterval=2500\norderMessageEnable=true\n"
    )
    config = NamesrvConfig.load(conf)
    assert config.port == 9877
    assert config.host == "0.0.0.0"
    assert config.kv_config_path == Path("/x/kv.json")
    assert config.scan_interval == 2.5
    assert config.order_message_enable


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"listenPrt": "1"}, "unknown NameServer config key 'listenPrt'"),
        ({"listenPort": "x"}, "listenPort must be an integer"),
        ({"listenPort": "70000"}, "port must be"),
        ({"orderMessageEnable": "yes"}, "true or false"),
        ({"scanNotActiveBrokerInterval": "0"}, "scan interval must be positive"),
    ],
)
def test_bad_properties(props: dict[str, str], message: str) -> None:
    with pytest.raises(NamesrvConfigError, match=message):
        NamesrvConfig.from_properties(props)


def test_parse_properties_rejects_garbage() -> None:
    assert parse_properties("a=b\n  c : d\n! x\n") == {"a": "b", "c": "d"}
    with pytest.raises(NamesrvConfigError, match="not a key=value"):
        parse_properties("garbage")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NamesrvConfigError, match="cannot read"):
        NamesrvConfig.load(tmp_path / "nope.conf")
