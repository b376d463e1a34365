"""Shared bits of the examples: arguments (NameServer from argv or NAMESRV_ADDR), run ids."""

from __future__ import annotations

import argparse
import os
import time


def parse_args(
    description: str, *, count: int = 10, topic: str = "ExampleTopic"
) -> argparse.Namespace:
    """``--namesrv`` (default: $NAMESRV_ADDR or 127.0.0.1:9876), ``--topic``, ``--count`` and
    ``--timeout`` (seconds: every example stops by itself)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--namesrv",
        default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"),
        help="NameServer address(es), 'host:port[;host:port]'",
    )
    parser.add_argument("--topic", default=topic)
    parser.add_argument("--count", type=int, default=count, help="messages to send/receive")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after seconds")
    return parser.parse_args()


def run_id() -> str:
    """A token unique to this run, used in group names and a message property so that a
    re-run never counts the messages of an earlier one."""
    return f"{os.getpid()}-{time.time_ns() // 1_000_000}"
