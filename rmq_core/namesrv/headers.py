"""NameServer request headers that :mod:`rmq_core.remoting.headers` does not define.

Both belong to RocketMQ 5.x brokers running in acting-master mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmq_core.remoting.headers import CommandHeader

__all__ = ["BrokerHeartbeatRequestHeader", "GetBrokerMemberGroupRequestHeader"]


@dataclass(slots=True, kw_only=True)
class BrokerHeartbeatRequestHeader(CommandHeader):
    """BROKER_HEARTBEAT (904): keeps a registered broker alive between registrations.

    Times are milliseconds on the wire; offsets are commitlog byte offsets.
    """

    cluster_name: str
    broker_addr: str
    broker_name: str
    broker_id: int | None = None
    epoch: int | None = None
    max_offset: int | None = None
    confirm_offset: int | None = None
    heartbeat_timeout_mills: int | None = None
    election_priority: int | None = None


@dataclass(slots=True, kw_only=True)
class GetBrokerMemberGroupRequestHeader(CommandHeader):
    """GET_BROKER_MEMBER_GROUP (901): the addresses of one broker group."""

    cluster_name: str
    broker_name: str
