"""``NamesrvController``: wires route tables, KV config, processors, housekeeping and server.

Usage::

    async with NamesrvController(NamesrvConfig(port=0)) as namesrv:
        print(namesrv.address)          # "127.0.0.1:<port>"

Several controllers (in one process or many) are fully independent NameServers: each broker
registers with every NameServer it knows, exactly as with RocketMQ.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rmq_core.namesrv.config import NamesrvConfig
from rmq_core.namesrv.housekeeping import BrokerHousekeeping
from rmq_core.namesrv.kv_config import KVConfigTable, load_kv_config, save_kv_config
from rmq_core.namesrv.processors import NamesrvContext, NamesrvProcessors
from rmq_core.namesrv.route_info import RouteInfoManager
from rmq_core.remoting.server import RemotingServer

__all__ = ["NamesrvController"]

logger = logging.getLogger(__name__)


class NamesrvController:
    """One NameServer. ``clock`` (seconds) drives broker expiry; monotonic by default."""

    def __init__(
        self, config: NamesrvConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or NamesrvConfig()
        self.routes = RouteInfoManager(
            clock=clock,
            default_timeout=self.config.broker_timeout,
            delete_topic_with_broker_registration=self.config.delete_topic_with_broker_registration,
        )
        self.kv = KVConfigTable()
        self.housekeeping = BrokerHousekeeping(
            self.routes, interval=self.config.scan_interval, clock=clock
        )
        self.server = RemotingServer(
            self.config.host,
            self.config.port,
            max_frame_length=self.config.max_frame_length,
            name="namesrv",
        )
        self._kv_writer: ThreadPoolExecutor | None = None
        context = NamesrvContext(
            config=self.config, routes=self.routes, kv=self.kv, persist_kv=self._persist_kv
        )
        for code, processor in NamesrvProcessors(context).table().items():
            self.server.register_processor(code, processor)
        self.server.add_close_listener(self.housekeeping.on_connection_closed)

    @property
    def address(self) -> str:
        """``ip:port`` clients and brokers use to reach this NameServer (after start)."""
        return self.server.address

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        return self.server.port

    async def start(self) -> None:
        """Load the KV table (when persisted), bind, start the expiry scan.

        Raises :class:`~rmq_core.namesrv.kv_config.KVConfigError` for an unreadable KV file and
        ``OSError`` when the address cannot be bound.
        """
        path = self.config.kv_config_path
        if path is not None:
            loaded = await asyncio.to_thread(load_kv_config, path)
            for namespace, entries in loaded.snapshot().items():
                for key, value in entries.items():
                    self.kv.put(namespace, key, value)
            self._kv_writer = ThreadPoolExecutor(1, thread_name_prefix="namesrv-kv")
        await self.server.start()
        self.housekeeping.start()
        logger.info("NameServer started on %s", self.address)

    async def shutdown(self) -> None:
        """Stop the scan, close every connection, finish pending KV writes."""
        await self.housekeeping.shutdown()
        await self.server.shutdown()
        writer, self._kv_writer = self._kv_writer, None
        if writer is not None:
            await asyncio.to_thread(writer.shutdown, True)
        logger.info("NameServer stopped")

    async def __aenter__(self) -> NamesrvController:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    async def _persist_kv(self) -> None:
        """Write the KV table to its file off the loop; writes happen in call order."""
        path, writer = self.config.kv_config_path, self._kv_writer
        if path is None or writer is None:
            return
        snapshot = self.kv.snapshot()
        await asyncio.get_running_loop().run_in_executor(writer, save_kv_config, path, snapshot)
