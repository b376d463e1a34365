"""Blocking :class:`AdminClient` running the async one on the client's background loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmq_core.admin import client as _client
from rmq_core.admin.client import ClusterInfo, ConsumerProgress
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
