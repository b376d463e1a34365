"""The ``rmq bench`` command group: ``producer``, ``consumer``, ``compare`` and ``store``.

:func:`add_bench_commands` is called by :mod:`rmq_core.cli`; each sub-command's handler
returns the process exit status (2 for bad arguments).
"""

from __future__ import annotations

import argparse
from typing import Any

from bench import store
from bench.compare import add_compare_arguments, compare_main
from bench.consumer import add_consumer_arguments, consumer_main
from bench.producer import add_producer_arguments, producer_main

__all__ = ["add_bench_commands"]


def add_bench_commands(commands: Any) -> Any:
    """Add ``bench`` with its sub-commands to the ``rmq`` sub-parsers; return the
    sub-parsers of ``bench`` so more benchmarks can be added."""
    bench: argparse.ArgumentParser = commands.add_parser(
        "bench",
        help="benchmarks (producer, consumer, compare, store)",
        description="Benchmarks: RocketMQ-style producer/consumer, comparison with peers, store.",
    )
    sub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)

    producer = sub.add_parser(
        "producer",
        help="RocketMQ-style benchmark producer",
        description="Send messages as fast as possible; print RocketMQ's Send TPS columns.",
    )
    add_producer_arguments(producer)
    producer.set_defaults(handler=producer_main)

    consumer = sub.add_parser(
        "consumer",
        help="RocketMQ-style benchmark consumer",
        description="Consume a topic; print Consume TPS with B2C/S2C latencies.",
    )
    add_consumer_arguments(consumer)
    consumer.set_defaults(handler=consumer_main)

    compare = sub.add_parser(
        "compare",
        help="the same workloads against rmq and its peers (Redis, NATS, RabbitMQ)",
        description="Start rmq and each installed peer on loopback, run the same workloads, "
        "and report every figure with the rmq/peer ratio (table, JSON, PNG).",
    )
    add_compare_arguments(compare)
    compare.set_defaults(handler=compare_main)

    store_parser = sub.add_parser(
        "store",
        help="message store append/flush benchmark",
        description="Benchmark the message store on its own (no network).",
    )
    store.build_parser(store_parser)
    store_parser.set_defaults(handler=lambda args: store.main(args=args))
    return sub
