"""Redis Streams driver (redis-py): XADD to send, XREAD to consume.

Each workload uses redis-py the fastest way it offers for that pattern: the blocking client
for one-at-a-time sends and consumption, a non-transactional pipeline of ``depth`` XADDs for
pipelined sends, and ``redis.asyncio`` for the end-to-end latency run (a producer task and a
consumer task blocked in ``XREAD BLOCK``). A message is one stream entry with one field
``d`` holding the body. "Durable" means the server runs with ``appendfsync always``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.workload import Measurement, WorkloadParams, make_body, read_stamp

__all__ = ["RedisDriver"]

FIELD = b"d"
READ_COUNT = 1000  # entries per XREAD when consuming a backlog
BLOCK_MS = 100  # XREAD BLOCK timeout of the e2e consumer


class RedisDriver:
    """Runs the workloads against the Redis at ``params.address``."""

    system = "redis"

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        host, _, port = params.address.rpartition(":")
        self.host, self.port = host, int(port)

    def _client(self) -> Any:
        import redis

        return redis.Redis(host=self.host, port=self.port, socket_timeout=10)

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
