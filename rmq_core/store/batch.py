"""``EncodedBatch``: an already-split batch of records for one topic and queue.

The broker splits a SEND_BATCH_MESSAGE body into ``(flag, body, properties)`` entries and hands
them to :meth:`~rmq_core.store.store.MessageStore.put_encoded_batch` as they are: no message
object per entry, and the properties bytes are stored exactly as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BatchEntry", "EncodedBatch"]

BatchEntry = tuple[int, bytes, bytes]
"""``(flag, body, properties)``: the message flag (int32), the body as stored, and the UTF-8
properties string as stored (``NAME\\x01VALUE\\x02`` pairs)."""


@dataclass(slots=True)
class EncodedBatch:
    """One SEND_BATCH_MESSAGE's records for one topic and queue.

    Every record shares ``sys_flag``, ``born_timestamp`` (ms) and the hosts (``"ip:port"``,
    IPv4 or ``[v6]:port``); reconsume times and the prepared-transaction offset are 0.
    """

    topic: str
    queue_id: int
    sys_flag: int
    born_timestamp: int
    born_host: str
    store_host: str
    entries: Sequence[BatchEntry]
