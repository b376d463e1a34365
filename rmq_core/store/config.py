"""``StoreConfig``: every knob of the message store, with RocketMQ's defaults.

Durations are **seconds** in the Python API; :meth:`StoreConfig.from_properties` reads
RocketMQ's camelCase keys where they are milliseconds (``flushIntervalCommitLog``,
``syncFlushTimeout``, ...) or hours (``fileReservedTime``) and converts them.
Sizes are bytes. The consume-queue file size must be a multiple of 20 (one unit).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rmq_core.common.delay_levels import DEFAULT_MESSAGE_DELAY_LEVEL, parse_delay_levels
from rmq_core.errors import StoreError

__all__ = [
    "ASYNC_FLUSH",
    "DEFAULT_MAPPED_FILE_SIZE_COMMIT_LOG",
    "DEFAULT_MAPPED_FILE_SIZE_CONSUME_QUEUE",
    "PROPERTY_KEYS",
    "SYNC_FLUSH",
    "StoreConfig",
]

ASYNC_FLUSH = "ASYNC_FLUSH"
SYNC_FLUSH = "SYNC_FLUSH"
CQ_UNIT_SIZE = 20
DEFAULT_MAPPED_FILE_SIZE_COMMIT_LOG = 1024 * 1024 * 1024
DEFAULT_MAPPED_FILE_SIZE_CONSUME_QUEUE = 300_000 * CQ_UNIT_SIZE
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
DEFAULT_MAX_HASH_SLOT_NUM = 5_000_000
DEFAULT_MAX_INDEX_NUM = 5_000_000 * 4
MIN_COMMIT_LOG_FILE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Configuration of one :class:`~rmq_core.store.store.MessageStore`."""

    store_path_root_dir: str = os.path.join(os.path.expanduser("~"), "store")
    store_path_commit_log: str | None = None  # default: <root>/commitlog
    mapped_file_size_commit_log: int = DEFAULT_MAPPED_FILE_SIZE_COMMIT_LOG
    mapped_file_size_consume_queue: int = DEFAULT_MAPPED_FILE_SIZE_CONSUME_QUEUE
    flush_disk_type: str = ASYNC_FLUSH
    flush_interval: float = 0.5  # s between async commit-log flushes
    flush_commit_log_least_pages: int = 4  # 4 KiB pages dirty before an async flush
    flush_commit_log_thorough_interval: float = 10.0  # s: flush whatever is dirty
    flush_interval_consume_queue: float = 1.0
    flush_consume_queue_least_pages: int = 2
    flush_consume_queue_thorough_interval: float = 60.0
    sync_flush_timeout: float = 5.0  # s a SYNC_FLUSH writer waits before FLUSH_DISK_TIMEOUT
    file_reserved_time: float = 72.0  # hours a commit-log file is kept
    delete_when: str = "04"  # hours of the day (";"-separated) when expired files go
    disk_max_used_space_ratio: int = 75  # percent; above it expired files go at once
    disk_space_clean_forcibly_ratio: float = 0.85  # above it even unexpired files go
    clean_resource_interval: float = 10.0
    delete_files_batch_max: int = 10
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_hash_slot_num: int = DEFAULT_MAX_HASH_SLOT_NUM
    max_index_num: int = DEFAULT_MAX_INDEX_NUM
    message_index_enable: bool = True
    check_crc_on_recover: bool = True
    enabled_append_prop_crc: bool = False
    # Pre-fault new segments off the writer's path. Off by default, as in RocketMQ: warming
    # writes a whole segment of zeros (2 GiB at start: current + next), which on a 2-core box
    # took a core from the broker and its clients (10 s pipelined runs: broker CPU 26-53 vs
    # 25-28 us per message, 9-21k vs 16-21k msg/s; docs/benchmarks.md).
    warm_mapped_file_enable: bool = False
    max_transfer_bytes_on_message_in_memory: int = 256 * 1024
    max_transfer_count_on_message_in_memory: int = 32  # messages per pull response
    max_filter_message_size: int = 16000  # consume-queue bytes (800 units) a filtered read scans
    reput_interval: float = 0.001  # s the dispatcher sleeps when idle and not woken
    message_delay_level: str = DEFAULT_MESSAGE_DELAY_LEVEL  # the broker's table too

    def __post_init__(self) -> None:
        if self.flush_disk_type not in (ASYNC_FLUSH, SYNC_FLUSH):
            raise StoreError(f"flushDiskType must be ASYNC_FLUSH or SYNC_FLUSH, not "
                             f"{self.flush_disk_type!r}")  # fmt: skip
        if self.mapped_file_size_commit_log < MIN_COMMIT_LOG_FILE_SIZE:
            raise StoreError(f"mappedFileSizeCommitLog must be >= {MIN_COMMIT_LOG_FILE_SIZE}")
        cq = self.mapped_file_size_consume_queue
        if cq < CQ_UNIT_SIZE or cq % CQ_UNIT_SIZE:
            raise StoreError("mappedFileSizeConsumeQueue must be a positive multiple of 20")
        if self.max_hash_slot_num < 1 or self.max_index_num < 2:
            raise StoreError("maxHashSlotNum must be >= 1 and maxIndexNum >= 2")
        if self.max_message_size < 1:
            raise StoreError("maxMessageSize must be positive")
        if self.max_transfer_count_on_message_in_memory < 1:
            raise StoreError("maxTransferCountOnMessageInMemory must be positive")
        if self.max_filter_message_size < CQ_UNIT_SIZE:
            raise StoreError(f"maxFilterMessageSize must be >= {CQ_UNIT_SIZE} (one unit)")
        self.delay_levels_ms()

    def delay_levels_ms(self) -> tuple[int, ...]:
        """``message_delay_level`` parsed: the delay in ms of level 1, 2, ... (units s m h d).

        The single source of the delay-level table: the store stamps schedule-topic delivery
        times with it and the broker's schedule service delivers by it. Raises StoreError for
        a malformed or empty value.
        """
        try:
            return parse_delay_levels(self.message_delay_level)
        except ValueError as exc:
            raise StoreError(str(exc)) from None

    @property
    def commit_log_dir(self) -> str:
        """Directory of the commit-log segments."""
        return self.store_path_commit_log or os.path.join(self.store_path_root_dir, "commitlog")

    @property
    def consume_queue_dir(self) -> str:
        """Directory holding ``<topic>/<queueId>/`` consume-queue segments."""
        return os.path.join(self.store_path_root_dir, "consumequeue")

    @property
    def index_dir(self) -> str:
        """Directory of the index files."""
        return os.path.join(self.store_path_root_dir, "index")

    @property
    def sync_flush(self) -> bool:
        """True when writers wait for an fdatasync (SYNC_FLUSH)."""
        return self.flush_disk_type == SYNC_FLUSH

    def replace(self, **changes: Any) -> StoreConfig:
        """A copy with ``changes`` applied (field names, Python units)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_properties(cls, properties: Mapping[str, str | int | float | bool]) -> StoreConfig:
        """Build from RocketMQ camelCase keys (``broker.conf`` values; strings accepted).

        Raises StoreError naming the key for an unknown key or a malformed value.
        """
        values: dict[str, Any] = {}
        for key, raw in properties.items():
            spec = _PROPERTIES.get(key)
            if spec is None:
                raise StoreError(f"unknown store config key {key!r}")
            name, convert = spec
            try:
                values[name] = convert(raw)
            except (TypeError, ValueError) as exc:
                raise StoreError(f"bad value {raw!r} for store config key {key!r}") from exc
        return cls(**values)


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(raw)


def _int(raw: object) -> int:
    return int(str(raw).strip())


def _ms(raw: object) -> float:
    return float(str(raw).strip()) / 1000.0


def _float(raw: object) -> float:
    return float(str(raw).strip())


def _str(raw: object) -> str:
    return str(raw).strip()


_PROPERTIES: dict[str, tuple[str, Callable[[object], object]]] = {
    "storePathRootDir": ("store_path_root_dir", _str),
    "storePathCommitLog": ("store_path_commit_log", _str),
    "mappedFileSizeCommitLog": ("mapped_file_size_commit_log", _int),
    "mappedFileSizeConsumeQueue": ("mapped_file_size_consume_queue", _int),
    "flushDiskType": ("flush_disk_type", _str),
    "flushIntervalCommitLog": ("flush_interval", _ms),
    "flushCommitLogLeastPages": ("flush_commit_log_least_pages", _int),
    "flushCommitLogThoroughInterval": ("flush_commit_log_thorough_interval", _ms),
    "flushIntervalConsumeQueue": ("flush_interval_consume_queue", _ms),
    "flushConsumeQueueLeastPages": ("flush_consume_queue_least_pages", _int),
    "flushConsumeQueueThoroughInterval": ("flush_consume_queue_thorough_interval", _ms),
    "syncFlushTimeout": ("sync_flush_timeout", _ms),
    "fileReservedTime": ("file_reserved_time", _float),
    "deleteWhen": ("delete_when", _str),
    "diskMaxUsedSpaceRatio": ("disk_max_used_space_ratio", _int),
    "cleanResourceInterval": ("clean_resource_interval", _ms),
    "deleteFilesBatchMax": ("delete_files_batch_max", _int),
    "maxMessageSize": ("max_message_size", _int),
    "maxHashSlotNum": ("max_hash_slot_num", _int),
    "maxIndexNum": ("max_index_num", _int),
    "messageIndexEnable": ("message_index_enable", _bool),
    "checkCRCOnRecover": ("check_crc_on_recover", _bool),
    "enabledAppendPropCRC": ("enabled_append_prop_crc", _bool),
    "warmMapedFileEnable": ("warm_mapped_file_enable", _bool),
    "maxTransferBytesOnMessageInMemory": ("max_transfer_bytes_on_message_in_memory", _int),
    "maxTransferCountOnMessageInMemory": ("max_transfer_count_on_message_in_memory", _int),
    "maxFilterMessageSize": ("max_filter_message_size", _int),
    "messageDelayLevel": ("message_delay_level", _str),
}

PROPERTY_KEYS: frozenset[str] = frozenset(_PROPERTIES)
"""The camelCase keys :meth:`StoreConfig.from_properties` understands."""
