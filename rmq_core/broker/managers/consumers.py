"""Live consumers by group with their subscriptions (Java ``ConsumerManager``).

A group's membership is the set of connections that sent a heartbeat for it. When membership
or the group's subscriptions change, listeners get a :class:`ConsumerGroupEvent` — the broker
answers ``CHANGE`` by sending NOTIFY_CONSUMER_IDS_CHANGED to every member so clients rebalance
at once instead of waiting for their 20 s timer.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rmq_core.broker.heartbeat import SubscriptionData
from rmq_core.broker.managers.clients import ClientChannelInfo, ClientConnection

__all__ = [
    "ConsumerGroupEvent",
    "ConsumerGroupInfo",
    "ConsumerIdsChangeListener",
    "ConsumerManager",
]

logger = logging.getLogger(__name__)


class ConsumerGroupEvent(enum.Enum):
    """What happened to a group: membership/subscription ``CHANGE`` or last member gone."""

    CHANGE = "CHANGE"
    UNREGISTER = "UNREGISTER"


ConsumerIdsChangeListener = Callable[[ConsumerGroupEvent, str, list[ClientChannelInfo]], None]


@dataclass(slots=True)
class ConsumerGroupInfo:
    """One group's members and subscriptions (``topic -> SubscriptionData``)."""

    group_name: str
    consume_type: str = "CONSUME_PASSIVELY"
    message_model: str = "CLUSTERING"
    consume_from_where: str = "CONSUME_FROM_LAST_OFFSET"
    channels: dict[ClientConnection, ClientChannelInfo] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionData] = field(default_factory=dict)
    last_update: float = field(default_factory=time.monotonic)

    def update_channel(
        self,
        info: ClientChannelInfo,
        consume_type: str,
        message_model: str,
        consume_from_where: str,
    ) -> bool:
        """Add or refresh a member; True when the member is new."""
        self.consume_type = consume_type
        self.message_model = message_model
        self.consume_from_where = consume_from_where
        existing = self.channels.get(info.connection)
        self.last_update = info.last_update
        if existing is None:
            self.channels[info.connection] = info
            return True
        if existing.client_id != info.client_id:
            logger.error(
                "group %s: connection %s changed client id %s -> %s",
                self.group_name,
                info.address,
                existing.client_id,
                info.client_id,
            )
            self.channels[info.connection] = info
            return True
        existing.last_update = info.last_update
        return False

    def update_subscription(self, subscriptions: Iterable[SubscriptionData]) -> bool:
        """Merge the subscriptions of one heartbeat; True when the topic set changed."""
        updated = False
        wanted: set[str] = set()
        for sub in subscriptions:
            wanted.add(sub.topic)
            old = self.subscriptions.get(sub.topic)
            if old is None:
                self.subscriptions[sub.topic] = sub
                updated = True
            elif sub.sub_version > old.sub_version:
                self.subscriptions[sub.topic] = sub
        for topic in [t for t in self.subscriptions if t not in wanted]:
            logger.info("group %s no longer subscribes %s", self.group_name, topic)
            del self.subscriptions[topic]
            updated = True
        return updated

    def remove_channel(self, connection: ClientConnection) -> ClientChannelInfo | None:
        """Drop a member; returns it (None if absent)."""
        return self.channels.pop(connection, None)

    def all_channels(self) -> list[ClientChannelInfo]:
        """Current members."""
        return list(self.channels.values())

    def all_client_ids(self) -> list[str]:
        """Client ids of current members (in registration order)."""
        return [info.client_id for info in self.channels.values()]

    def find_channel(self, client_id: str) -> ClientChannelInfo | None:
        """The member with ``client_id``, or None."""
        for info in self.channels.values():
            if info.client_id == client_id:
                return info
        return None


class ConsumerManager:
    """``group -> ConsumerGroupInfo``; used from the event loop only."""

    def __init__(self) -> None:
        self._groups: dict[str, ConsumerGroupInfo] = {}
        self._listeners: list[ConsumerIdsChangeListener] = []

    def add_listener(self, listener: ConsumerIdsChangeListener) -> None:
        """Call ``listener(event, group, members)`` on group events."""
        self._listeners.append(listener)

    def _fire(
        self, event: ConsumerGroupEvent, group: str, channels: list[ClientChannelInfo]
    ) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, group, channels)
            except Exception:
                logger.exception("consumer ids change listener failed")

    def register_consumer(
        self,
        group: str,
        info: ClientChannelInfo,
        consume_type: str,
        message_model: str,
        consume_from_where: str,
        subscriptions: Iterable[SubscriptionData],
        *,
        notify: bool = True,
    ) -> bool:
        """Register one heartbeat's consumer data; True when members or topics changed.

        ``notify`` False (group option ``notifyConsumerIdsChangedEnable``) suppresses CHANGE.
        """
        group_info = self._groups.get(group)
        if group_info is None:
            group_info = ConsumerGroupInfo(group, consume_type, message_model, consume_from_where)
            self._groups[group] = group_info
        members_changed = group_info.update_channel(
            info, consume_type, message_model, consume_from_where
        )
        topics_changed = group_info.update_subscription(subscriptions)
        changed = members_changed or topics_changed
        if changed and notify:
            self._fire(ConsumerGroupEvent.CHANGE, group, group_info.all_channels())
        return changed

    def unregister_consumer(
        self, group: str, connection: ClientConnection, *, notify: bool = True
    ) -> bool:
        """Remove the member on ``connection`` from ``group``; True if it was there."""
        group_info = self._groups.get(group)
        if group_info is None or group_info.remove_channel(connection) is None:
            return False
        self._after_removal(group, group_info, notify=notify)
        return True

    def _after_removal(self, group: str, group_info: ConsumerGroupInfo, *, notify: bool) -> None:
        if not group_info.channels:
            self._groups.pop(group, None)
            self._fire(ConsumerGroupEvent.UNREGISTER, group, [])
        if notify:
            self._fire(ConsumerGroupEvent.CHANGE, group, group_info.all_channels())

    def do_channel_close_event(self, connection: ClientConnection) -> None:
        """Forget ``connection`` in every group (it closed) and notify remaining members."""
        for group, group_info in list(self._groups.items()):
            if group_info.remove_channel(connection) is not None:
                logger.info("consumer %s left group %s (connection closed)", connection, group)
                self._after_removal(group, group_info, notify=True)

    def scan_not_active_channel(
        self, expired_after: float, now: float | None = None
    ) -> list[ClientChannelInfo]:
        """Remove (and return) members silent for more than ``expired_after`` seconds."""
        now = time.monotonic() if now is None else now
        expired: list[ClientChannelInfo] = []
        for group, group_info in list(self._groups.items()):
            stale = [i for i in group_info.all_channels() if now - i.last_update > expired_after]
            for info in stale:
                logger.warning("consumer %s of %s expired", info.client_id, group)
                group_info.remove_channel(info.connection)
                expired.append(info)
            if stale:
                self._after_removal(group, group_info, notify=True)
        return expired

    def get_consumer_group_info(self, group: str) -> ConsumerGroupInfo | None:
        """The group's info, or None when it has no live member."""
        return self._groups.get(group)

    def find_subscription_data(self, group: str, topic: str) -> SubscriptionData | None:
        """The subscription ``group`` registered for ``topic``, or None."""
        group_info = self._groups.get(group)
        return None if group_info is None else group_info.subscriptions.get(topic)

    def find_channel(self, group: str, client_id: str) -> ClientChannelInfo | None:
        """The member of ``group`` with ``client_id``."""
        group_info = self._groups.get(group)
        return None if group_info is None else group_info.find_channel(client_id)

    def groups(self) -> list[str]:
        """Groups with at least one live member."""
        return sorted(self._groups)

    def groups_subscribing(self, topic: str) -> set[str]:
        """Groups whose registered subscriptions include ``topic``."""
        return {g for g, info in self._groups.items() if topic in info.subscriptions}
