"""``BrokerController``: wires the store, the managers, the processors, the servers and the
background tasks of one broker. It holds no logic of its own.

Usage::

    controller = BrokerController(BrokerConfig(listen_port=0, namesrv_addr="127.0.0.1:9876"),
                                  StoreConfig(store_path_root_dir="/tmp/store"))
    await controller.start()        # recovery, load metadata, listen, register
    controller.address              # "ip:port" published to NameServers
    await controller.shutdown()     # unregister, stop, persist

Start order: store recovery (off the loop), metadata files (a file damaged beyond its ``.bak``
fails the start with a ConfigError naming it, and nothing is written over it), processors, the
main server, the fast server (``listenPort - 2``, unless the main port is 0 or ``fast_port``
says otherwise), then the schedule and transaction check services, NameServer registration and
housekeeping.
A port that cannot be bound raises ``OSError`` from :meth:`start` after everything already
started is stopped again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from rmq_core.broker.conf_file import reconcile_delay_levels
from rmq_core.broker.config import BrokerConfig
from rmq_core.broker.context import BrokerContext, BrokerStore
from rmq_core.broker.managers.persistence import DELAY_OFFSET_FILE, ThreadedConfigWriter
from rmq_core.broker.notify import ConsumerIdsChangeNotifier
from rmq_core.broker.pop.service import PopService
from rmq_core.broker.processors.admin_broker import BrokerAdminProcessor
from rmq_core.broker.processors.admin_groups import GroupAdminProcessor
from rmq_core.broker.processors.admin_topics import TopicAdminProcessor
from rmq_core.broker.processors.client_manage import ClientManageProcessor
from rmq_core.broker.processors.common import BrokerProcessor
from rmq_core.broker.processors.consumer_manage import ConsumerManageProcessor
from rmq_core.broker.processors.end_transaction import EndTransactionProcessor
from rmq_core.broker.processors.lock import LockProcessor
from rmq_core.broker.processors.pop import PopProcessor
from rmq_core.broker.processors.pull import PullMessageProcessor
from rmq_core.broker.processors.query import QueryMessageProcessor
from rmq_core.broker.processors.queue_offsets import QueueOffsetProcessor
from rmq_core.broker.processors.send import SendMessageProcessor
from rmq_core.broker.processors.send_back import ConsumerSendMsgBackProcessor
from rmq_core.broker.registration import NameServerRegistrar
from rmq_core.broker.schedule import ScheduleMessageService
from rmq_core.broker.transaction.check import TransactionCheckService
from rmq_core.broker.transaction.service import TransactionalMessageService
from rmq_core.broker.transaction.settings import TransactionSettings
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.server import ProcessorPool, RemotingServer
from rmq_core.remoting.transport import Connection
from rmq_core.store.config import StoreConfig

__all__ = ["BrokerController", "StoreFactory"]

logger = logging.getLogger(__name__)

StoreFactory = Callable[[StoreConfig], BrokerStore]

HOUSEKEEPING_INTERVAL = 1.0
"""Seconds between housekeeping rounds (stats sample, offset flush, idle-client scan)."""
CLIENT_SCAN_INTERVAL = 10.0
"""Seconds between scans for clients silent longer than ``channelExpiredTimeout``."""
SEND_CONCURRENCY = 1024
"""Sends in flight at once (most wait only for a SYNC_FLUSH fsync)."""
PULL_CONCURRENCY = 256
ADMIN_CONCURRENCY = 16
ADMIN_PENDING = 10_000
FAST_PORT_OFFSET = 2


def _default_store_factory(config: StoreConfig) -> BrokerStore:
    from rmq_core.store.store import MessageStore

    store: BrokerStore = MessageStore(config)
    return store


class BrokerController:
    """One broker process' worth of components."""

    def __init__(
        self,
        config: BrokerConfig,
        store_config: StoreConfig,
        *,
        store_factory: StoreFactory | None = None,
        fast_port: bool | None = None,
    ) -> None:
        """``fast_port`` None: listen on ``listenPort - 2`` too unless ``listenPort`` is 0.

        Raises ConfigError when ``config`` and ``store_config`` set different
        ``messageDelayLevel`` tables (the store's is the one in force).
        """
        self.config = config
        self.store_config = reconcile_delay_levels(config, store_config)
        self._store_factory = store_factory or _default_store_factory
        self._fast_port = fast_port if fast_port is not None else config.listen_port > 2
        self.ctx: BrokerContext | None = None
        self.server: RemotingServer | None = None
        self.fast_server: RemotingServer | None = None
        self.schedule: ScheduleMessageService | None = None
        self.registrar: NameServerRegistrar | None = None
        self.pull: PullMessageProcessor | None = None
        self.pop: PopService | None = None
        self.transaction_check: TransactionCheckService | None = None
        self._store: BrokerStore | None = None
        self._writer: ThreadedConfigWriter | None = None
        self._client: RemotingClient | None = None
        self._notifier: ConsumerIdsChangeNotifier | None = None
        self._pools: dict[str, ProcessorPool] = {}
        self._processors: list[tuple[BrokerProcessor, ProcessorPool]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    # --- properties ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound main port (after start)."""
        return 0 if self.server is None else self.server.port

    @property
    def address(self) -> str:
        """``brokerIP1:port``: the address published to NameServers (after start)."""
        return f"{self.config.broker_ip1}:{self.port}"

    @property
    def context(self) -> BrokerContext:
        """The running broker's context (after start)."""
        if self.ctx is None:
            raise RuntimeError("broker not started")
        return self.ctx

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything; on failure, stop what started and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self.shutdown()
            raise
        self._started = True
        logger.info(
            "broker %s started on %s (cluster %s, name servers %s)",
            self.config.broker_name,
            self.address,
            self.config.broker_cluster_name,
            self.config.namesrv_addr or "none",
        )

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        root = Path(self.store_config.store_path_root_dir)
        store = self._store_factory(self.store_config)
        self._store = store
        await asyncio.to_thread(store.start)
        self._writer = ThreadedConfigWriter()
        self._writer.start()
        ctx = BrokerContext(
            self.config, self.store_config, store, config_dir=root / "config", writer=self._writer
        )
        # Published only once loaded: a damaged metadata file fails the start (ConfigError)
        # and shutdown() must not persist the half-loaded tables over the files.
        await asyncio.to_thread(ctx.load)
        self.ctx = ctx
        self.schedule = ScheduleMessageService(
            store, ctx.delay_levels, ctx.config_path(DELAY_OFFSET_FILE), writer=self._writer
        )
        await asyncio.to_thread(self.schedule.load)
        self.pull = PullMessageProcessor(ctx)
        self.pull.hold_service.bind_loop(loop)
        store.add_arrival_listener(self.pull.hold_service.notify_message_arriving)
        store.add_arrival_listener(self.schedule.on_message_arrival)
        self.pop = PopService(ctx)
        await asyncio.to_thread(self.pop.load)
        self._notifier = ConsumerIdsChangeNotifier(ctx.broker_config)
        ctx.consumers.add_listener(self._notifier)
        self._build_processors()

        self.server = self._build_server(self.config.listen_port, "broker", with_pull=True)
        await self.server.start()
        ctx.broker_addr = f"{self.config.broker_ip1}:{self.server.port}"
        if self._fast_port:
            fast = self.config.listen_port - FAST_PORT_OFFSET
            self.fast_server = self._build_server(fast, "broker-fast", with_pull=False)
            await self.fast_server.start()

        self.schedule.start()
        self.pop.start()
        if self.transaction_check is not None:
            self.transaction_check.start()
        self._client = RemotingClient(name="broker-outer")
        self.registrar = NameServerRegistrar(ctx, self._client, self.server.port + 1)
        ctx.topics.add_change_listener(self.registrar.request)
        self._tasks.append(loop.create_task(self.registrar.run(), name="broker-register"))
        self._tasks.append(loop.create_task(self._housekeeping(), name="broker-housekeeping"))

    def _pop_processor(self, loop: asyncio.AbstractEventLoop) -> PopProcessor:
        assert self.pop is not None and self._store is not None
        processor = PopProcessor(self.context, self.pop)
        processor.hold_service.bind_loop(loop)
        self._store.add_arrival_listener(processor.hold_service.notify_message_arriving)
        return processor

    def _build_processors(self) -> None:
        loop = asyncio.get_running_loop()
        ctx = self.context
        cfg = self.config
        self._pools = {
            "send": ProcessorPool("send", SEND_CONCURRENCY, cfg.send_thread_pool_queue_capacity),
            "pull": ProcessorPool("pull", PULL_CONCURRENCY, cfg.pull_thread_pool_queue_capacity),
            "admin": ProcessorPool(
                "admin", ADMIN_CONCURRENCY, cfg.admin_broker_thread_pool_queue_capacity
            ),
            "client": ProcessorPool("client", ADMIN_CONCURRENCY, ADMIN_PENDING),
        }
        pools = self._pools
        transactions = TransactionalMessageService(ctx, settings=self._transaction_settings)
        self.transaction_check = TransactionCheckService(
            ctx, transactions.resolved, settings=self._transaction_settings
        )
        self._processors = [
            (EndTransactionProcessor(ctx, transactions), pools["send"]),
            (LockProcessor(ctx, ctx.locks), pools["admin"]),
            (self._pop_processor(loop), pools["pull"]),
            (SendMessageProcessor(ctx), pools["send"]),
            (ConsumerSendMsgBackProcessor(ctx), pools["send"]),
            (ClientManageProcessor(ctx), pools["client"]),
            (ConsumerManageProcessor(ctx), pools["client"]),
            (QueueOffsetProcessor(ctx), pools["admin"]),
            (QueryMessageProcessor(ctx), pools["admin"]),
            (TopicAdminProcessor(ctx), pools["admin"]),
            (GroupAdminProcessor(ctx), pools["admin"]),
            (
                BrokerAdminProcessor(
                    ctx,
                    on_config_change=self._config_changed,
                    runtime_extra=self._runtime_extra,
                    delay_offsets=self._delay_offsets,
                ),
                pools["admin"],
            ),
        ]

    def _build_server(self, port: int, name: str, *, with_pull: bool) -> RemotingServer:
        """A server on ``port`` sharing the processors (the fast one serves no pulls)."""
        server = RemotingServer(
            self.config.bind_address, port, name=name, default_pool=self._pools["admin"]
        )
        table = list(self._processors)
        if with_pull:
            assert self.pull is not None
            table.append((self.pull, self._pools["pull"]))
        for processor, pool in table:
            for code in processor.codes:
                server.register_processor(code, processor, pool)
        server.add_close_listener(self._connection_closed)
        return server

    async def shutdown(self) -> None:
        """Unregister from the NameServers, stop serving, persist metadata, close the store."""
        if self.registrar is not None and self._started:
            await self.registrar.unregister_all()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.schedule is not None:
            await self.schedule.shutdown()
        if self.transaction_check is not None:
            await self.transaction_check.shutdown()
        if self.pull is not None:
            self.pull.hold_service.shutdown()
        if self.pop is not None:
            await self.pop.shutdown()
        for server in (self.fast_server, self.server):
            if server is not None:
                await server.shutdown()
        if self._notifier is not None:
            await self._notifier.shutdown()
        if self.ctx is not None:
            self.ctx.persist()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.shutdown)
        if self._store is not None:
            await asyncio.to_thread(self._store.shutdown)
        if self._client is not None:
            await self._client.close()
        if self._started:
            logger.info("broker %s stopped", self.config.broker_name)
        self._started = False
        self.ctx = None
        self._store = None
        self._writer = None
        self._client = None

    async def __aenter__(self) -> BrokerController:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # --- wiring callbacks ----------------------------------------------------------------

    def _connection_closed(self, connection: Connection) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        ctx.producers.do_channel_close_event(connection)
        ctx.consumers.do_channel_close_event(connection)

    def _config_changed(self, old: BrokerConfig, new: BrokerConfig) -> None:
        self.config = new
        if old.broker_permission != new.broker_permission and self.registrar is not None:
            self.registrar.request()

    def _runtime_extra(self) -> dict[str, str]:
        extra = {
            f"{name}ThreadPoolQueueSize": str(pool.pending) for name, pool in self._pools.items()
        }
        extra["sendThreadPoolQueueCapacity"] = str(self.config.send_thread_pool_queue_capacity)
        extra["pullThreadPoolQueueCapacity"] = str(self.config.pull_thread_pool_queue_capacity)
        if self.pull is not None:
            extra["pullRequestHoldCount"] = str(self.pull.hold_service.held_count)
        if self.pop is not None:
            extra.update(self.pop.runtime_info())
        return extra

    def _transaction_settings(self) -> TransactionSettings:
        return TransactionSettings.from_config(
            self.context.config, self.store_config.file_reserved_time
        )

    def _delay_offsets(self) -> bytes:
        assert self.schedule is not None
        return self.schedule.encode()

    async def _housekeeping(self) -> None:
        ctx = self.context
        last_flush = last_scan = time.monotonic()
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            now = time.monotonic()
            ctx.stats.sample(now)
            if now - last_flush >= ctx.config.flush_consumer_offset_interval:
                last_flush = now
                if ctx.offsets.dirty:
                    ctx.offsets.persist()
            if now - last_scan >= CLIENT_SCAN_INTERVAL:
                last_scan = now
                self._scan_idle_clients(now)

    def _scan_idle_clients(self, now: float) -> None:
        ctx = self.context
        timeout = ctx.config.channel_expired_timeout
        expired = ctx.producers.scan_not_active_channel(timeout, now)
        expired += ctx.consumers.scan_not_active_channel(timeout, now)
        for info in expired:
            info.connection.close()
