"""The message store: RocketMQ's commit log, consume queues and index files, as a library.

Depends only on :mod:`rmq_core.common` and :mod:`rmq_core.errors`. Start with
:class:`MessageStore` and :class:`StoreConfig`; the on-disk format and recovery are described in
``docs/store.md``.
"""

from rmq_core.store.batch import BatchEntry, EncodedBatch
from rmq_core.store.config import ASYNC_FLUSH, SYNC_FLUSH, StoreConfig
from rmq_core.store.config_file import (
    ConfigFileError,
    read_json_with_backup,
    write_json_atomically,
)
from rmq_core.store.message_filter import MessageFilter
from rmq_core.store.report import RecoveryReport
from rmq_core.store.results import (
    AppendMessageResult,
    GetMessageResult,
    GetMessageStatus,
    PutMessageResult,
    PutMessageStatus,
    QueryMessageResult,
)
from rmq_core.store.store import MessageStore

__all__ = [
    "ASYNC_FLUSH",
    "SYNC_FLUSH",
    "AppendMessageResult",
    "BatchEntry",
    "ConfigFileError",
    "EncodedBatch",
    "GetMessageResult",
    "GetMessageStatus",
    "MessageFilter",
    "MessageStore",
    "PutMessageResult",
    "PutMessageStatus",
    "QueryMessageResult",
    "RecoveryReport",
    "StoreConfig",
    "read_json_with_backup",
    "write_json_atomically",
]
