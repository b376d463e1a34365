"""Messages as producers send them and as the store keeps them (reference §4.1-§4.4).

- :class:`Message`: what a producer sends: topic, body, user flag and a property map.
- :class:`MessageExt`: a stored message: a :class:`Message` plus everything the broker adds
  (queue id and offset, commit-log offset, timestamps in **milliseconds**, hosts as
  ``"ip:port"``, sys flag, body CRC, record size).
- :class:`MessageExtBrokerInner`: a :class:`MessageExt` on its way into the store; it may carry
  the already-encoded properties string so the append path does not encode them again.
- :class:`MessageConst`: well-known property keys; :class:`MessageSysFlag`: SYSFLAG bits.

Property values are strings. Keys in :data:`MessageConst.STRING_HASH_SET` are reserved for the
system; :meth:`Message.put_user_property` refuses them, :meth:`Message.put_property` does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

__all__ = [
    "Message",
    "MessageConst",
    "MessageExt",
    "MessageExtBrokerInner",
    "MessageSysFlag",
    "parse_properties",
]

NAME_VALUE_SEPARATOR = "\x01"
PROPERTY_SEPARATOR = "\x02"


def parse_properties(text: str) -> dict[str, str]:
    """Parse a properties string (``name \\x01 value \\x02`` per entry) like Java's
    ``string2messageProperties``: entries with an empty name or value, or no separator, are
    skipped. (An entry shorter than 3 characters cannot have a separator, a name and a value,
    so checking those three covers Java's length rule.)"""
    result: dict[str, str] = {}
    for entry in text.split(PROPERTY_SEPARATOR):
        name, sep, value = entry.partition(NAME_VALUE_SEPARATOR)
        if sep and name and value:
            result[name] = value
    return result


class MessageConst:
    """Well-known property keys (Java ``MessageConst``, reference §4.4)."""

    PROPERTY_KEYS = "KEYS"
    PROPERTY_TAGS = "TAGS"
    PROPERTY_WAIT_STORE_MSG_OK = "WAIT"
    PROPERTY_DELAY_TIME_LEVEL = "DELAY"
    PROPERTY_RETRY_TOPIC = "RETRY_TOPIC"
    PROPERTY_REAL_TOPIC = "REAL_TOPIC"
    PROPERTY_REAL_QUEUE_ID = "REAL_QID"
    PROPERTY_TRANSACTION_PREPARED = "TRAN_MSG"
    PROPERTY_PRODUCER_GROUP = "PGROUP"
    PROPERTY_MIN_OFFSET = "MIN_OFFSET"
    PROPERTY_MAX_OFFSET = "MAX_OFFSET"
    PROPERTY_BUYER_ID = "BUYER_ID"
    PROPERTY_ORIGIN_MESSAGE_ID = "ORIGIN_MESSAGE_ID"
    PROPERTY_TRANSFER_FLAG = "TRANSFER_FLAG"
    PROPERTY_CORRECTION_FLAG = "CORRECTION_FLAG"
    PROPERTY_MQ2_FLAG = "MQ2_FLAG"
    PROPERTY_RECONSUME_TIME = "RECONSUME_TIME"
    PROPERTY_MSG_REGION = "MSG_REGION"
    PROPERTY_TRACE_SWITCH = "TRACE_ON"
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX = "UNIQ_KEY"
    PROPERTY_EXTEND_UNIQ_INFO = "EXTEND_UNIQ_INFO"
    PROPERTY_MAX_RECONSUME_TIMES = "MAX_RECONSUME_TIMES"
    PROPERTY_CONSUME_START_TIMESTAMP = "CONSUME_START_TIME"
    PROPERTY_INNER_NUM = "INNER_NUM"
    PROPERTY_INNER_BASE = "INNER_BASE"
    DUP_INFO = "DUP_INFO"
    PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS = "CHECK_IMMUNITY_TIME_IN_SECONDS"
    PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET = "TRAN_PREPARED_QUEUE_OFFSET"
    PROPERTY_TRANSACTION_ID = "__transactionId__"
    PROPERTY_TRANSACTION_CHECK_TIMES = "TRANSACTION_CHECK_TIMES"
    PROPERTY_INSTANCE_ID = "INSTANCE_ID"
    PROPERTY_CORRELATION_ID = "CORRELATION_ID"
    PROPERTY_MESSAGE_REPLY_TO_CLIENT = "REPLY_TO_CLIENT"
    PROPERTY_MESSAGE_TTL = "TTL"
    PROPERTY_REPLY_MESSAGE_ARRIVE_TIME = "ARRIVE_TIME"
    PROPERTY_PUSH_REPLY_TIME = "PUSH_REPLY_TIME"
    PROPERTY_CLUSTER = "CLUSTER"
    PROPERTY_MESSAGE_TYPE = "MSG_TYPE"
    PROPERTY_POP_CK = "POP_CK"
    PROPERTY_POP_CK_OFFSET = "POP_CK_OFFSET"
    PROPERTY_FIRST_POP_TIME = "1ST_POP_TIME"
    PROPERTY_SHARDING_KEY = "__SHARDINGKEY"
    PROPERTY_TIMER_DELIVER_MS = "TIMER_DELIVER_MS"
    PROPERTY_TIMER_DELAY_SEC = "TIMER_DELAY_SEC"
    PROPERTY_TIMER_DELAY_MS = "TIMER_DELAY_MS"
    PROPERTY_TIMER_ENQUEUE_MS = "TIMER_ENQUEUE_MS"
    PROPERTY_TIMER_DEQUEUE_MS = "TIMER_DEQUEUE_MS"
    PROPERTY_TIMER_ROLL_TIMES = "TIMER_ROLL_TIMES"
    PROPERTY_TIMER_OUT_MS = "TIMER_OUT_MS"
    PROPERTY_TIMER_DEL_UNIQKEY = "TIMER_DEL_UNIQKEY"
    PROPERTY_TIMER_DELAY_LEVEL = "TIMER_DELAY_LEVEL"
    PROPERTY_TRACE_CONTEXT = "TRACE_CONTEXT"
    PROPERTY_BORN_HOST = "__BORNHOST"
    PROPERTY_BORN_TIMESTAMP = "BORN_TIMESTAMP"
    PROPERTY_DLQ_ORIGIN_TOPIC = "DLQ_ORIGIN_TOPIC"
    PROPERTY_DLQ_ORIGIN_MESSAGE_ID = "DLQ_ORIGIN_MESSAGE_ID"
    PROPERTY_CRC32 = "__CRC32#"
    PROPERTY_START_DELIVER_TIME = "__STARTDELIVERTIME"
    PROPERTY_TRANSIENT_PREFIX = "__RMQ.TRANSIENT."

    KEY_SEPARATOR = " "

    STRING_HASH_SET: frozenset[str] = frozenset(
        {
            "TRACE_ON", "MSG_REGION", "KEYS", "TAGS", "WAIT", "DELAY", "RETRY_TOPIC",
            "REAL_TOPIC", "REAL_QID", "TRAN_MSG", "PGROUP", "MIN_OFFSET", "MAX_OFFSET",
            "BUYER_ID", "ORIGIN_MESSAGE_ID", "TRANSFER_FLAG", "CORRECTION_FLAG", "MQ2_FLAG",
            "RECONSUME_TIME", "UNIQ_KEY", "MAX_RECONSUME_TIMES", "CONSUME_START_TIME",
            "POP_CK", "POP_CK_OFFSET", "1ST_POP_TIME", "TRAN_PREPARED_QUEUE_OFFSET",
            "DUP_INFO", "EXTEND_UNIQ_INFO", "INSTANCE_ID", "CORRELATION_ID",
            "REPLY_TO_CLIENT", "TTL", "ARRIVE_TIME", "PUSH_REPLY_TIME", "CLUSTER",
            "MSG_TYPE", "INNER_MULTI_QUEUE_OFFSET", "__transactionId__",
            "TRANSACTION_CHECK_TIMES", "CHECK_IMMUNITY_TIME_IN_SECONDS", "INNER_NUM",
            "INNER_BASE", "__SHARDINGKEY", "TIMER_DELIVER_MS", "TIMER_DELAY_SEC",
            "TIMER_DELAY_MS", "TIMER_ENQUEUE_MS", "TIMER_DEQUEUE_MS", "TIMER_ROLL_TIMES",
            "TIMER_OUT_MS", "TIMER_DEL_UNIQKEY", "TIMER_DELAY_LEVEL", "__BORNHOST",
            "BORN_TIMESTAMP", "DLQ_ORIGIN_TOPIC", "DLQ_ORIGIN_MESSAGE_ID", "__CRC32#",
        }
    )  # fmt: skip


class MessageSysFlag:
    """SYSFLAG bits of a stored record (reference §4.2)."""

    COMPRESSED_FLAG = 0x1
    MULTI_TAGS_FLAG = 0x2
    TRANSACTION_NOT_TYPE = 0x0
    TRANSACTION_PREPARED_TYPE = 0x1 << 2
    TRANSACTION_COMMIT_TYPE = 0x2 << 2
    TRANSACTION_ROLLBACK_TYPE = 0x3 << 2
    TRANSACTION_TYPE_MASK = 0xC
    BORNHOST_V6_FLAG = 0x1 << 4
    STOREHOSTADDRESS_V6_FLAG = 0x1 << 5
    NEED_UNWRAP_FLAG = 0x1 << 6
    INNER_BATCH_FLAG = 0x1 << 7
    COMPRESSION_TYPE_MASK = 0x700
    COMPRESSION_LZ4 = 1
    COMPRESSION_ZSTD = 2
    COMPRESSION_ZLIB = 3

    @staticmethod
    def get_transaction_value(flag: int) -> int:
        """The transaction type bits of ``flag`` (one of the ``TRANSACTION_*_TYPE`` values)."""
        return flag & MessageSysFlag.TRANSACTION_TYPE_MASK

    @staticmethod
    def reset_transaction_value(flag: int, transaction_type: int) -> int:
        """``flag`` with its transaction type bits replaced by ``transaction_type``."""
        return (flag & ~MessageSysFlag.TRANSACTION_TYPE_MASK) | transaction_type

    @staticmethod
    def compression_type(flag: int) -> int:
        """Compression type of a compressed body: 1 LZ4, 2 ZSTD, 3 ZLIB (0 in the bits = ZLIB)."""
        kind = (flag & MessageSysFlag.COMPRESSION_TYPE_MASK) >> 8
        return kind or MessageSysFlag.COMPRESSION_ZLIB


@dataclass(slots=True)
class Message:
    """A message as a producer sends it. ``properties`` maps keys to string values."""

    topic: str
    body: bytes
    flag: int = 0
    properties: dict[str, str] = field(default_factory=dict)

    def get_property(self, name: str) -> str | None:
        """The value of property ``name``, or None."""
        return self.properties.get(name)

    def put_property(self, name: str, value: str) -> None:
        """Set a property (system or user); ``value`` is stored as given."""
        self.properties[name] = value

    def put_user_property(self, name: str, value: str) -> None:
        """Set a user property; raises ValueError for reserved keys or empty name/value."""
        if name in MessageConst.STRING_HASH_SET:
            raise ValueError(f"the property name {name!r} is reserved by the system")
        if not name or not value:
            raise ValueError("user property name and value must not be empty")
        self.properties[name] = value

    def remove_property(self, name: str) -> None:
        """Remove property ``name`` if present."""
        self.properties.pop(name, None)

    @property
    def tags(self) -> str | None:
        """The TAGS property (one tag), or None."""
        return self.properties.get(MessageConst.PROPERTY_TAGS)

    @tags.setter
    def tags(self, value: str | None) -> None:
        self._set_optional(MessageConst.PROPERTY_TAGS, value)

    @property
    def keys(self) -> list[str]:
        """The KEYS property split on spaces (empty tokens dropped)."""
        raw = self.properties.get(MessageConst.PROPERTY_KEYS)
        return [k for k in raw.split(MessageConst.KEY_SEPARATOR) if k] if raw else []

    @keys.setter
    def keys(self, value: list[str] | str | None) -> None:
        if isinstance(value, str):
            value = [value]
        self._set_optional(
            MessageConst.PROPERTY_KEYS, MessageConst.KEY_SEPARATOR.join(value) if value else None
        )

    @property
    def delay_time_level(self) -> int:
        """The DELAY level (1..18); 0 when absent or unparsable."""
        raw = self.properties.get(MessageConst.PROPERTY_DELAY_TIME_LEVEL)
        if raw is None:
            return 0
        try:
            return int(raw)
        except ValueError:
            return 0

    @delay_time_level.setter
    def delay_time_level(self, level: int) -> None:
        self.properties[MessageConst.PROPERTY_DELAY_TIME_LEVEL] = str(level)

    @property
    def wait_store_msg_ok(self) -> bool:
        """The WAIT property; absent means True."""
        raw = self.properties.get(MessageConst.PROPERTY_WAIT_STORE_MSG_OK)
        return raw is None or raw.lower() == "true"

    @wait_store_msg_ok.setter
    def wait_store_msg_ok(self, value: bool) -> None:
        self.properties[MessageConst.PROPERTY_WAIT_STORE_MSG_OK] = "true" if value else "false"

    @property
    def unique_key(self) -> str | None:
        """The UNIQ_KEY property (client message id), or None."""
        return self.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)

    @unique_key.setter
    def unique_key(self, value: str | None) -> None:
        self._set_optional(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, value)

    def _set_optional(self, name: str, value: str | None) -> None:
        if value is None:
            self.properties.pop(name, None)
        else:
            self.properties[name] = value


@dataclass(slots=True)
class MessageExt(Message):
    """A stored message: the record of reference §4.1 decoded.

    Timestamps are milliseconds since the epoch; hosts are ``"ip:port"`` (IPv6 as ``"[ip]:port"``
    is also accepted). ``store_size`` is the record's TOTALSIZE in bytes.

    Lazy properties: a decoder may leave the ``properties`` slot unset and keep the record's
    properties string, UTF-8 bytes as stored, in ``raw_properties``; the first read of
    ``properties`` (directly or through ``tags``, ``keys``, ``get_property``, equality,
    ``repr``, pickling ...) parses it into the dict, stores it and drops the bytes, so every
    later access is a plain slot read and mutations stick. ``raw_properties`` is ignored
    while ``properties`` is set (not compared, not shown). Not thread-safe until the first
    access: two threads reading ``properties`` first at once may each parse their own dict,
    and a mutation through one of them is lost, so a message handed to other threads is
    decoded with ``lazy_properties=False`` (or has ``properties`` read once before). An
    ``AttributeError`` raised inside a property getter (``tags``, ``keys`` ...) is reported as
    that property missing: Python then calls ``__getattr__``.
    """

    queue_id: int = 0
    queue_offset: int = 0
    commitlog_offset: int = 0
    sys_flag: int = 0
    born_timestamp: int = 0
    born_host: str = "0.0.0.0:0"
    store_timestamp: int = 0
    store_host: str = "0.0.0.0:0"
    reconsume_times: int = 0
    prepared_transaction_offset: int = 0
    body_crc: int = 0
    store_size: int = 0
    raw_properties: bytes | None = field(default=None, repr=False, compare=False)

    if not TYPE_CHECKING:  # for mypy, MessageExt has only its declared attributes

        def __getattr__(self, name: str) -> dict[str, str]:
            # Only called when the normal lookup failed: for ``properties`` that means a
            # decoder left the slot unset; parse the kept string once (class docstring).
            if name == "properties":
                raw = self.raw_properties
                if raw is not None:
                    properties = parse_properties(str(raw, "utf-8", "replace"))
                    self.properties = properties
                    self.raw_properties = None
                    return properties
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def msg_id(self) -> str:
        """The offset message id (reference §4.5) built from store host and commit-log offset."""
        from rmq_core.common.message_codec import create_offset_msg_id

        return create_offset_msg_id(self.store_host, self.commitlog_offset)

    @property
    def transaction_type(self) -> int:
        """The transaction type bits of ``sys_flag``."""
        return self.sys_flag & MessageSysFlag.TRANSACTION_TYPE_MASK


@dataclass(slots=True)
class MessageExtBrokerInner(MessageExt):
    """A message the broker hands to the store.

    ``properties_string`` (if not None) is written instead of encoding ``properties`` again;
    the caller keeps the two consistent (the store indexes what it writes). The store sets
    ``queue_offset``, ``commitlog_offset`` and ``store_timestamp`` itself.
    """

    properties_string: str | None = None
