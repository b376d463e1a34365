"""Blocking access to queues for the connector: routes, offsets, range pulls, group offsets.

Built on :class:`rmq_core.admin.AdminClient` (its :class:`~rmq_core.client.api.ClientAPI`)
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
from dataclasses import dataclass

from rmq_core.admin import AdminClient
from rmq_core.client import MessageExt, MessageQueue, PullStatus
from rmq_core.client.consumer.common import post_process, pull_header
from rmq_core.client.heartbeat import SubscriptionData
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.route import TopicRouteData, subscribe_queues
from rmq_core.client.sync import run_sync
from rmq_core.errors import RemotingError, RocketMQError, TopicNotExistError
from rmq_spark.errors import RocketMQOptionError

__all__ = ["DataLossError", "QueueClient", "queue_client"]

CALL_MARGIN = 5.0  # s added to the request timeout while a blocking call waits for its result


class DataLossError(RuntimeError):
    """Messages of a planned range were deleted (retention) before they could be read."""


@dataclass(frozen=True, slots=True)
class _Route:
    queues: list[MessageQueue]
    addrs: dict[str, str]  # broker name -> master (or first) address


class QueueClient:
    """One NameServer connection set, shared by the connector's code in one process."""

    def __init__(self, namesrv: str, timeout: float) -> None:
        self.namesrv = namesrv
        self.timeout = timeout
        self._admin = AdminClient(namesrv, timeout=timeout)
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
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

    def _refresh(self, topic: str) -> _Route:
        route = self.route(topic)
        addrs = {}
        for broker in route.broker_datas:
            addr = broker.select_addr()
            if addr is not None:
                addrs[broker.broker_name] = addr
        entry = _Route(subscribe_queues(topic, route), addrs)
        with self._lock:
            self._routes[topic] = entry
        return entry

    def queues(self, topic: str, *, option: str = "topic") -> list[MessageQueue]:
        """Every readable queue of ``topic``, sorted, freshly from the NameServer.

        Raises RocketMQOptionError naming ``option`` for an unknown topic and naming
        ``namesrv`` when no NameServer answers.
        """
        try:
            queues = self._refresh(topic).queues
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
        """The address of the broker hosting ``mq`` (route refreshed when unknown)."""
        with self._lock:
            entry = self._routes.get(mq.topic)
        if entry is None or mq.broker_name not in entry.addrs:
            entry = self._refresh(mq.topic)
        addr = entry.addrs.get(mq.broker_name)
        if addr is None:
            raise TopicNotExistError(17, f"broker {mq.broker_name} of {mq} has no address")
        return addr

    # --- offsets ---------------------------------------------------------------------------

    def min_offset(self, mq: MessageQueue) -> int:
        api = self._admin.api
        return run_sync(api.get_min_offset(self.broker_addr(mq), mq), self._wait)

    def max_offset(self, mq: MessageQueue) -> int:
        """The offset the next message of ``mq`` will get (its end, exclusive)."""
        api = self._admin.api
        return run_sync(api.get_max_offset(self.broker_addr(mq), mq), self._wait)

    def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        """The first offset of ``mq`` stored at or after ``timestamp_ms``."""
        api = self._admin.api
        return run_sync(api.search_offset(self.broker_addr(mq), mq, timestamp_ms), self._wait)

    def commit_offset(self, group: str, mq: MessageQueue, offset: int) -> None:
        """Store ``offset`` as ``group``'s consumer offset of ``mq`` (lag shows in admin)."""
        api = self._admin.api
        call = api.update_consumer_offset(self.broker_addr(mq), group, mq, offset, oneway=False)
        run_sync(call, self._wait)

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
        subscription = SubscriptionData.build(mq.topic, selector)
        offset = start
        while offset < end:
            header = pull_header(
                group,
                mq,
                offset,
                min(batch_size, end - offset),
                subscription,
                commit_offset=-1,
                suspend_ms=0,
            )
            call = self._admin.api.pull_message(self.broker_addr(mq), header, self.timeout)
            result = run_sync(call, self._wait)
            following = result.next_begin_offset
            if result.status is PullStatus.FOUND:
                for msg in post_process(result, subscription, group):
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
