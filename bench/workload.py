"""The comparison workloads, their parameters and results, and the per-workload runner.

A workload runs against one system through a *driver* (:mod:`bench.drivers`): one class per
system with one method per workload. :func:`run_workload` runs one of them and returns a
result dict; ``python -m bench.workload ...`` does the same in a fresh process and prints the
result as one JSON line (this is how :mod:`bench.compare` isolates and time-bounds phases).

Workloads (1 KiB bodies by default):

===================  ===========================================================================
``send_sync``        one message at a time, each acknowledged before the next (msg/s, RT)
``send_concurrent``  ``depth`` senders at once, each sending as ``send_sync`` does (msg/s, RT)
``send_pipelined``   many messages in flight / in batches, asynchronous durability (msg/s)
``consume``          read back the messages the send workloads wrote (msg/s)
``e2e``              send at a fixed rate (1,000 msg/s), latency send -> receive (µs)
``send_durable``     ``send_pipelined`` against a server that syncs to disk before acking
===================  ===========================================================================

``send_concurrent`` is the pattern of RocketMQ's benchmark ``Producer`` (64 threads by
default, each sending synchronously): ``depth`` senders share one client (asyncio tasks, run
by :func:`run_concurrent_senders`), each awaiting every answer before its next send, so at
most ``depth`` messages are in flight; ``rmq bench compare`` sets ``depth`` to
:data:`CONCURRENT_SENDERS`.

Every workload stops at its deadline (``duration`` s) or after ``max_messages``; ``consume``
also stops when the backlog is drained.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.report import print_json_line
from bench.stats import LatencyHistogram, rate

__all__ = [
    "CONCURRENT_SENDERS",
    "WORKLOADS",
    "Measurement",
    "WorkloadParams",
    "main",
    "make_body",
    "read_stamp",
    "run_concurrent_senders",
    "run_workload",
]

WORKLOADS = ("send_sync", "send_concurrent", "send_pipelined", "consume", "e2e", "send_durable")
CONCURRENT_SENDERS = 64
"""Senders of ``send_concurrent`` in ``rmq bench compare``: the default thread count of
RocketMQ's benchmark ``Producer``."""
SYSTEMS = ("rmq", "redis", "nats", "rabbitmq")
STAMP_BYTES = 8


@dataclass(slots=True)
class WorkloadParams:
    """What one workload run does; times in seconds, sizes in bytes."""

    workload: str
    address: str  # "host:port" of the server (rmq: the NameServer)
    duration: float = 10.0
    size: int = 1024
    depth: int = 64  # messages in flight (send_concurrent: one per sender) or per batch
    window: int = 4  # batches in flight (rmq batched send)
    rate: float = 1000.0  # e2e send rate, msg/s
    max_messages: int = 0  # 0 = no count bound
    topic: str = "BenchTopic"
    options: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.workload not in WORKLOADS:
            raise ValueError(f"unknown workload {self.workload!r}; one of {', '.join(WORKLOADS)}")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.size < STAMP_BYTES:
            raise ValueError(f"message size must be at least {STAMP_BYTES} bytes")
        if self.depth < 1 or self.window < 1:
            raise ValueError("depth and window must be at least 1")
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.max_messages < 0:
            raise ValueError("max_messages must be >= 0")

    def limit_reached(self, count: int) -> bool:
        """True when ``max_messages`` is set and ``count`` reached it."""
        return 0 < self.max_messages <= count


def make_body(size: int, stamp_ns: int | None = None) -> bytes:
    """A ``size``-byte body; the first 8 bytes carry ``stamp_ns`` (``time.time_ns()``)."""
    stamp = time.time_ns() if stamp_ns is None else stamp_ns
    return stamp.to_bytes(STAMP_BYTES, "big") + b"x" * (size - STAMP_BYTES)


def read_stamp(body: bytes | memoryview) -> int:
    """The ``time.time_ns()`` stamp that :func:`make_body` put in ``body``."""
    return int.from_bytes(body[:STAMP_BYTES], "big")


class Measurement:
    """Counts messages and latencies of one workload run between ``begin()`` and ``end()``."""

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        self.messages = 0
        self.errors = 0
        self.latency = LatencyHistogram()
        self.started = 0.0
        self.stopped = 0.0
        self.deadline = 0.0
        self.notes: dict[str, Any] = {}

    def begin(self) -> None:
        """Start the clock; ``deadline`` is ``duration`` s from now (``time.monotonic``)."""
        self.started = time.monotonic()
        self.deadline = self.started + self.params.duration

    def end(self) -> None:
        """Stop the clock."""
        self.stopped = time.monotonic()

    def running(self) -> bool:
        """False once the deadline passed or the message limit was reached."""
        return time.monotonic() < self.deadline and not self.params.limit_reached(self.messages)

    def result(self, system: str) -> dict[str, Any]:
        """The result dict of this run."""
        seconds = (self.stopped or time.monotonic()) - self.started
        out: dict[str, Any] = {
            "system": system,
            "workload": self.params.workload,
            "messages": self.messages,
            "seconds": seconds,
            "rate": rate(self.messages, seconds),
            "errors": self.errors,
            "size": self.params.size,
        }
        if self.latency.count:
            out["latency_us"] = self.latency.summary()
        if self.notes:
            out["notes"] = self.notes
        return out


SendOne = Callable[[], Awaitable[bool]]
"""Sends one message and returns once it is acknowledged: True when stored, False when the
server refused it."""


async def run_concurrent_senders(m: Measurement, send: SendOne) -> None:
    """Run ``m.params.depth`` senders on the running loop, each awaiting ``send()`` before its
    next call, between ``m.begin()`` and ``m.end()`` (called here).

    Each stored message adds 1 to ``m.messages`` and its round-trip time (µs) to
    ``m.latency``; a refusal or an exception adds 1 to ``m.errors``. Senders stop issuing at
    the deadline or once ``max_messages`` sends were issued (never more), then finish the send
    they have in flight (each is bounded by its client's timeout).
    """
    params = m.params
    issued = 0
    record = m.latency.record
    perf = time.perf_counter_ns

    def may_issue() -> bool:
        nonlocal issued
        if time.monotonic() >= m.deadline or params.limit_reached(issued):
            return False
        issued += 1
        return True

    async def sender() -> None:
        while may_issue():
            t0 = perf()
            try:
                stored = await send()
            except Exception:
                m.errors += 1
                await asyncio.sleep(0)  # a send failing at once must not starve the others
                continue
            if stored:
                record((perf() - t0) / 1000)
                m.messages += 1
            else:
                m.errors += 1

    m.begin()
    await asyncio.gather(*(sender() for _ in range(params.depth)))
    m.end()
    m.notes["senders"] = params.depth


def _driver(system: str, params: WorkloadParams) -> Any:
    # Imported lazily: each driver needs its own optional client library.
    if system == "redis":
        from bench.drivers.redis_streams import RedisDriver

        return RedisDriver(params)
    if system == "nats":
        from bench.drivers.nats_js import NatsDriver

        return NatsDriver(params)
    if system == "rabbitmq":
        from bench.drivers.rabbitmq import RabbitDriver

        return RabbitDriver(params)
    if system == "rmq":
        from bench.drivers.rmq import RmqDriver

        return RmqDriver(params)
    raise ValueError(f"unknown system {system!r}; one of {', '.join(SYSTEMS)}")


def run_workload(system: str, params: WorkloadParams) -> dict[str, Any]:
    """Run ``params.workload`` against ``system`` and return its result dict."""
    driver = _driver(system, params)
    method = getattr(driver, params.workload)
    outcome = method()
    if inspect.iscoroutine(outcome):
        outcome = asyncio.run(outcome)
    result: dict[str, Any] = outcome
    return result


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m bench.workload``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.workload", description="run one benchmark workload, print JSON"
    )
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--address", required=True, help="host:port of the server")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (bound)")
    parser.add_argument("--size", type=int, default=1024, help="message size in bytes")
    parser.add_argument(
        "--depth",
        type=int,
        default=64,
        help="messages per batch/pipeline or in flight (send_concurrent: senders)",
    )
    parser.add_argument("--window", type=int, default=4, help="batches in flight")
    parser.add_argument("--rate", type=float, default=1000.0, help="e2e send rate (msg/s)")
    parser.add_argument("--max-messages", type=int, default=0, help="count bound (0: none)")
    parser.add_argument("--topic", default="BenchTopic", help="topic / stream / queue name")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="driver option"
    )
    return parser


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; ValueError without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"bad option {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run one workload from the command line; print its JSON result line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        params = WorkloadParams(
            workload=args.workload,
            address=args.address,
            duration=args.duration,
            size=args.size,
            depth=args.depth,
            window=args.window,
            rate=args.rate,
            max_messages=args.max_messages,
            topic=args.topic,
            options=parse_options(args.option),
        )
    except ValueError as exc:
        parser.error(str(exc))
    result = run_workload(args.system, params)
    result["params"] = {k: v for k, v in asdict(params).items() if k != "options"}
    print_json_line(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
