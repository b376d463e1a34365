"""The ``rmq namesrv`` sub-command: run one NameServer until SIGTERM or SIGINT.

Prints ``rmq namesrv listening on HOST:PORT`` on stdout once it accepts connections (port 0
picks a free port, printed here). Exit status: 0 after a clean shutdown, 1 when the address
cannot be bound or the KV file cannot be read, 2 for a bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from rmq_core.errors import RocketMQError
from rmq_core.namesrv.config import DEFAULT_HOST, DEFAULT_PORT, NamesrvConfig
from rmq_core.namesrv.controller import NamesrvController

__all__ = ["add_namesrv_command", "run_namesrv"]

logger = logging.getLogger(__name__)


def add_namesrv_command(commands: Any) -> None:
    """Add ``namesrv`` to the ``rmq`` sub-parsers (``argparse._SubParsersAction``)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "namesrv",
        help="run a NameServer",
        description="Run a RocketMQ-compatible NameServer until SIGTERM/SIGINT.",
    )
    parser.add_argument(
        "--host",
        default=None,
        help=f"address to listen on (default {DEFAULT_HOST}; use 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help=f"port (default {DEFAULT_PORT}; 0 = any free)"
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="namesrv.conf with RocketMQ keys (listenPort, kvConfigPath, orderMessageEnable...)",
    )
    parser.add_argument(
        "--kv-config",
        type=Path,
        default=None,
        help="kvConfig.json to persist the KV table in (default: memory only)",
    )
    parser.set_defaults(handler=run_namesrv)


def _build_config(args: argparse.Namespace) -> NamesrvConfig:
    config = NamesrvConfig.load(args.config) if args.config is not None else NamesrvConfig()
    changes: dict[str, Any] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    if args.kv_config is not None:
        changes["kv_config_path"] = args.kv_config
    return replace(config, **changes)


def run_namesrv(args: argparse.Namespace) -> int:
    """Handler of ``rmq namesrv``; returns the exit status."""
    try:
        config = _build_config(args)
    except (RocketMQError, ValueError) as exc:
        print(f"rmq namesrv: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(config))


async def _serve(config: NamesrvConfig) -> int:
    controller = NamesrvController(config)
    try:
        await controller.start()
    except (OSError, RocketMQError) as exc:
        await controller.shutdown()
        print(f"rmq namesrv: {_start_error(config, exc)}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"rmq namesrv listening on {config.host}:{controller.port}", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await controller.shutdown()
    logger.info("rmq namesrv stopped")
    return 0


def _start_error(config: NamesrvConfig, exc: BaseException) -> str:
    where = f"{config.host}:{config.port}"
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return f"cannot listen on {where}: address already in use"
        return f"cannot listen on {where}: {exc.strerror or exc}"
    return str(exc)
