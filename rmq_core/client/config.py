"""Client configuration: frozen dataclasses with RocketMQ's defaults as named constants.

Durations are seconds (float) in this API; they become milliseconds only on the wire. Build a
config with keyword arguments, or derive one with :func:`dataclasses.replace`; the client
classes also accept the same names as keyword overrides.
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from rmq_core.errors import ClientError

__all__ = [
    "DEFAULT_BROKER_SUSPEND_MAX_TIME",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_REBALANCE_INTERVAL",
    "ClientConfig",
    "ConsumeFromWhere",
    "LitePullConsumerConfig",
    "MessageModel",
    "ProducerConfig",
    "PushConsumerConfig",
    "apply_overrides",
    "build_config",
    "local_ip",
    "parse_namesrv_addr",
]

DEFAULT_NAMESRV_ENV = "NAMESRV_ADDR"
DEFAULT_POLL_NAME_SERVER_INTERVAL = 30.0
DEFAULT_HEARTBEAT_INTERVAL = 30.0
DEFAULT_REBALANCE_INTERVAL = 20.0
DEFAULT_PERSIST_OFFSET_INTERVAL = 5.0
DEFAULT_API_TIMEOUT = 3.0
DEFAULT_SEND_TIMEOUT = 3.0
DEFAULT_RETRY_TIMES = 2
DEFAULT_COMPRESS_OVER = 4096
DEFAULT_COMPRESS_LEVEL = 5
DEFAULT_MAX_ASYNC_INFLIGHT = 10_000  # like Java's backPressureForAsyncSendNum
DEFAULT_MAX_ASYNC_INFLIGHT_BYTES = 100 * 1024 * 1024  # like backPressureForAsyncSendSize
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
DEFAULT_TOPIC_QUEUE_NUMS = 4
AUTO_CREATE_TOPIC_KEY = "TBW102"
DEFAULT_PULL_BATCH_SIZE = 32
DEFAULT_PULL_THRESHOLD_FOR_QUEUE = 1000
DEFAULT_PULL_THRESHOLD_SIZE_FOR_QUEUE = 100 * 1024 * 1024
DEFAULT_CONSUME_MAX_SPAN = 2000
DEFAULT_CONSUME_THREADS = 20
DEFAULT_BROKER_SUSPEND_MAX_TIME = 15.0
DEFAULT_CONSUMER_TIMEOUT_WHEN_SUSPEND = 30.0
DEFAULT_PULL_TIME_DELAY_WHEN_EXCEPTION = 3.0
DEFAULT_PULL_TIME_DELAY_WHEN_FLOW_CONTROL = 0.05
DEFAULT_SUSPEND_CURRENT_QUEUE_TIME = 1.0
DEFAULT_CONSUME_TIMEOUT = 15 * 60.0
DEFAULT_OFFSET_STORE_DIR = os.path.join(os.path.expanduser("~"), ".rocketmq_offsets")


class MessageModel(enum.StrEnum):
    """CLUSTERING: each message goes to one consumer of the group; BROADCASTING: to all."""

    CLUSTERING = "CLUSTERING"
    BROADCASTING = "BROADCASTING"


class ConsumeFromWhere(enum.StrEnum):
    """Where a group with no stored offset starts on a queue (reference §6.5)."""

    CONSUME_FROM_LAST_OFFSET = "CONSUME_FROM_LAST_OFFSET"
    CONSUME_FROM_FIRST_OFFSET = "CONSUME_FROM_FIRST_OFFSET"
    CONSUME_FROM_TIMESTAMP = "CONSUME_FROM_TIMESTAMP"


def local_ip() -> str:
    """A non-loopback IPv4 address of this host when one is known, else ``127.0.0.1``."""
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
    return address if address and not address.startswith("127.") else "127.0.0.1"


def parse_namesrv_addr(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Split ``"a:9876;b:9876"`` (or a list) into addresses; each must be ``host:port``."""
    if value is None:
        value = os.environ.get(DEFAULT_NAMESRV_ENV, "")
    parts = value.replace(",", ";").split(";") if isinstance(value, str) else list(value)
    addresses = tuple(p.strip() for p in parts if p.strip())
    for address in addresses:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ClientError(f"bad NameServer address {address!r}: expected host:port")
    return addresses


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What every client of a :class:`~rmq_core.client.instance.ClientInstance` shares.

    ``namesrv_addr`` empty means "from the NAMESRV_ADDR environment variable". The client id
    is ``client_ip@instance_name[@unit_name]``; ``instance_name`` "DEFAULT" becomes the pid.
    """

    namesrv_addr: str | tuple[str, ...] = ""
    instance_name: str = "DEFAULT"
    client_ip: str = field(default_factory=local_ip)
    unit_name: str = ""
    poll_name_server_interval: float = DEFAULT_POLL_NAME_SERVER_INTERVAL
    heartbeat_broker_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    persist_consumer_offset_interval: float = DEFAULT_PERSIST_OFFSET_INTERVAL
    rebalance_interval: float = DEFAULT_REBALANCE_INTERVAL
    mq_client_api_timeout: float = DEFAULT_API_TIMEOUT

    def namesrv_addresses(self) -> tuple[str, ...]:
        """The NameServer addresses (at least one), from the config or the environment."""
        raw = self.namesrv_addr
        addresses = parse_namesrv_addr(raw if raw else None)
        if not addresses:
            raise ClientError(
                "no NameServer address: pass namesrv_addr or set the NAMESRV_ADDR variable"
            )
        return addresses

    def build_client_id(self) -> str:
        """``ip@instance[@unit]``; the default instance name is replaced by the pid."""
        instance = str(os.getpid()) if self.instance_name == "DEFAULT" else self.instance_name
        client_id = f"{self.client_ip}@{instance}"
        return f"{client_id}@{self.unit_name}" if self.unit_name else client_id


@dataclass(frozen=True, slots=True)
class ProducerConfig(ClientConfig):
    """Producer settings (``DefaultMQProducer``, reference §6.1).

    ``max_async_inflight`` (sends, >= 1) and ``max_async_inflight_bytes`` (body bytes, >= 1)
    bound :meth:`~rmq_core.client.producer.Producer.send_async`: while either limit is
    reached, ``send_async`` raises a retriable :class:`~rmq_core.errors.ClientError` at once;
    ``await producer.wait_async_capacity()`` waits for room instead.
    """

    producer_group: str = "DEFAULT_PRODUCER"
    send_msg_timeout: float = DEFAULT_SEND_TIMEOUT
    retry_times_when_send_failed: int = DEFAULT_RETRY_TIMES
    retry_times_when_send_async_failed: int = DEFAULT_RETRY_TIMES
    retry_another_broker_when_not_store_ok: bool = False
    compress_msg_body_over_howmuch: int = DEFAULT_COMPRESS_OVER
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    default_topic_queue_nums: int = DEFAULT_TOPIC_QUEUE_NUMS
    create_topic_key: str = AUTO_CREATE_TOPIC_KEY
    send_latency_fault_enable: bool = True
    max_async_inflight: int = DEFAULT_MAX_ASYNC_INFLIGHT
    max_async_inflight_bytes: int = DEFAULT_MAX_ASYNC_INFLIGHT_BYTES


@dataclass(frozen=True, slots=True)
class _ConsumerCommon(ClientConfig):
    consumer_group: str = "DEFAULT_CONSUMER"
    message_model: MessageModel = MessageModel.CLUSTERING
    consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    consume_timestamp: str = ""
    """``yyyyMMddHHmmss`` for CONSUME_FROM_TIMESTAMP; empty means 30 minutes ago."""
    pull_batch_size: int = DEFAULT_PULL_BATCH_SIZE
    pull_threshold_for_queue: int = DEFAULT_PULL_THRESHOLD_FOR_QUEUE
    pull_threshold_size_for_queue: int = DEFAULT_PULL_THRESHOLD_SIZE_FOR_QUEUE
    broker_suspend_max_time: float = DEFAULT_BROKER_SUSPEND_MAX_TIME
    consumer_timeout_when_suspend: float = DEFAULT_CONSUMER_TIMEOUT_WHEN_SUSPEND
    pull_time_delay_when_exception: float = DEFAULT_PULL_TIME_DELAY_WHEN_EXCEPTION
    offset_store_dir: str = DEFAULT_OFFSET_STORE_DIR


@dataclass(frozen=True, slots=True)
class PushConsumerConfig(_ConsumerCommon):
    """Push consumer settings (``DefaultMQPushConsumer``, reference §6.2-§6.8).

    ``consume_thread_max`` bounds how many handler calls run at once; sync handlers run in a
    thread pool of that size, async handlers on the loop.
    """

    consume_thread_max: int = DEFAULT_CONSUME_THREADS
    consume_concurrently_max_span: int = DEFAULT_CONSUME_MAX_SPAN
    consume_message_batch_max_size: int = 1
    pull_interval: float = 0.0
    max_reconsume_times: int = -1
    suspend_current_queue_time: float = DEFAULT_SUSPEND_CURRENT_QUEUE_TIME
    consume_timeout: float = DEFAULT_CONSUME_TIMEOUT
    pull_time_delay_when_flow_control: float = DEFAULT_PULL_TIME_DELAY_WHEN_FLOW_CONTROL


@dataclass(frozen=True, slots=True)
class LitePullConsumerConfig(_ConsumerCommon):
    """Lite pull consumer settings (``DefaultLitePullConsumer``)."""

    pull_batch_size: int = 10
    auto_commit: bool = True
    auto_commit_interval: float = 5.0
    poll_timeout: float = 5.0
    topic_metadata_check_interval: float = 30.0


C = TypeVar("C", bound=ClientConfig)


def apply_overrides(config: C, overrides: dict[str, Any]) -> C:
    """``config`` with ``overrides`` applied; unknown names raise :class:`ClientError`."""
    if not overrides:
        return config
    known = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ClientError(f"unknown {type(config).__name__} option(s): {', '.join(unknown)}")
    return replace(config, **overrides)


def build_config(
    base: C,
    options: dict[str, Any],
    *,
    group_field: str,
    group: str | None,
    namesrv_addr: str | Sequence[str] | None,
) -> C:
    """``base`` with the constructor's ``group`` (stored as ``group_field``), ``namesrv_addr``
    (one address string or a sequence) and keyword ``options`` applied, as every client's
    constructor does; unknown names raise :class:`ClientError`."""
    overrides = dict(options)
    if group is not None:
        overrides[group_field] = group
    if namesrv_addr is not None:
        overrides["namesrv_addr"] = (
            namesrv_addr if isinstance(namesrv_addr, str) else tuple(namesrv_addr)
        )
    return apply_overrides(base, overrides)
