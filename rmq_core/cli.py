"""The ``rmq`` command line: the one module that knows every server component and wires them.

Sub-commands are registered by :func:`build_parser`; each returns a process exit status.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bench.cli import add_bench_commands
from rmq_core import __version__
from rmq_core.broker.command import add_broker_commands
from rmq_core.namesrv.command import add_namesrv_command
from rmq_core.namesrv.config import NamesrvConfig
from rmq_core.namesrv.controller import NamesrvController


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every ``rmq`` sub-command."""
    parser = argparse.ArgumentParser(prog="rmq", description="rmq: RocketMQ in Python")
    parser.add_argument("--version", action="version", version=f"rmq {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING, ERROR)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_namesrv_command(commands)
    add_broker_commands(
        commands,
        lambda host, port, kv_path: NamesrvController(
            NamesrvConfig(host=host, port=port, kv_config_path=kv_path)
        ),
    )
    add_bench_commands(commands)  # bench producer|consumer|compare|store (bench/cli.py)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rmq`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    status: int = handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
