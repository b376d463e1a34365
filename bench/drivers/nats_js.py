"""NATS JetStream driver (nats-py): a file-storage stream ``BENCH`` on subject ``bench.<topic>``.

- ``send_sync``: ``await js.publish()`` (waits for the stream's ack) one at a time;
- ``send_concurrent``: ``depth`` asyncio tasks on one connection, each ``await js.publish()``;
- ``send_pipelined``: ``js.publish_async()`` with up to ``depth`` acks outstanding;
- ``consume``: an ordered push consumer (the fastest nats-py path) from the first message;
- ``e2e``: a push subscription and paced ``js.publish``.

nats-server 2.9 (Debian 12) has no option to fsync each write (``sync_interval: always`` came
with 2.10), so ``send_durable`` reports that instead of a figure.
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

__all__ = ["NatsDriver"]

STREAM = "BENCH"


class NatsDriver:
    """Runs the workloads against the NATS server at ``params.address``."""

    system = "nats"

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        self.url = f"nats://{params.address}"

    def _subject(self, suffix: str = "") -> str:
        return f"bench.{self.params.topic}{suffix}"

    async def _connect(self, suffix: str = "") -> tuple[Any, Any]:
        import nats

        nc = await nats.connect(self.url, connect_timeout=10, max_reconnect_attempts=0)
        js = nc.jetstream(timeout=10, publish_async_max_pending=max(4000, self.params.depth))
        name = STREAM + suffix.replace(".", "_").upper()
        try:
            await js.stream_info(name)
        except Exception:
            await js.add_stream(name=name, subjects=[self._subject(suffix)], storage="file")
        return nc, js

    async def send_sync(self) -> dict[str, Any]:
        """Publish one message at a time, awaiting each ack."""
        nc, js = await self._connect()
        body = make_body(self.params.size)
        subject = self._subject()
        m = Measurement(self.params)
        perf = time.perf_counter_ns
        m.begin()
        while m.running():
            t0 = perf()
            await js.publish(subject, body)
            m.latency.record((perf() - t0) / 1000)
            m.messages += 1
        m.end()
        await nc.close()
        return m.result(self.system)

    async def send_concurrent(self) -> dict[str, Any]:
        """``depth`` tasks, each awaiting the ack of its ``js.publish()`` before its next."""
        nc, js = await self._connect()
        body = make_body(self.params.size)
        subject = self._subject()
        m = Measurement(self.params)

        async def send() -> bool:
            await js.publish(subject, body)
            return True

        try:
            await run_concurrent_senders(m, send)
        finally:
            await nc.close()
        return m.result(self.system)

    async def send_pipelined(self) -> dict[str, Any]:
        """``publish_async`` with at most ``depth`` acks outstanding."""
        nc, js = await self._connect()
        body = make_body(self.params.size)
        subject = self._subject()
        m = Measurement(self.params)
        acked = 0
        failed = 0

        def done(future: asyncio.Future[Any]) -> None:
            nonlocal acked, failed
            if future.cancelled() or future.exception() is not None:
                failed += 1
            else:
                acked += 1

        m.begin()
        issued = 0
        while m.running() and not self.params.limit_reached(issued):
            future = await js.publish_async(subject, body)
            future.add_done_callback(done)
            issued += 1
        await asyncio.wait_for(js.publish_async_completed(), timeout=30)
        m.end()
        m.messages, m.errors = acked, failed
        m.notes["max_pending"] = self.params.depth
        await nc.close()
        return m.result(self.system)

    async def send_durable(self) -> dict[str, Any]:
        """Not measurable on nats-server 2.9: say so."""
        m = Measurement(self.params)
        m.begin()
        m.end()
        result = m.result(self.system)
        result["unsupported"] = (
            "nats-server 2.9 cannot fsync each write (sync_interval: always needs 2.10)"
        )
        return result

    async def consume(self) -> dict[str, Any]:
        """An ordered push consumer from the first message until the backlog is read."""
        nc, js = await self._connect()
        info = await js.stream_info(STREAM)
        backlog = info.state.messages
        m = Measurement(self.params)
        finished = asyncio.Event()

        async def on_message(msg: Any) -> None:
            m.messages += 1
            if m.messages >= backlog or not m.running():
                finished.set()

        m.begin()
        sub = await js.subscribe(
            self._subject(), cb=on_message, ordered_consumer=True, deliver_policy="all"
        )
        if backlog:
            remaining = max(0.0, m.deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), remaining)
        m.end()
        await sub.unsubscribe()
        await nc.close()
        m.notes["backlog"] = backlog
        return m.result(self.system)

    async def e2e(self) -> dict[str, Any]:
        """Paced ``js.publish``; latency to a push subscription's callback."""
        params = self.params
        nc, js = await self._connect(".e2e")
        subject = self._subject(".e2e")
        m = Measurement(params)

        async def on_message(msg: Any) -> None:
            m.latency.record((time.time_ns() - read_stamp(msg.data)) / 1000)
            m.messages += 1

        sub = await js.subscribe(subject, cb=on_message, deliver_policy="new")
        loop = asyncio.get_running_loop()
        interval = 1.0 / params.rate
        sent = 0
        m.begin()
        next_at = loop.time()
        while time.monotonic() < m.deadline and not params.limit_reached(sent):
            await js.publish(subject, make_body(params.size))
            sent += 1
            next_at += interval
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        drain = time.monotonic() + 5.0
        while m.messages < sent and time.monotonic() < drain:
            await asyncio.sleep(0.01)
        m.end()
        await sub.unsubscribe()
        await nc.close()
        m.errors = max(0, sent - m.messages)
        m.notes.update(sent=sent, target_rate=params.rate)
        return m.result(self.system)
