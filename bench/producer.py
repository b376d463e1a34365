"""``rmq bench producer``: RocketMQ's benchmark producer for rmq (or any RocketMQ broker).

Like RocketMQ's ``Producer`` benchmark, ``--threads`` senders (asyncio tasks here) send
``--size``-byte messages to ``--topic`` as fast as they can, and every ``--report-interval``
seconds (10) a line with ``Send TPS | Max RT(ms) | Average RT(ms) | Send Failed | Response
Failed`` is printed, then a summary line and one JSON line at the end. On a terminal a
progress line is redrawn in place.

Modes: ``sync`` (each sender awaits every answer), ``async`` (each sender keeps ``--window``
requests in flight), ``oneway`` (no answers). ``--batch-size N`` sends N messages per request
(``SEND_BATCH_MESSAGE``). ``--client full`` uses :class:`rmq_core.client.Producer`;
``--client raw`` the lean producer of :mod:`bench.rmq_raw`. The run ends after ``--duration``
seconds or ``--messages`` messages, or on Ctrl-C.

``--standalone`` starts a private ``rmq standalone`` (NameServer and broker) in a temporary
folder for the run, with ``--flush async|sync`` as its flush mode, and reports its memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from bench.engine import SendOutcome, drive_sends, stop_on_signals
from bench.report import DEFAULT_REPORT_INTERVAL, SendReporter, print_json_line
from bench.stats import SendStats
from bench.workload import make_body
from rmq_core.client.config import DEFAULT_MAX_MESSAGE_SIZE
from rmq_core.errors import RocketMQError

__all__ = [
    "ProducerOptions",
    "add_producer_arguments",
    "producer_main",
    "run_producer",
    "standalone_broker",
]

MODES = ("sync", "async", "oneway")
CLIENTS = ("full", "raw")
DEFAULT_NAMESRV = "127.0.0.1:9876"


@dataclass(slots=True)
class ProducerOptions:
    """Validated settings of one producer run (seconds, bytes)."""

    namesrv: str = DEFAULT_NAMESRV
    topic: str = "BenchTopic"
    size: int = 128
    threads: int = 64
    batch_size: int = 1
    window: int = 32
    mode: str = "sync"
    client: str = "full"
    duration: float = 60.0
    messages: int = 0
    queues: int = 8
    group: str = "benchmark_producer"
    report_interval: float = DEFAULT_REPORT_INTERVAL

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.client not in CLIENTS:
            raise ValueError(f"client must be one of {', '.join(CLIENTS)}")
        if self.size < 8:
            raise ValueError("message size must be at least 8 bytes")
        if self.size * self.batch_size > DEFAULT_MAX_MESSAGE_SIZE:
            raise ValueError(
                f"message size x batch size ({self.size * self.batch_size} bytes) is over "
                f"RocketMQ's maxMessageSize of {DEFAULT_MAX_MESSAGE_SIZE} bytes: every send "
                "would be refused"
            )
        if self.threads < 1 or self.batch_size < 1 or self.window < 1:
            raise ValueError("threads, batch size and window must be at least 1")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.messages < 0 or self.queues < 0:
            raise ValueError("messages and queues must be >= 0")
        if self.report_interval <= 0:
            raise ValueError("report interval must be positive")
        if self.mode == "oneway" and self.client == "full" and self.batch_size > 1:
            raise ValueError("oneway batches need --client raw (the client sends batches sync)")

    @property
    def in_flight(self) -> int:
        """Requests one sender keeps in flight."""
        return self.window if self.mode == "async" else 1


async def _raw_sender(
    opts: ProducerOptions,
) -> tuple[Callable[[], Awaitable[SendOutcome]], Callable[[], Awaitable[None]]]:
    from bench.rmq_raw import RawProducer

    producer = RawProducer(opts.namesrv, opts.topic, group=opts.group)
    await producer.start(opts.queues or None)
    bodies = [make_body(opts.size)] * opts.batch_size
    if opts.mode == "oneway":
        return (lambda: producer.send_oneway(bodies)), producer.close
    return (lambda: producer.send(bodies)), producer.close


async def _full_sender(
    opts: ProducerOptions,
) -> tuple[Callable[[], Awaitable[SendOutcome]], Callable[[], Awaitable[None]]]:
    from rmq_core.client import Message, Producer, SendStatus

    if opts.queues:
        from bench.rmq_raw import ensure_topic
        from rmq_core.remoting.client import RemotingClient

        admin = RemotingClient(name="bench-admin")
        try:
            await ensure_topic(admin, opts.namesrv, opts.topic, opts.queues)
        finally:
            await admin.close()
    producer = Producer(opts.group, opts.namesrv)
    await producer.start()
    body = make_body(opts.size)
    topic, batch = opts.topic, opts.batch_size

    async def send_one() -> SendOutcome:
        result = await producer.send(Message(topic, body))
        return SendOutcome(1) if result.status is SendStatus.SEND_OK else SendOutcome(0, 1)

    async def send_batch() -> SendOutcome:
        result = await producer.send_batch([Message(topic, body) for _ in range(batch)])
        if result.status is SendStatus.SEND_OK:
            return SendOutcome(batch)
        return SendOutcome(0, batch)

    async def send_oneway() -> SendOutcome:
        await producer.send_oneway(Message(topic, body))
        return SendOutcome(1)

    if opts.mode == "oneway":
        return send_oneway, producer.shutdown
    return (send_batch if batch > 1 else send_one), producer.shutdown


async def run_producer(
    opts: ProducerOptions,
    *,
    out: TextIO | None = None,
    progress: bool | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Run the benchmark; print report lines to ``out``; return the result dict."""
    factory = _raw_sender if opts.client == "raw" else _full_sender
    send_once, close = await factory(opts)
    stop = stop or asyncio.Event()
    stats = SendStats()
    reporter = SendReporter(
        stats, interval=opts.report_interval, out=out, progress=progress, duration=opts.duration
    )
    try:
        with stop_on_signals(stop):
            stats.started = time.monotonic()
            deadline = stats.started + opts.duration
            reporter.start()
            await drive_sends(
                send_once,
                stats,
                batch=opts.batch_size,
                tasks=opts.threads,
                window=opts.in_flight,
                should_run=lambda: not stop.is_set() and time.monotonic() < deadline,
                max_messages=opts.messages,
            )
        return await reporter.finish({"tool": "producer", "options": asdict(opts)})
    finally:
        await reporter.stop()
        await close()


@contextlib.contextmanager
def standalone_broker(flush: str) -> Iterator[Any]:
    """A private ``rmq standalone`` in a temporary folder; yields its ServerProcess."""
    from bench.servers import ServerProcess, rmq_spec

    with tempfile.TemporaryDirectory(prefix="rmq-bench-") as folder:
        spec = rmq_spec(
            Path(folder), flush_disk_type="SYNC_FLUSH" if flush == "sync" else "ASYNC_FLUSH"
        )
        with ServerProcess(spec) as server:
            yield server


def add_producer_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rmq bench producer`` (RocketMQ's names where it has them)."""
    parser.add_argument(
        "-n",
        "--namesrv",
        default=os.environ.get("NAMESRV_ADDR", DEFAULT_NAMESRV),
        help="NameServer address (default $NAMESRV_ADDR or 127.0.0.1:9876)",
    )
    parser.add_argument("-t", "--topic", default="BenchTopic", help="topic")
    parser.add_argument("-s", "--size", type=int, default=128, help="message size in bytes")
    parser.add_argument("-w", "--threads", type=int, default=64, help="concurrent senders")
    parser.add_argument("-b", "--batch-size", type=int, default=1, help="messages per request")
    parser.add_argument(
        "--window", type=int, default=32, help="requests in flight per sender (async mode)"
    )
    parser.add_argument("-m", "--mode", choices=MODES, default="sync", help="send mode")
    parser.add_argument(
        "--client", choices=CLIENTS, default="full", help="full rmq client or lean raw producer"
    )
    parser.add_argument("-d", "--duration", type=float, default=60.0, help="seconds to run")
    parser.add_argument("--messages", type=int, default=0, help="stop after N messages (0: no)")
    parser.add_argument(
        "--queues", type=int, default=8, help="create the topic with N queues (0: leave as is)"
    )
    parser.add_argument("-g", "--group", default="benchmark_producer", help="producer group")
    parser.add_argument(
        "--report-interval", type=float, default=DEFAULT_REPORT_INTERVAL, help="seconds per line"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="redraw a progress line (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="start a private rmq standalone for the run (ignores --namesrv)",
    )
    parser.add_argument(
        "--flush",
        choices=("async", "sync"),
        help="flush mode of the --standalone broker (ASYNC_FLUSH / SYNC_FLUSH)",
    )
    parser.add_argument(
        "--profile-broker",
        type=Path,
        metavar="PREFIX",
        help="sample the --standalone broker with py-spy: PREFIX.raw and a PREFIX.txt summary",
    )


def options_from_args(args: argparse.Namespace) -> ProducerOptions:
    """Validated options (ValueError on bad values or combinations)."""
    if args.flush is not None and not args.standalone:
        raise ValueError("--flush sets the flush mode of a --standalone broker; add --standalone")
    if args.profile_broker is not None and not args.standalone:
        raise ValueError("--profile-broker profiles a --standalone broker; add --standalone")
    if args.profile_broker is not None:
        from bench.profiling import find_py_spy

        if find_py_spy() is None:
            raise ValueError("--profile-broker needs py-spy: pip install -e '.[bench]'")
    return ProducerOptions(
        namesrv=args.namesrv,
        topic=args.topic,
        size=args.size,
        threads=args.threads,
        batch_size=args.batch_size,
        window=args.window,
        mode=args.mode,
        client=args.client,
        duration=args.duration,
        messages=args.messages,
        queues=args.queues,
        group=args.group,
        report_interval=args.report_interval,
    )


def _finish_profile(profiler: Any, prefix: Path, result: dict[str, Any]) -> None:
    from bench.profiling import summarize

    try:
        profiler.wait(60)
    except Exception:
        profiler.kill()
        profiler.wait(5)
    raw = prefix.with_suffix(".raw")
    summary = summarize(raw.read_text()) if raw.exists() else "py-spy wrote nothing\n"
    prefix.with_suffix(".txt").write_text(summary)
    result["profile"] = str(prefix.with_suffix(".txt"))


def producer_main(args: argparse.Namespace) -> int:
    """Handler of ``rmq bench producer``: 2 for bad arguments, 1 when the run could not
    start (e.g. no NameServer at ``--namesrv``), with one line saying why."""
    try:
        opts = options_from_args(args)
    except ValueError as exc:
        print(f"rmq bench producer: {exc}", file=sys.stderr)
        return 2
    try:
        return _produce(args, opts)
    except (RocketMQError, OSError, TimeoutError) as exc:
        print(f"rmq bench producer: {exc}", file=sys.stderr)
        return 1


def _produce(args: argparse.Namespace, opts: ProducerOptions) -> int:
    if not args.standalone:
        result = asyncio.run(run_producer(opts, progress=args.progress))
        print_json_line(result)
        return 0
    with standalone_broker(args.flush or "async") as server:
        opts.namesrv = server.address
        profiler = None
        if args.profile_broker is not None:
            from bench.profiling import record

            raw = args.profile_broker.with_suffix(".raw")
            profiler = record(server.pid, opts.duration, raw)
        result = asyncio.run(run_producer(opts, progress=args.progress))
        if profiler is not None:
            _finish_profile(profiler, args.profile_broker, result)
        memory = server.memory()
        result["broker"] = {
            "flush": args.flush or "async",
            "rss": memory["rss"],
            "anon": memory["anon"],
            "peak_rss": server.peak_rss,
        }
    print_json_line(result)
    return 0
