"""Blocking access to queues for the connector: routes, offsets, range pulls, group offsets.

Built on :class:`rmq_core.admin.AdminClient` (its queue calls: offsets and plain pulls)
running on the client's background event loop (:func:`rmq_core.client.sync.run_sync`), so
it is usable from Spark's driver and worker threads alike and survives the fork of Spark's
Python daemon (the loop is re-created in the child). No consumer registers with the broker:
reads are plain pulls of explicit offset ranges carrying their subscription (tag or SQL92),
which the broker filters, followed by RocketMQ's exact client-side tag check.

Errors keep rmq's classes, except that an unknown topic or an unreachable NameServer at
planning time becomes :class:`~rmq_spark.errors.RocketMQOptionError` naming ``topic`` or
``namesrv`` (see :meth:`QueueClient.queues`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Iterator

from rmq_core.admin import AdminClient
from rmq_core.client import MessageExt, MessageQueue, PullStatus
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.route import TopicRouteData, subscribe_queues
from rmq_core.client.sync import run_sync
from rmq_core.errors import RemotingError, RocketMQError, TopicNotExistError
from rmq_spark.errors import RocketMQOptionError

__all__ = ["DataLossError", "QueueClient", "queue_client"]

CALL_MARGIN = 5.0  # s added to the request timeout while a blocking call waits for its result


class DataLossError(RuntimeError):
    """Messages of a planned range were deleted (retention) before they could be read."""


class QueueClient:
    """One NameServer connection set, shared by the connector's code in one process."""

    def __init__(self, namesrv: str, timeout: float) -> None:
        self.namesrv = namesrv
        self.timeout = timeout
        self._admin = AdminClient(namesrv, timeout=timeout)
        run_sync(self._admin.start(), self._wait)

    @property
    def _wait(self) -> float:
        return self.timeout + CALL_MARGIN

    @property
    def admin(self) -> AdminClient:
        """The underlying async admin client (run its coroutines with ``run_sync``)."""
        return self._admin

    def close(self) -> None:
        with contextlib.suppress(RocketMQError, TimeoutError, RuntimeError):
            run_sync(self._admin.close(), self._wait)

    def check_namesrv(self) -> None:
        """Raise RocketMQOptionError naming ``namesrv`` unless a NameServer answers."""
        try:
            run_sync(self._admin.cluster_info(), self._wait)
        except RemotingError as exc:
            raise RocketMQOptionError("namesrv", f"no NameServer answers: {exc}") from None

    # --- routes ----------------------------------------------------------------------------

    def route(self, topic: str) -> TopicRouteData:
        """The topic's route straight from the NameServer (TopicNotExistError when unknown)."""
        return run_sync(self._admin.topic_route(topic), self._wait)

    def queues(self, topic: str, *, option: str = "topic") -> list[MessageQueue]:
        """Every readable queue of ``topic``, sorted, freshly from the NameServer.

        Raises RocketMQOptionError naming ``option`` for an unknown topic and naming
        ``namesrv`` when no NameServer answers.
        """
        try:
            queues = subscribe_queues(topic, self.route(topic))
        except TopicNotExistError:
            raise RocketMQOptionError(
                option, f"topic {topic!r} does not exist (the NameServer has no route for it)"
            ) from None
        except RemotingError as exc:
            raise RocketMQOptionError("namesrv", f"no NameServer answers: {exc}") from None
        if not queues:
            raise RocketMQOptionError(option, f"topic {topic!r} has no readable queue")
        return queues

    def broker_addr(self, mq: MessageQueue) -> str:
        """The address of the broker hosting ``mq`` (route fetched when unknown)."""
        return run_sync(self._admin.broker_addr(mq), self._wait)

    # --- offsets ---------------------------------------------------------------------------

    def min_offset(self, mq: MessageQueue) -> int:
        return run_sync(self._admin.min_offset(mq), self._wait)

    def max_offset(self, mq: MessageQueue) -> int:
        """The offset the next message of ``mq`` will get (its end, exclusive)."""
        return run_sync(self._admin.max_offset(mq), self._wait)

    def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        """The first offset of ``mq`` stored at or after ``timestamp_ms``."""
        return run_sync(self._admin.search_offset(mq, timestamp_ms / 1000), self._wait)

    def commit_offset(self, group: str, mq: MessageQueue, offset: int) -> None:
        """Store ``offset`` as ``group``'s consumer offset of ``mq`` (lag shows in admin)."""
        run_sync(self._admin.update_consumer_offset(group, mq, offset), self._wait)

    # --- reading ---------------------------------------------------------------------------

    def read_range(
        self,
        mq: MessageQueue,
        start: int,
        end: int,
        *,
        selector: MessageSelector,
        group: str,
        batch_size: int,
        fail_on_data_loss: bool = True,
    ) -> Iterator[MessageExt]:
        """Messages of ``mq`` with ``start <= queue_offset < end`` that match ``selector``,
        in offset order. Raises DataLossError when part of the range was deleted (unless
        ``fail_on_data_loss`` is False, which skips the lost part)."""
        offset = start
        while offset < end:
            call = self._admin.pull(
                mq, offset, min(batch_size, end - offset), selector, group=group
            )
            result = run_sync(call, self._wait)
            following = result.next_begin_offset
            if result.status is PullStatus.FOUND:
                for msg in result.messages:
                    if offset <= msg.queue_offset < end:
                        yield msg
            elif result.status is PullStatus.OFFSET_ILLEGAL or (
                result.status is PullStatus.NO_NEW_MSG and result.min_offset > offset
            ):
                following = max(following, result.min_offset)
                self._lost(mq, offset, min(following, end), fail_on_data_loss)
            elif result.status is PullStatus.NO_NEW_MSG:
                raise DataLossError(
                    f"{mq} ends at {result.max_offset}, before the planned end {end}; "
                    "were its messages deleted or the broker replaced?"
                )
            if following <= offset:
                raise RuntimeError(f"pull of {mq} at {offset} made no progress ({result.status})")
            offset = following

    @staticmethod
    def _lost(mq: MessageQueue, start: int, end: int, fail: bool) -> None:
        if fail:
            raise DataLossError(
                f"messages [{start}, {end}) of {mq} were deleted before they were read; "
                "set failOnDataLoss=false to skip them"
            )


_CLIENTS: dict[tuple[int, str, float], QueueClient] = {}
_CLIENTS_LOCK = threading.Lock()


def queue_client(namesrv: str, timeout: float) -> QueueClient:
    """The process's shared client for ``namesrv`` (Spark reuses Python workers; a forked
    child gets its own, as the parent's connections belong to the parent's loop)."""
    key = (os.getpid(), namesrv, timeout)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = QueueClient(namesrv, timeout)
        return client


@atexit.register
def _close_all() -> None:
    with _CLIENTS_LOCK:
        clients = [c for (pid, _, _), c in _CLIENTS.items() if pid == os.getpid()]
        _CLIENTS.clear()
    for client in clients:
        client.close()
