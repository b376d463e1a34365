"""The ``rmq broker`` and ``rmq standalone`` sub-commands.

``rmq broker`` runs one broker: ``-c broker.conf`` (RocketMQ keys), ``-n/--namesrv`` (``;``
separated), ``--port``, ``--store-dir``, ``--flush sync|async``; flags override the file.

``rmq standalone`` runs a NameServer and a broker in one process and one event loop, for
development: NameServer on 9876, broker on 10911 (and 10909), data under ``./data``
(``data/store`` for the broker, ``data/namesrv/kvConfig.json`` for the NameServer's KV table);
``--namesrv-port``, ``--broker-port``, ``--store-dir``, ``--flush`` and ``-c`` change that.

Both print one line on stdout when they accept connections, stop cleanly on SIGTERM/SIGINT and
exit with 0 after a clean stop, 1 when a port is taken or the store cannot be opened (the
message says which), 2 for a bad configuration. The NameServer of ``standalone`` is built by
a factory the CLI passes in, so this package does not depend on the NameServer package.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from rmq_core.broker.conf_file import load_broker_conf
from rmq_core.broker.config import DEFAULT_LISTEN_PORT, BrokerConfig, ConfigError
from rmq_core.broker.controller import FAST_PORT_OFFSET, BrokerController
from rmq_core.errors import RocketMQError
from rmq_core.store.config import ASYNC_FLUSH, SYNC_FLUSH, StoreConfig

__all__ = ["EmbeddedNamesrv", "NamesrvFactory", "add_broker_commands"]

logger = logging.getLogger(__name__)

DEFAULT_NAMESRV_PORT = 9876
DEFAULT_DATA_DIR = "data"
FLUSH_CHOICES = {"sync": SYNC_FLUSH, "async": ASYNC_FLUSH}


class EmbeddedNamesrv(Protocol):
    """What ``standalone`` needs of a NameServer (``NamesrvController`` fits)."""

    @property
    def address(self) -> str:
        """``ip:port`` to reach it (after start)."""

    async def start(self) -> None:
        """Bind and serve; raises OSError when the port is taken."""

    async def shutdown(self) -> None:
        """Stop serving."""


NamesrvFactory = Callable[[str, int, Path | None], EmbeddedNamesrv]
"""``factory(host, port, kv_config_path)`` builds an unstarted NameServer."""


def add_broker_commands(commands: Any, namesrv_factory: NamesrvFactory) -> None:
    """Add ``broker`` and ``standalone`` to the ``rmq`` sub-parsers."""
    broker: argparse.ArgumentParser = commands.add_parser(
        "broker",
        help="run a broker",
        description="Run a RocketMQ-compatible broker until SIGTERM/SIGINT.",
    )
    broker.add_argument("-c", "--config", type=Path, help="broker.conf with RocketMQ keys")
    broker.add_argument("-n", "--namesrv", help="NameServer addresses, host:port;host:port")
    broker.add_argument(
        "--port", type=int, help=f"main port (default {DEFAULT_LISTEN_PORT}; 0 = any free)"
    )
    broker.add_argument("--store-dir", type=Path, help="storePathRootDir (default ~/store)")
    broker.add_argument("--flush", choices=sorted(FLUSH_CHOICES), help="flush to disk mode")
    broker.set_defaults(handler=run_broker)

    standalone: argparse.ArgumentParser = commands.add_parser(
        "standalone",
        help="run a NameServer and a broker in one process",
        description="Run a NameServer and a broker in one process (development setup).",
    )
    standalone.add_argument("-c", "--config", type=Path, help="broker.conf with RocketMQ keys")
    standalone.add_argument(
        "--namesrv-port", type=int, default=DEFAULT_NAMESRV_PORT, help="NameServer port"
    )
    standalone.add_argument(
        "--broker-port", type=int, default=None, help=f"broker port (default {DEFAULT_LISTEN_PORT})"
    )
    standalone.add_argument(
        "--store-dir",
        type=Path,
        default=Path(DEFAULT_DATA_DIR),
        help="data directory (default ./data)",
    )
    standalone.add_argument("--flush", choices=sorted(FLUSH_CHOICES), help="flush to disk mode")
    standalone.set_defaults(handler=lambda args: run_standalone(args, namesrv_factory))


def _configs(
    args: argparse.Namespace, store_root: Path | None, port: int | None
) -> tuple[BrokerConfig, StoreConfig]:
    if args.config is not None:
        broker_config, store_config = load_broker_conf(args.config)
    else:
        broker_config, store_config = BrokerConfig(), StoreConfig()
    if port is not None:
        broker_config = replace(broker_config, listen_port=port)
    if store_root is not None:
        store_config = store_config.replace(store_path_root_dir=str(store_root))
    if args.flush is not None:
        store_config = store_config.replace(flush_disk_type=FLUSH_CHOICES[args.flush])
    return broker_config, store_config


def run_broker(args: argparse.Namespace) -> int:
    """Handler of ``rmq broker``; returns the exit status."""
    try:
        broker_config, store_config = _configs(args, args.store_dir, args.port)
        if args.namesrv is not None:
            broker_config = replace(broker_config, namesrv_addr=args.namesrv)
    except (RocketMQError, ValueError) as exc:
        print(f"rmq broker: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve_broker(broker_config, store_config))


def run_standalone(args: argparse.Namespace, namesrv_factory: NamesrvFactory) -> int:
    """Handler of ``rmq standalone``; returns the exit status."""
    data = Path(args.store_dir)
    try:
        broker_config, store_config = _configs(args, data / "store", args.broker_port)
    except (RocketMQError, ValueError) as exc:
        print(f"rmq standalone: {exc}", file=sys.stderr)
        return 2
    if not 0 <= args.namesrv_port <= 65535:
        print(f"rmq standalone: --namesrv-port {args.namesrv_port} is not a port", file=sys.stderr)
        return 2
    host = broker_config.bind_address
    namesrv = namesrv_factory(host, args.namesrv_port, data / "namesrv" / "kvConfig.json")
    return asyncio.run(_serve_standalone(namesrv, args.namesrv_port, broker_config, store_config))


class _StopSignal:
    """SIGTERM/SIGINT set ``event``; installed before the ready line is printed so a signal
    sent right after it is never lost."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(signum, self.event.set)

    def remove(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._loop.remove_signal_handler(signum)


async def _start_broker(
    broker_config: BrokerConfig, store_config: StoreConfig, command: str
) -> BrokerController | None:
    controller = BrokerController(broker_config, store_config)
    try:
        await controller.start()
    except (OSError, RocketMQError) as exc:
        print(f"rmq {command}: {_start_error(broker_config, exc)}", file=sys.stderr)
        return None
    return controller


async def _serve_broker(broker_config: BrokerConfig, store_config: StoreConfig) -> int:
    stop = _StopSignal()
    try:
        return await _run_broker(broker_config, store_config, stop.event)
    finally:
        stop.remove()


async def _run_broker(
    broker_config: BrokerConfig, store_config: StoreConfig, stop: asyncio.Event
) -> int:
    controller = await _start_broker(broker_config, store_config, "broker")
    if controller is None:
        return 1
    print(
        f"rmq broker {broker_config.broker_name} listening on {controller.address} "
        f"(store {store_config.store_path_root_dir}, "
        f"name servers {broker_config.namesrv_addr or 'none'})",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await controller.shutdown()
    return 0


async def _serve_standalone(
    namesrv: EmbeddedNamesrv, port: int, broker_config: BrokerConfig, store_config: StoreConfig
) -> int:
    stop = _StopSignal()
    try:
        return await _run_standalone(namesrv, port, broker_config, store_config, stop.event)
    finally:
        stop.remove()


async def _run_standalone(
    namesrv: EmbeddedNamesrv,
    port: int,
    broker_config: BrokerConfig,
    store_config: StoreConfig,
    stop: asyncio.Event,
) -> int:
    try:
        await namesrv.start()
    except OSError as exc:
        await namesrv.shutdown()
        where = f"{broker_config.bind_address}:{port}"
        print(f"rmq standalone: NameServer {_bind_error(where, exc)}", file=sys.stderr)
        return 1
    broker_config = replace(broker_config, namesrv_addr=namesrv.address)
    controller = await _start_broker(broker_config, store_config, "standalone")
    if controller is None:
        await namesrv.shutdown()
        return 1
    print(
        f"rmq standalone ready: namesrv {namesrv.address}, broker {controller.address} "
        f"(store {store_config.store_path_root_dir})",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await controller.shutdown()
        await namesrv.shutdown()
    return 0


def _bind_error(where: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: address already in use"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def _start_error(config: BrokerConfig, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        port = config.listen_port
        text = _bind_error(f"{config.bind_address}:{port}", exc)
        if port > FAST_PORT_OFFSET:
            text += f" (the broker needs ports {port} and {port - FAST_PORT_OFFSET})"
        return f"broker {text}"
    if isinstance(exc, ConfigError):
        return f"bad configuration: {exc}"
    return str(exc)
