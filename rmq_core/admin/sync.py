"""Blocking :class:`AdminClient` running the async one on the client's background loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmq_core.admin import client as _client
from rmq_core.admin.client import DEFAULT_PULL_GROUP, ClusterInfo, ConsumerProgress
from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.results import PullResult
from rmq_core.client.route import TopicRouteData
from rmq_core.client.sync import run_sync

__all__ = ["AdminClient"]

ADMIN_CALL_TIMEOUT = 30.0  # s


class AdminClient:
    """Blocking admin client (same methods as :class:`rmq_core.admin.client.AdminClient`)."""

    def __init__(
        self, namesrv_addr: str | Sequence[str] | None = None, *, timeout: float = 3.0
    ) -> None:
        self.async_admin = _client.AdminClient(namesrv_addr, timeout=timeout)
        run_sync(self.async_admin.start(), ADMIN_CALL_TIMEOUT)

    def close(self) -> None:
        run_sync(self.async_admin.close(), ADMIN_CALL_TIMEOUT)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def cluster_info(self) -> ClusterInfo:
        return run_sync(self.async_admin.cluster_info(), ADMIN_CALL_TIMEOUT)

    def topic_route(self, topic: str) -> TopicRouteData:
        return run_sync(self.async_admin.topic_route(topic), ADMIN_CALL_TIMEOUT)

    def list_topics(self) -> list[str]:
        return run_sync(self.async_admin.list_topics(), ADMIN_CALL_TIMEOUT)

    def create_topic(self, topic: str, **options: Any) -> list[str]:
        return run_sync(self.async_admin.create_topic(topic, **options), ADMIN_CALL_TIMEOUT)

    def delete_topic(self, topic: str, **options: Any) -> None:
        run_sync(self.async_admin.delete_topic(topic, **options), ADMIN_CALL_TIMEOUT)

    def consumer_progress(self, group: str, topic: str | None = None) -> ConsumerProgress:
        return run_sync(self.async_admin.consumer_progress(group, topic), ADMIN_CALL_TIMEOUT)

    def list_subscription_groups(self, *, broker_addr: str | None = None) -> list[str]:
        coro = self.async_admin.list_subscription_groups(broker_addr=broker_addr)
        return run_sync(coro, ADMIN_CALL_TIMEOUT)

    def list_consumer_offsets(
        self, *, broker_addr: str | None = None
    ) -> dict[str, dict[MessageQueue, int]]:
        coro = self.async_admin.list_consumer_offsets(broker_addr=broker_addr)
        return run_sync(coro, ADMIN_CALL_TIMEOUT)

    def delete_subscription_group(
        self, group: str, *, broker_addr: str | None = None, clean_offset: bool = True
    ) -> None:
        coro = self.async_admin.delete_subscription_group(
            group, broker_addr=broker_addr, clean_offset=clean_offset
        )
        run_sync(coro, ADMIN_CALL_TIMEOUT)

    def broker_addr(self, mq: MessageQueue) -> str:
        return run_sync(self.async_admin.broker_addr(mq), ADMIN_CALL_TIMEOUT)

    def min_offset(self, mq: MessageQueue) -> int:
        return run_sync(self.async_admin.min_offset(mq), ADMIN_CALL_TIMEOUT)

    def max_offset(self, mq: MessageQueue) -> int:
        return run_sync(self.async_admin.max_offset(mq), ADMIN_CALL_TIMEOUT)

    def search_offset(self, mq: MessageQueue, timestamp: float) -> int:
        return run_sync(self.async_admin.search_offset(mq, timestamp), ADMIN_CALL_TIMEOUT)

    def consumer_offset(self, group: str, mq: MessageQueue) -> int | None:
        return run_sync(self.async_admin.consumer_offset(group, mq), ADMIN_CALL_TIMEOUT)

    def update_consumer_offset(self, group: str, mq: MessageQueue, offset: int) -> None:
        run_sync(self.async_admin.update_consumer_offset(group, mq, offset), ADMIN_CALL_TIMEOUT)

    def pull(
        self,
        mq: MessageQueue,
        offset: int,
        max_nums: int,
        selector: str | MessageSelector | None = None,
        *,
        group: str = DEFAULT_PULL_GROUP,
    ) -> PullResult:
        coro = self.async_admin.pull(mq, offset, max_nums, selector, group=group)
        return run_sync(coro, ADMIN_CALL_TIMEOUT)

    def put_kv_config(self, namespace: str, key: str, value: str) -> None:
        run_sync(self.async_admin.put_kv_config(namespace, key, value), ADMIN_CALL_TIMEOUT)

    def delete_kv_config(self, namespace: str, key: str) -> None:
        run_sync(self.async_admin.delete_kv_config(namespace, key), ADMIN_CALL_TIMEOUT)

    def get_kv_config(self, namespace: str, key: str) -> str | None:
        return run_sync(self.async_admin.get_kv_config(namespace, key), ADMIN_CALL_TIMEOUT)

    def get_kv_list(self, namespace: str) -> dict[str, str]:
        return run_sync(self.async_admin.get_kv_list(namespace), ADMIN_CALL_TIMEOUT)
