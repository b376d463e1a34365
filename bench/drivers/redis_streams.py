"""Redis Streams driver (redis-py): XADD to send, XREAD to consume.

Each workload uses redis-py the fastest way it offers for that pattern: the blocking client
for one-at-a-time sends and consumption, a non-transactional pipeline of ``depth`` XADDs for
pipelined sends, and ``redis.asyncio`` for the end-to-end latency run (a producer task and a
consumer task blocked in ``XREAD BLOCK``). A message is one stream entry with one field
``d`` holding the body. "Durable" means the server runs with ``appendfsync always``.

``send_concurrent`` runs ``depth`` senders, each awaiting its XADD's reply before its next, in
one of two ways (option ``concurrency``): ``asyncio``, ``depth`` tasks on one ``redis.asyncio``
client whose pool holds ``max_connections=depth`` connections, or ``threads``, ``depth``
threads of the blocking client sharing one ``ConnectionPool`` of as many connections. With 64
senders, 1 KiB entries and 3 s per run on this 2-core machine (2026-11-25 09:30 UTC, four
alternating runs each, load average 1.5-3, redis-py 8.1 with hiredis), ``asyncio`` reached
10,582-11,647 msg/s (p99 11-12 ms) and ``threads`` 5,476-9,549 msg/s (p99 35-43 ms: the 64
threads queue for the GIL), so ``asyncio`` is the default.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

from bench.stats import LatencyHistogram
from bench.workload import (
    Measurement,
    WorkloadParams,
    make_body,
    read_stamp,
    run_concurrent_senders,
)

__all__ = ["CONCURRENCY_MODES", "RedisDriver"]

FIELD = b"d"
READ_COUNT = 1000  # entries per XREAD when consuming a backlog
BLOCK_MS = 100  # XREAD BLOCK timeout of the e2e consumer
CONCURRENCY_MODES = ("asyncio", "threads")
DEFAULT_CONCURRENCY = "asyncio"
SOCKET_TIMEOUT = 10.0  # seconds a blocking client waits for a reply


class RedisDriver:
    """Runs the workloads against the Redis at ``params.address``."""

    system = "redis"

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        host, _, port = params.address.rpartition(":")
        self.host, self.port = host, int(port)
        self.concurrency = params.options.get("concurrency", DEFAULT_CONCURRENCY)
        if self.concurrency not in CONCURRENCY_MODES:
            raise ValueError(
                f"concurrency must be one of {', '.join(CONCURRENCY_MODES)}, "
                f"not {self.concurrency!r}"
            )

    def _client(self) -> Any:
        import redis

        return redis.Redis(host=self.host, port=self.port, socket_timeout=SOCKET_TIMEOUT)

    def send_sync(self) -> dict[str, Any]:
        """XADD one entry at a time."""
        client = self._client()
        body = make_body(self.params.size)
        stream = self.params.topic
        m = Measurement(self.params)
        record = m.latency.record
        perf = time.perf_counter_ns
        m.begin()
        while m.running():
            t0 = perf()
            client.xadd(stream, {FIELD: body})
            record((perf() - t0) / 1000)
            m.messages += 1
        m.end()
        client.close()
        return m.result(self.system)

    def send_concurrent(self) -> dict[str, Any]:
        """``depth`` senders, each awaiting its XADD's reply before the next (see the module
        docstring for the ``concurrency`` option)."""
        if self.concurrency == "threads":
            result = self._send_concurrent_threads()
        else:
            result = asyncio.run(self._send_concurrent_asyncio())
        result.setdefault("notes", {})["concurrency"] = self.concurrency
        return result

    async def _send_concurrent_asyncio(self) -> dict[str, Any]:
        import redis.asyncio as aioredis

        params = self.params
        pool = aioredis.ConnectionPool(
            host=self.host,
            port=self.port,
            max_connections=params.depth,
            socket_timeout=SOCKET_TIMEOUT,
        )
        client: Any = aioredis.Redis(connection_pool=pool)
        stream, body = params.topic, make_body(params.size)
        m = Measurement(params)

        async def send() -> bool:
            await client.xadd(stream, {FIELD: body})
            return True

        try:
            # Every sender gets a connected connection before the clock starts.
            await asyncio.gather(*(client.ping() for _ in range(params.depth)))
            await run_concurrent_senders(m, send)
        finally:
            await client.aclose()
            await pool.disconnect()
        return m.result(self.system)

    def _send_concurrent_threads(self) -> dict[str, Any]:
        import redis

        params = self.params
        pool = redis.ConnectionPool(
            host=self.host,
            port=self.port,
            max_connections=params.depth,
            socket_timeout=SOCKET_TIMEOUT,
        )
        client = redis.Redis(connection_pool=pool)
        stream, body = params.topic, make_body(params.size)
        m = Measurement(params)
        issued = itertools.count(1)  # next() is atomic under the GIL
        merge = threading.Lock()

        def sender() -> None:
            latency = LatencyHistogram()
            sent = errors = 0
            perf = time.perf_counter_ns
            while time.monotonic() < m.deadline and not params.limit_reached(next(issued) - 1):
                t0 = perf()
                try:
                    client.xadd(stream, {FIELD: body})
                except redis.RedisError:
                    errors += 1
                    continue
                latency.record((perf() - t0) / 1000)
                sent += 1
            with merge:
                m.messages += sent
                m.errors += errors
                m.latency.merge(latency)

        client.ping()
        threads = [threading.Thread(target=sender, daemon=True) for _ in range(params.depth)]
        m.begin()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        m.end()
        m.notes["senders"] = params.depth
        pool.disconnect()
        return m.result(self.system)

    def send_pipelined(self) -> dict[str, Any]:
        """XADD in non-transactional pipelines of ``depth`` entries."""
        client = self._client()
        body = make_body(self.params.size)
        stream, depth = self.params.topic, self.params.depth
        m = Measurement(self.params)
        perf = time.perf_counter_ns
        m.begin()
        while m.running():
            pipe = client.pipeline(transaction=False)
            for _ in range(depth):
                pipe.xadd(stream, {FIELD: body})
            t0 = perf()
            pipe.execute()
            m.latency.record((perf() - t0) / 1000)
            m.messages += depth
        m.end()
        m.notes["pipeline"] = depth
        client.close()
        return m.result(self.system)

    def send_durable(self) -> dict[str, Any]:
        """Pipelined XADD against a server with ``appendfsync always``."""
        return self.send_pipelined()

    def consume(self) -> dict[str, Any]:
        """XREAD the stream from its start in chunks of 1,000 until drained."""
        client = self._client()
        stream = self.params.topic
        backlog = client.xlen(stream)
        last = b"0-0"
        m = Measurement(self.params)
        m.begin()
        while m.running():
            reply = client.xread({stream: last}, count=READ_COUNT)
            if not reply:
                break
            entries = reply[0][1]
            for _entry_id, fields in entries:
                if FIELD not in fields:
                    m.errors += 1
            m.messages += len(entries)
            last = entries[-1][0]
        m.end()
        m.notes["backlog"] = backlog
        client.close()
        return m.result(self.system)

    async def e2e(self) -> dict[str, Any]:
        """Send at ``rate`` msg/s; latency from before XADD to the consumer's XREAD."""
        import redis.asyncio as aioredis

        params = self.params
        producer: Any = aioredis.Redis(host=self.host, port=self.port)
        consumer: Any = aioredis.Redis(host=self.host, port=self.port)
        stream = params.topic + "-e2e"
        info = await producer.xadd(stream, {FIELD: make_body(params.size)})  # the start id
        m = Measurement(params)
        sent = 0
        done = asyncio.Event()

        async def consume() -> None:
            last = info
            while not (done.is_set() and m.messages >= sent):
                reply = await consumer.xread({stream: last}, count=100, block=BLOCK_MS)
                now = time.time_ns()
                if not reply:
                    if done.is_set():
                        break
                    continue
                for entry_id, fields in reply[0][1]:
                    m.latency.record((now - read_stamp(fields[FIELD])) / 1000)
                    m.messages += 1
                    last = entry_id

        reader = asyncio.get_running_loop().create_task(consume())
        interval = 1.0 / params.rate
        loop = asyncio.get_running_loop()
        m.begin()
        next_at = loop.time()
        while m.running() and not params.limit_reached(sent):
            await producer.xadd(stream, {FIELD: make_body(params.size)})
            sent += 1
            next_at += interval
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        done.set()
        try:
            await asyncio.wait_for(reader, timeout=5.0)
        except TimeoutError:
            m.errors += sent - m.messages
        m.end()
        m.notes.update(sent=sent, target_rate=params.rate)
        await producer.aclose()
        await consumer.aclose()
        return m.result(self.system)
