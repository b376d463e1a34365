"""NameServer configuration: a frozen dataclass that also reads RocketMQ's namesrv.conf keys.

Seconds in the Python API; the ``.properties`` keys keep RocketMQ's milliseconds
(``scanNotActiveBrokerInterval``). Unknown keys are an error, so a typo never goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from rmq_core.errors import RocketMQError
from rmq_core.namesrv.route_info import DEFAULT_BROKER_TIMEOUT

__all__ = [
    "DEFAULT_BROKER_TIMEOUT",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SCAN_INTERVAL",
    "NamesrvConfig",
    "NamesrvConfigError",
]

DEFAULT_HOST = "127.0.0.1"
"""Listen address. RocketMQ binds every interface; rmq defaults to loopback to be safe."""
DEFAULT_PORT = 9876
DEFAULT_SCAN_INTERVAL = 5.0
"""Seconds between scans for brokers that stopped registering."""


class NamesrvConfigError(RocketMQError):
    """A NameServer configuration key or value that cannot be used."""


@dataclass(frozen=True, slots=True)
class NamesrvConfig:
    """Settings of one NameServer process.

    - ``host``/``port``: where to listen (port 0 picks a free port);
    - ``scan_interval``: seconds between expiry scans;
    - ``broker_timeout``: seconds a broker stays routable without registering, unless its
      registration names its own ``heartbeatTimeoutMillis``;
    - ``kv_config_path``: kvConfig.json to load at start and rewrite on every KV change
      (None keeps the KV table in memory only);
    - ``order_message_enable``: fill ``orderTopicConf`` of routes from the
      ``ORDER_TOPIC_CONFIG`` KV namespace;
    - ``return_order_topic_config_to_broker``: answer REGISTER_BROKER with that namespace;
    - ``delete_topic_with_broker_registration``: a master's registration also removes the
      topics it no longer lists;
    - ``enable_all_topic_list``: serve GET_ALL_TOPIC_LIST_FROM_NAMESERVER;
    - ``max_frame_length``: largest accepted frame in bytes.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    scan_interval: float = DEFAULT_SCAN_INTERVAL
    broker_timeout: float = DEFAULT_BROKER_TIMEOUT
    kv_config_path: Path | None = None
    order_message_enable: bool = False
    return_order_topic_config_to_broker: bool = True
    delete_topic_with_broker_registration: bool = False
    enable_all_topic_list: bool = True
    max_frame_length: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise NamesrvConfigError(f"port must be 0..65535, got {self.port}")
        if self.scan_interval <= 0:
            raise NamesrvConfigError(f"scan interval must be positive, got {self.scan_interval}")
        if self.broker_timeout <= 0:
            raise NamesrvConfigError(f"broker timeout must be positive, got {self.broker_timeout}")
        if self.max_frame_length <= 0:
            raise NamesrvConfigError("max frame length must be positive")

    @classmethod
    def from_properties(
        cls, props: Mapping[str, str], base: NamesrvConfig | None = None
    ) -> NamesrvConfig:
        """Apply RocketMQ namesrv.conf keys (camelCase) on top of ``base``.

        Known keys: ``listenPort``, ``bindAddress``, ``kvConfigPath``,
        ``scanNotActiveBrokerInterval`` (ms), ``orderMessageEnable``,
        ``returnOrderTopicConfigToBroker``, ``deleteTopicWithBrokerRegistration``,
        ``enableAllTopicList``. Any other key raises :class:`NamesrvConfigError`.
        """
        changes: dict[str, object] = {}
        for key, raw in props.items():
            value = raw.strip()
            if key == "listenPort":
                changes["port"] = _int(key, value)
            elif key == "bindAddress":
                changes["host"] = value
            elif key == "kvConfigPath":
                changes["kv_config_path"] = Path(value).expanduser()
            elif key == "scanNotActiveBrokerInterval":
                changes["scan_interval"] = _int(key, value) / 1000.0
            elif key in _BOOL_KEYS:
                changes[_BOOL_KEYS[key]] = _bool(key, value)
            else:
                raise NamesrvConfigError(f"unknown NameServer config key {key!r}")
        return replace(base or cls(), **changes)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path, base: NamesrvConfig | None = None) -> NamesrvConfig:
        """Read a ``.properties`` file (``key=value`` lines, ``#``/``!`` comments)."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise NamesrvConfigError(f"cannot read {path}: {exc}") from exc
        return cls.from_properties(parse_properties(text), base)


_BOOL_KEYS = {
    "orderMessageEnable": "order_message_enable",
    "returnOrderTopicConfigToBroker": "return_order_topic_config_to_broker",
    "deleteTopicWithBrokerRegistration": "delete_topic_with_broker_registration",
    "enableAllTopicList": "enable_all_topic_list",
}


def parse_properties(text: str) -> dict[str, str]:
    """The ``key=value`` (or ``key: value``) pairs of a simple Java properties text."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        sep = min((i for i in (stripped.find("="), stripped.find(":")) if i >= 0), default=-1)
        if sep < 0:
            raise NamesrvConfigError(f"not a key=value line: {stripped!r}")
        props[stripped[:sep].strip()] = stripped[sep + 1 :].strip()
    return props


def _int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise NamesrvConfigError(f"{key} must be an integer, got {value!r}") from exc


def _bool(key: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise NamesrvConfigError(f"{key} must be true or false, got {value!r}")
    return value.lower() == "true"
