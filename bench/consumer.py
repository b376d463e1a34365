"""``rmq bench consumer``: RocketMQ's benchmark consumer for rmq (or any RocketMQ broker).

Subscribes ``--group`` to ``--topic`` and, every ``--report-interval`` seconds (10) and at the
end, prints ``Consume TPS`` with the born-to-consume (B2C: now minus the producer's born
timestamp) and store-to-consume (S2C: now minus the broker's store timestamp) latencies,
average, max, p50 and p99 in ms, then one JSON line. Both timestamps are whole milliseconds
on the wire, as in RocketMQ.

``--client full`` (default) uses :class:`rmq_core.client.PushConsumer` (clustering, long
polling, offset commits: what an application does); ``--client raw`` pulls every queue with
the lean puller of :mod:`bench.rmq_raw` (no long polling, no offsets kept). ``--from
first|last`` picks where a new group starts. The run ends after ``--duration`` seconds, after
``--messages`` messages, or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from bench.engine import stop_on_signals
from bench.producer import DEFAULT_NAMESRV
from bench.report import DEFAULT_REPORT_INTERVAL, ConsumeReporter, print_json_line
from bench.stats import ConsumeStats
from rmq_core.errors import RocketMQError

__all__ = ["ConsumerOptions", "add_consumer_arguments", "consumer_main", "run_consumer"]

CLIENTS = ("full", "raw")
IDLE_PULL_PAUSE = 0.05
"""Seconds a raw puller waits after an empty pull before pulling that queue again."""


@dataclass(slots=True)
class ConsumerOptions:
    """Validated settings of one consumer run (seconds)."""

    namesrv: str = DEFAULT_NAMESRV
    topic: str = "BenchTopic"
    group: str = "benchmark_consumer"
    client: str = "full"
    start_from: str = "last"
    threads: int = 20
    pull_batch: int = 32
    duration: float = 60.0
    messages: int = 0
    report_interval: float = DEFAULT_REPORT_INTERVAL

    def __post_init__(self) -> None:
        if self.client not in CLIENTS:
            raise ValueError(f"client must be one of {', '.join(CLIENTS)}")
        if self.start_from not in ("first", "last"):
            raise ValueError("--from must be first or last")
        if self.threads < 1 or self.pull_batch < 1:
            raise ValueError("threads and pull batch must be at least 1")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.messages < 0:
            raise ValueError("messages must be >= 0")
        if self.report_interval <= 0:
            raise ValueError("report interval must be positive")


def record(stats: ConsumeStats, messages: Iterable[Any], now_ms: int | None = None) -> int:
    """Count ``messages`` (MessageExt) and their B2C/S2C latencies; return how many.

    The timestamps are whole milliseconds, so the messages of one pull mostly share their
    latencies: each distinct value is added once with its count (same histograms as adding
    them one by one)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    born: dict[int, int] = {}
    stored: dict[int, int] = {}
    count = 0
    for msg in messages:
        b, s = msg.born_timestamp, msg.store_timestamp
        born[b] = born.get(b, 0) + 1
        stored[s] = stored.get(s, 0) + 1
        count += 1
    for timestamps, histogram in ((born, stats.born_to_consume), (stored, stats.store_to_consume)):
        for stamp, times in timestamps.items():
            histogram.record_many((now - stamp) * 1000, times)
    stats.received += count
    return count


async def _check_namesrv(namesrv: str, topic: str) -> None:
    """Raise :class:`~rmq_core.errors.RemotingConnectError` when nothing answers at
    ``namesrv``: the PushConsumer would keep retrying in the background and the run would end
    with 0 messages. A topic without a route yet is fine (a producer may create it)."""
    from bench.rmq_raw import fetch_route
    from rmq_core.remoting.client import RemotingClient

    remoting = RemotingClient(name="bench-namesrv-check")
    try:
        await fetch_route(remoting, namesrv, topic)
    finally:
        await remoting.close()


async def _consume_full(opts: ConsumerOptions, stats: ConsumeStats, done: asyncio.Event) -> Any:
    from rmq_core.client import ConsumeFromWhere, ConsumeStatus, PushConsumer

    await _check_namesrv(opts.namesrv, opts.topic)

    def listener(msgs: list[Any]) -> ConsumeStatus:
        record(stats, msgs)
        if opts.messages and stats.received >= opts.messages:
            done.set()
        return ConsumeStatus.CONSUME_SUCCESS

    where = (
        ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
        if opts.start_from == "first"
        else ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    )
    consumer = PushConsumer(
        opts.group,
        opts.namesrv,
        consume_from_where=where,
        consume_thread_max=opts.threads,
        pull_batch_size=opts.pull_batch,
    )
    consumer.subscribe(opts.topic)
    consumer.register_message_listener(listener)
    await consumer.start()
    return consumer.shutdown


async def _consume_raw(opts: ConsumerOptions, stats: ConsumeStats, done: asyncio.Event) -> Any:
    from bench.rmq_raw import RawPuller, wait_route
    from rmq_core.remoting.client import RemotingClient

    remoting = RemotingClient(name="bench-raw-consumer")
    route = await wait_route(remoting, opts.namesrv, opts.topic, time.monotonic() + 30)
    puller = RawPuller(remoting, route, opts.topic, opts.group, max_msg_nums=opts.pull_batch)

    async def queue_loop(queue_id: int) -> None:
        if opts.start_from == "first":
            offset = 0
        else:
            offset = await _max_offset(remoting, route.broker_addr, opts.topic, queue_id)
        while not done.is_set():
            msgs, offset = await puller.pull(queue_id, offset)
            if not msgs:
                await asyncio.sleep(IDLE_PULL_PAUSE)
                continue
            record(stats, msgs)
            if opts.messages and stats.received >= opts.messages:
                done.set()

    tasks = [asyncio.ensure_future(queue_loop(q)) for q in range(route.read_queues)]

    async def close() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await remoting.close()

    return close


async def _max_offset(remoting: Any, broker_addr: str, topic: str, queue_id: int) -> int:
    from rmq_core.remoting.codes import RequestCode, ResponseCode
    from rmq_core.remoting.command import RemotingCommand
    from rmq_core.remoting.headers import GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader

    header = GetMaxOffsetRequestHeader(topic=topic, queue_id=queue_id)
    request = RemotingCommand.request(RequestCode.GET_MAX_OFFSET, header)
    response = await remoting.invoke(broker_addr, request, 10.0)
    if response.code != ResponseCode.SUCCESS:
        raise RuntimeError(f"GET_MAX_OFFSET failed: {response.code} {response.remark}")
    offset: int = response.decode_header(GetMaxOffsetResponseHeader).offset
    return offset


async def run_consumer(
    opts: ConsumerOptions,
    *,
    out: TextIO | None = None,
    progress: bool | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Run the benchmark; print report lines to ``out``; return the result dict."""
    done = stop or asyncio.Event()
    stats = ConsumeStats()
    reporter = ConsumeReporter(
        stats, interval=opts.report_interval, out=out, progress=progress, duration=opts.duration
    )
    start = _consume_raw if opts.client == "raw" else _consume_full
    close = await start(opts, stats, done)
    try:
        with stop_on_signals(done):
            stats.started = time.monotonic()
            reporter.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), opts.duration)
        return await reporter.finish({"tool": "consumer", "options": asdict(opts)})
    finally:
        await reporter.stop()
        await close()


def add_consumer_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rmq bench consumer``."""
    parser.add_argument(
        "-n",
        "--namesrv",
        default=os.environ.get("NAMESRV_ADDR", DEFAULT_NAMESRV),
        help="NameServer address (default $NAMESRV_ADDR or 127.0.0.1:9876)",
    )
    parser.add_argument("-t", "--topic", default="BenchTopic", help="topic")
    parser.add_argument("-g", "--group", default="benchmark_consumer", help="consumer group")
    parser.add_argument(
        "--client", choices=CLIENTS, default="full", help="PushConsumer or lean raw puller"
    )
    parser.add_argument(
        "--from",
        dest="start_from",
        choices=("first", "last"),
        default="last",
        help="where a new group starts",
    )
    parser.add_argument("-w", "--threads", type=int, default=20, help="consume threads (full)")
    parser.add_argument("--pull-batch", type=int, default=32, help="messages per pull")
    parser.add_argument("-d", "--duration", type=float, default=60.0, help="seconds to run")
    parser.add_argument("--messages", type=int, default=0, help="stop after N messages (0: no)")
    parser.add_argument(
        "--report-interval", type=float, default=DEFAULT_REPORT_INTERVAL, help="seconds per line"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="redraw a progress line (default: when stderr is a terminal)",
    )


def options_from_args(args: argparse.Namespace) -> ConsumerOptions:
    """Validated options (ValueError on bad values)."""
    return ConsumerOptions(
        namesrv=args.namesrv,
        topic=args.topic,
        group=args.group,
        client=args.client,
        start_from=args.start_from,
        threads=args.threads,
        pull_batch=args.pull_batch,
        duration=args.duration,
        messages=args.messages,
        report_interval=args.report_interval,
    )


def consumer_main(args: argparse.Namespace) -> int:
    """Handler of ``rmq bench consumer``: 2 for bad arguments, 1 when the run could not
    start (e.g. no NameServer at ``--namesrv``), with one line saying why."""
    try:
        opts = options_from_args(args)
    except ValueError as exc:
        print(f"rmq bench consumer: {exc}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(run_consumer(opts, progress=args.progress))
    except (RocketMQError, OSError, TimeoutError) as exc:
        print(f"rmq bench consumer: {exc}", file=sys.stderr)
        return 1
    print_json_line(result)
    return 0
