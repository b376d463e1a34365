"""Live producers by group (Java ``ProducerManager``).

Registered by HEART_BEAT, removed by UNREGISTER_CLIENT, by the connection closing, or when a
client stays silent longer than ``channelExpiredTimeout``. Transaction check-backs pick a
producer connection of the message's group from here.
"""

from __future__ import annotations

import logging
import time

from rmq_core.broker.managers.clients import ClientChannelInfo, ClientConnection

__all__ = ["ProducerManager"]

logger = logging.getLogger(__name__)


class ProducerManager:
    """``group -> {connection: ClientChannelInfo}``; used from the event loop only."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[ClientConnection, ClientChannelInfo]] = {}

    def register_producer(self, group: str, info: ClientChannelInfo) -> None:
        """Add or refresh ``info`` under ``group``."""
        channels = self._groups.setdefault(group, {})
        existing = channels.get(info.connection)
        if existing is None:
            channels[info.connection] = info
            logger.info("new producer %s (%s) in group %s", info.client_id, info.address, group)
        else:
            existing.last_update = info.last_update
            existing.client_id = info.client_id

    def unregister_producer(self, group: str, connection: ClientConnection) -> bool:
        """Remove the producer on ``connection`` from ``group``; True if it was there."""
        channels = self._groups.get(group)
        if channels is None or channels.pop(connection, None) is None:
            return False
        if not channels:
            del self._groups[group]
        return True

    def do_channel_close_event(self, connection: ClientConnection) -> None:
        """Forget ``connection`` in every group (it closed)."""
        for group in list(self._groups):
            self.unregister_producer(group, connection)

    def scan_not_active_channel(
        self, expired_after: float, now: float | None = None
    ) -> list[ClientChannelInfo]:
        """Remove (and return) producers silent for more than ``expired_after`` seconds."""
        now = time.monotonic() if now is None else now
        expired: list[ClientChannelInfo] = []
        for group in list(self._groups):
            for connection, info in list(self._groups[group].items()):
                if now - info.last_update > expired_after:
                    logger.warning("producer %s of %s expired", info.client_id, group)
                    self.unregister_producer(group, connection)
                    expired.append(info)
        return expired

    def channels(self, group: str) -> list[ClientChannelInfo]:
        """Producers of ``group``."""
        return list(self._groups.get(group, {}).values())

    def available_channel(self, group: str) -> ClientChannelInfo | None:
        """The most recently active open producer connection of ``group``, or None."""
        live = [info for info in self.channels(group) if not info.connection.closed]
        return max(live, key=lambda info: info.last_update, default=None)

    def groups(self) -> list[str]:
        """Every producer group with at least one live producer."""
        return sorted(self._groups)
