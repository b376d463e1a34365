"""Registering the broker with every NameServer (REGISTER_BROKER 103 / UNREGISTER_BROKER 104).

The body is RegisterBrokerBody JSON (reference §3.4), encoded by the codec the NameServer
decodes with (:mod:`rmq_core.remoting.bodies.register_broker`)::

    {"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{...},
     "topicConfigTable":{...},"topicQueueMappingInfoMap":{},...}}

with each topic's perm reduced to what the broker permission grants (a broker whose write
permission was wiped advertises read-only topics, as RocketMQ does). ``bodyCrc32`` is the
masked CRC32 of the body. The controller calls :meth:`NameServerRegistrar.run` as a task:
it registers at once, then every ``registerNameServerPeriod`` and, coalesced, after every
:meth:`request` (topic created/deleted, permission changed). Registrations to different
NameServers run concurrently; a NameServer that is down only costs a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from rmq_core.broker.context import BrokerContext
from rmq_core.common.crc import crc32
from rmq_core.common.perm import PERM_INHERIT
from rmq_core.errors import RocketMQError
from rmq_core.remoting.bodies.register_broker import (
    encode_register_broker_body,
    register_body_from_wrapper,
)
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.headers import RegisterBrokerRequestHeader, UnRegisterBrokerRequestHeader

__all__ = ["NameServerRegistrar", "build_register_body"]

logger = logging.getLogger(__name__)


def build_register_body(ctx: BrokerContext) -> bytes:
    """The RegisterBrokerBody JSON of the broker's current topic table."""
    body = register_body_from_wrapper(ctx.topics.serialize_wrapper())
    broker_perm = ctx.config.broker_permission
    for topic in body.topic_config_table.values():
        topic.perm &= broker_perm | PERM_INHERIT
    return encode_register_broker_body(body)


class NameServerRegistrar:
    """Keeps the broker registered with the NameServers of ``namesrvAddr``."""

    def __init__(self, ctx: BrokerContext, client: RemotingClient, ha_port: int) -> None:
        self._ctx = ctx
        self._client = client
        self._ha_port = ha_port
        self._wake = asyncio.Event()
        self.registrations = 0

    def request(self) -> None:
        """Ask for a registration soon (coalesced; safe to call often)."""
        self._wake.set()

    def _header(self) -> RegisterBrokerRequestHeader:
        cfg = self._ctx.config
        ha_ip = cfg.broker_ip2 or cfg.broker_ip1
        return RegisterBrokerRequestHeader(
            broker_name=cfg.broker_name,
            broker_addr=self._ctx.broker_addr,
            cluster_name=cfg.broker_cluster_name,
            ha_server_addr=f"{ha_ip}:{self._ha_port}",
            broker_id=cfg.broker_id,
            heartbeat_timeout_millis=round(cfg.channel_expired_timeout * 1000),
            enable_acting_master=False,
            compressed=False,
            body_crc32=0,
        )

    async def register_all(self) -> int:
        """Register with every NameServer now; returns how many accepted."""
        addresses = self._ctx.config.namesrv_addresses
        if not addresses:
            return 0
        body = build_register_body(self._ctx)
        header = self._header()
        header.body_crc32 = crc32(body) & 0x7FFFFFFF
        results = await asyncio.gather(
            *(self._register_one(address, header, body) for address in addresses)
        )
        accepted = sum(results)
        self.registrations += accepted
        return accepted

    async def _register_one(
        self, address: str, header: RegisterBrokerRequestHeader, body: bytes
    ) -> bool:
        request = RemotingCommand.request(RequestCode.REGISTER_BROKER, header, body)
        try:
            response = await self._client.invoke(
                address, request, self._ctx.config.register_broker_timeout
            )
        except RocketMQError as exc:
            logger.warning("register broker to name server %s failed: %s", address, exc)
            return False
        if response.code != ResponseCode.SUCCESS:
            logger.warning(
                "name server %s refused registration: code %d %s",
                address,
                response.code,
                response.remark,
            )
            return False
        logger.debug("registered broker with name server %s", address)
        return True

    async def unregister_all(self, timeout: float = 3.0) -> None:
        """Send UNREGISTER_BROKER to every NameServer (shutdown); failures are logged."""
        cfg = self._ctx.config
        header = UnRegisterBrokerRequestHeader(
            broker_name=cfg.broker_name,
            broker_addr=self._ctx.broker_addr,
            cluster_name=cfg.broker_cluster_name,
            broker_id=cfg.broker_id,
        )

        async def one(address: str) -> None:
            request = RemotingCommand.request(RequestCode.UNREGISTER_BROKER, header)
            try:
                await self._client.invoke(address, request, timeout)
            except RocketMQError as exc:
                logger.warning("unregister broker from name server %s failed: %s", address, exc)

        await asyncio.gather(*(one(a) for a in cfg.namesrv_addresses))

    async def run(self) -> None:
        """Register now, then periodically and on request, until cancelled."""
        while True:
            self._wake.clear()
            try:
                await self.register_all()
            except Exception:
                logger.exception("broker registration round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), self._ctx.config.register_name_server_period
                )
