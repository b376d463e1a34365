"""Broker -> client notifications: NOTIFY_CONSUMER_IDS_CHANGED (40, oneway).

:class:`ConsumerIdsChangeNotifier` is the consumer manager's listener: on a ``CHANGE`` of a
group it sends NOTIFY_CONSUMER_IDS_CHANGED (header ``consumerGroup``) on the connection of
every remaining member, unless ``notifyConsumerIdsChangedEnable`` is off for the broker.
Clients answer by rebalancing at once. Sends are fire-and-forget tasks on the event loop; a
failing connection only costs a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.managers.clients import ClientChannelInfo
from rmq_core.broker.managers.consumers import ConsumerGroupEvent
from rmq_core.remoting.codes import RequestCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import NotifyConsumerIdsChangedRequestHeader

__all__ = ["ConsumerIdsChangeNotifier"]

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT = 3.0
"""Seconds a notification may wait for room in a connection's write buffer."""


class ConsumerIdsChangeNotifier:
    """Listener for :meth:`ConsumerManager.add_listener`."""

    def __init__(self, config: Callable[[], BrokerConfig]) -> None:
        self._config = config
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0

    def __call__(
        self, event: ConsumerGroupEvent, group: str, channels: list[ClientChannelInfo]
    ) -> None:
        if event is not ConsumerGroupEvent.CHANGE or not channels:
            return
        if not self._config().notify_consumer_ids_changed_enable:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            logger.warning("cannot notify group %s: no running event loop", group)
            return
        for info in channels:
            if info.connection.closed:
                continue
            task = loop.create_task(self._notify(info, group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self, info: ClientChannelInfo, group: str) -> None:
        request = RemotingCommand.request(
            RequestCode.NOTIFY_CONSUMER_IDS_CHANGED,
            NotifyConsumerIdsChangedRequestHeader(consumer_group=group),
            oneway=True,
        )
        try:
            await info.connection.invoke_oneway(request)
            self.sent += 1
        except Exception as exc:
            logger.info("notify %s of group %s change failed: %s", info.client_id, group, exc)

    async def shutdown(self) -> None:
        """Wait briefly for notifications in flight."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
