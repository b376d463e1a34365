"""Broker housekeeping: drop brokers that stop registering or whose connection closes.

RocketMQ scans every 5 s for brokers silent for longer than their heartbeat timeout (120 s by
default), closes their channel and removes them from the routes; a closed channel removes its
brokers at once (``BrokerHousekeepingService``).

The route tables belong to the event loop, so the periodic scan is an asyncio task, not a
thread; :meth:`BrokerHousekeeping.run_once` is the whole scan and tests call it directly with a
later ``now`` instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from rmq_core.namesrv.route_info import BrokerLiveInfo, RouteInfoManager
from rmq_core.remoting.transport import Connection

__all__ = ["BrokerHousekeeping"]

logger = logging.getLogger(__name__)


class BrokerHousekeeping:
    """Expiry scans every ``interval`` seconds of ``clock`` and connection-close cleanup."""

    def __init__(
        self,
        routes: RouteInfoManager,
        *,
        interval: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._routes = routes
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def run_once(self, now: float | None = None) -> list[BrokerLiveInfo]:
        """Remove every broker whose timeout passed at ``now`` and close its connection.

        ``now`` defaults to the clock (the route tables' clock when none was given).
        Returns the removed brokers' live infos.
        """
        if now is None and self._clock is not None:
            now = self._clock()
        expired = self._routes.scan_not_active_brokers(now)
        for live in expired:
            if isinstance(live.channel, Connection) and not live.channel.closed:
                live.channel.close()
        return expired

    def on_connection_closed(self, conn: Connection) -> None:
        """Close listener: remove the brokers that registered over ``conn``."""
        self._routes.on_channel_closed(conn)

    def start(self) -> None:
        """Start the periodic scan on the running loop."""
        if self._task is not None:
            raise RuntimeError("housekeeping already started")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="namesrv-scan")

    async def shutdown(self) -> None:
        """Stop the periodic scan."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.run_once()
            except Exception:
                logger.exception("broker expiry scan failed")
