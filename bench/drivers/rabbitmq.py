"""RabbitMQ driver (aio-pika): a classic queue on the default exchange, publisher confirms.

Asynchronous durability maps to a non-durable queue with transient messages (confirmed once
in memory); ``send_durable`` uses a durable queue and persistent messages, which RabbitMQ
confirms only after writing them to disk (fsync batched across publishers).

- ``send_sync``: publish and await each confirm;
- ``send_concurrent``: ``depth`` asyncio tasks on one confirming channel, each publishing and
  awaiting its confirm before its next publish;
- ``send_pipelined`` / ``send_durable``: up to ``depth`` unconfirmed publishes;
- ``consume``: ``basic.consume`` with ``no_ack`` and a prefetch of 1,000 until the queue is
  drained;
- ``e2e``: paced confirmed publishes, latency to the consumer callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bench.workload import (
    Measurement,
    WorkloadParams,
    make_body,
    read_stamp,
    run_concurrent_senders,
)

__all__ = ["RabbitDriver"]

PREFETCH = 1000
CONFIRM_TIMEOUT = 10.0  # seconds a concurrent sender waits for its publish's confirm


class RabbitDriver:
    """Runs the workloads against the RabbitMQ node at ``params.address``."""

    system = "rabbitmq"

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        self.url = f"amqp://guest:guest@{params.address}/"

    async def _open(self, queue: str, *, durable: bool) -> tuple[Any, Any, Any]:
        import aio_pika

        connection = await aio_pika.connect(self.url, timeout=10)
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=durable)
        return connection, channel, aio_pika

    def _message(self, aio_pika: Any, body: bytes, durable: bool) -> Any:
        mode = aio_pika.DeliveryMode.PERSISTENT if durable else aio_pika.DeliveryMode.NOT_PERSISTENT
        return aio_pika.Message(body, delivery_mode=mode)

    async def send_sync(self) -> dict[str, Any]:
        """Publish and await each confirm."""
        connection, channel, aio_pika = await self._open(self.params.topic, durable=False)
        exchange = channel.default_exchange
        body = make_body(self.params.size)
        m = Measurement(self.params)
        perf = time.perf_counter_ns
        m.begin()
        while m.running():
            t0 = perf()
            await exchange.publish(self._message(aio_pika, body, False), self.params.topic)
            m.latency.record((perf() - t0) / 1000)
            m.messages += 1
        m.end()
        await connection.close()
        return m.result(self.system)

    async def send_concurrent(self) -> dict[str, Any]:
        """``depth`` tasks on one channel, each awaiting its publish's confirm before its next."""
        queue = self.params.topic
        connection, channel, aio_pika = await self._open(queue, durable=False)
        exchange = channel.default_exchange
        body = make_body(self.params.size)
        m = Measurement(self.params)

        async def send() -> bool:
            await exchange.publish(
                self._message(aio_pika, body, False), queue, timeout=CONFIRM_TIMEOUT
            )
            return True

        try:
            await run_concurrent_senders(m, send)
        finally:
            await connection.close()
        return m.result(self.system)

    async def _pipelined(self, queue: str, durable: bool) -> dict[str, Any]:
        connection, channel, aio_pika = await self._open(queue, durable=durable)
        exchange = channel.default_exchange
        body = make_body(self.params.size)
        m = Measurement(self.params)
        slots = asyncio.Semaphore(self.params.depth)
        pending: set[asyncio.Task[Any]] = set()
        failed = 0

        def done(task: asyncio.Task[Any]) -> None:
            nonlocal failed
            pending.discard(task)
            slots.release()
            if task.cancelled() or task.exception() is not None:
                failed += 1
            else:
                m.messages += 1

        loop = asyncio.get_running_loop()
        issued = 0
        m.begin()
        while time.monotonic() < m.deadline and not self.params.limit_reached(issued):
            await slots.acquire()
            task = loop.create_task(exchange.publish(self._message(aio_pika, body, durable), queue))
            pending.add(task)
            task.add_done_callback(done)
            issued += 1
        if pending:
            await asyncio.wait(set(pending), timeout=30)
        m.end()
        m.errors = failed
        m.notes["max_unconfirmed"] = self.params.depth
        await connection.close()
        return m.result(self.system)

    async def send_pipelined(self) -> dict[str, Any]:
        """Up to ``depth`` unconfirmed transient publishes to a non-durable queue."""
        return await self._pipelined(self.params.topic, durable=False)

    async def send_durable(self) -> dict[str, Any]:
        """Up to ``depth`` unconfirmed persistent publishes to a durable queue."""
        return await self._pipelined(self.params.topic + ".durable", durable=True)

    async def consume(self) -> dict[str, Any]:
        """Drain the queue with ``no_ack`` and a prefetch of 1,000."""
        connection, channel, _ = await self._open(self.params.topic, durable=False)
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.declare_queue(self.params.topic, durable=False)
        backlog = queue.declaration_result.message_count
        m = Measurement(self.params)
        finished = asyncio.Event()

        async def on_message(message: Any) -> None:
            m.messages += 1
            if m.messages >= backlog or not m.running():
                finished.set()

        m.begin()
        tag = await queue.consume(on_message, no_ack=True)
        if backlog:
            remaining = max(0.0, m.deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), remaining)
        m.end()
        await queue.cancel(tag)
        await connection.close()
        m.notes["backlog"] = backlog
        return m.result(self.system)

    async def e2e(self) -> dict[str, Any]:
        """Paced confirmed publishes; latency to the consumer callback."""
        params = self.params
        name = params.topic + ".e2e"
        connection, channel, aio_pika = await self._open(name, durable=False)
        queue = await channel.declare_queue(name, durable=False)
        m = Measurement(params)

        async def on_message(message: Any) -> None:
            m.latency.record((time.time_ns() - read_stamp(message.body)) / 1000)
            m.messages += 1

        tag = await queue.consume(on_message, no_ack=True)
        exchange = channel.default_exchange
        loop = asyncio.get_running_loop()
        interval = 1.0 / params.rate
        sent = 0
        m.begin()
        next_at = loop.time()
        while time.monotonic() < m.deadline and not params.limit_reached(sent):
            await exchange.publish(self._message(aio_pika, make_body(params.size), False), name)
            sent += 1
            next_at += interval
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        drain = time.monotonic() + 5.0
        while m.messages < sent and time.monotonic() < drain:
            await asyncio.sleep(0.01)
        m.end()
        await queue.cancel(tag)
        await connection.close()
        m.errors = max(0, sent - m.messages)
        m.notes.update(sent=sent, target_rate=params.rate)
        return m.result(self.system)
