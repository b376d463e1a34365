"""rmq driver: the comparison workloads against ``rmq standalone``.

``params.address`` is the NameServer. Which client does what (the docs repeat this):

- ``send_sync``: the full :class:`rmq_core.client.Producer`, ``await producer.send(msg)`` one
  at a time (what an application does);
- ``send_concurrent``: one full ``Producer`` shared by ``depth`` asyncio tasks, each
  ``await producer.send(msg)`` one at a time (``rmq bench producer -w 64 -m sync``, RocketMQ's
  benchmark ``Producer`` with its 64 threads);
- ``send_pipelined`` / ``send_durable``: by default the lean producer of
  :mod:`bench.rmq_raw` (``SEND_BATCH_MESSAGE`` of ``depth`` messages, ``window`` batches in
  flight, over one connection); option ``client=full`` uses ``Producer.send_batch`` instead;
- ``consume``: by default :class:`bench.rmq_raw.RawPuller` (one pull in flight per queue,
  records decoded by the client's record decoder, but lazily: no message's properties are
  parsed, since the workload only counts the messages), a lighter client than the shipped ones
  (``PushConsumer`` and ``LitePullConsumer`` parse every message's properties); option
  ``client=full`` uses :class:`rmq_core.client.LitePullConsumer`;
- ``e2e``: the full ``Producer`` and a :class:`rmq_core.client.PushConsumer` in one process;
  by default its listener is an ``async`` function (run on the client's event loop, as the
  peers' asyncio consumers run), option ``listener=thread`` makes it a plain function run in
  the consumer's thread pool (one thread hop more per pull).

Options (``--option key=value``): ``queues`` (topic queues, default 8), ``client``
(``raw``/``full``), ``pull_batch`` (messages per pull, default 32), ``listener``
(``async``/``thread``, e2e only).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bench.engine import SendOutcome, drive_sends
from bench.rmq_raw import RawProducer, RawPuller, ensure_topic
from bench.stats import SendStats
from bench.workload import (
    Measurement,
    WorkloadParams,
    make_body,
    read_stamp,
    run_concurrent_senders,
)
from rmq_core.remoting.client import RemotingClient

__all__ = ["RmqDriver"]

DEFAULT_QUEUES = 8
CONSUMER_GROUP = "BenchConsumer"


class RmqDriver:
    """Runs the workloads against the rmq NameServer at ``params.address``."""

    system = "rmq"

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        options = params.options
        self.queues = int(options.get("queues", DEFAULT_QUEUES))
        self.client = options.get("client", "raw")
        if self.client not in ("raw", "full"):
            raise ValueError(f"client must be raw or full, not {self.client!r}")
        self.pull_batch = int(options.get("pull_batch", 32))
        self.listener = options.get("listener", "async")
        if self.listener not in ("async", "thread"):
            raise ValueError(f"listener must be async or thread, not {self.listener!r}")

    async def _prepare_topic(self, topic: str) -> None:
        remoting = RemotingClient(name="bench-admin")
        try:
            await ensure_topic(remoting, self.params.address, topic, self.queues)
        finally:
            await remoting.close()

    # --- sends ------------------------------------------------------------------------------

    async def send_sync(self) -> dict[str, Any]:
        """``await Producer.send(msg)`` one message at a time."""
        from rmq_core.client import Message, Producer

        params = self.params
        await self._prepare_topic(params.topic)
        body = make_body(params.size)
        producer = Producer("BenchSyncProducer", params.address)
        await producer.start()
        m = Measurement(params)
        try:
            await producer.send(Message(params.topic, body))  # route lookup, connection
            record = m.latency.record
            perf = time.perf_counter_ns
            m.begin()
            while m.running():
                t0 = perf()
                try:
                    await producer.send(Message(params.topic, body))
                except Exception:
                    m.errors += 1
                    continue
                record((perf() - t0) / 1000)
                m.messages += 1
            m.end()
        finally:
            await producer.shutdown()
        m.notes["client"] = "full"
        return m.result(self.system)

    async def send_concurrent(self) -> dict[str, Any]:
        """``depth`` tasks on one ``Producer``, each awaiting ``producer.send(msg)`` before its
        next; a status other than SEND_OK counts as an error."""
        from rmq_core.client import Message, Producer, SendStatus

        params = self.params
        await self._prepare_topic(params.topic)
        body = make_body(params.size)
        producer = Producer("BenchConcurrentProducer", params.address)
        await producer.start()
        m = Measurement(params)

        async def send() -> bool:
            result = await producer.send(Message(params.topic, body))
            return result.status is SendStatus.SEND_OK

        try:
            await producer.send(Message(params.topic, body))  # route lookup, connection
            await run_concurrent_senders(m, send)
        finally:
            await producer.shutdown()
        m.notes["client"] = "full"
        return m.result(self.system)

    async def send_pipelined(self) -> dict[str, Any]:
        """Batches of ``depth`` messages, ``window`` batches in flight."""
        params = self.params
        await self._prepare_topic(params.topic)
        if self.client == "full":
            return await self._send_pipelined_full()
        body = make_body(params.size)
        bodies = [body] * params.depth
        producer = RawProducer(params.address, params.topic)
        await producer.start()
        stats = SendStats()
        m = Measurement(params)
        try:
            await producer.send([body])  # warm the connection
            stats.started = time.monotonic()
            m.begin()
            await drive_sends(
                lambda: producer.send(bodies),
                stats,
                batch=params.depth,
                tasks=1,
                window=params.window,
                should_run=lambda: time.monotonic() < m.deadline,
                max_messages=params.max_messages,
            )
            m.end()
        finally:
            await producer.close()
        return self._send_result(m, stats, "raw")

    async def _send_pipelined_full(self) -> dict[str, Any]:
        from rmq_core.client import Message, Producer

        params = self.params
        body = make_body(params.size)
        producer = Producer("BenchBatchProducer", params.address)
        await producer.start()
        stats = SendStats()
        m = Measurement(params)

        async def send_once() -> SendOutcome:
            msgs = [Message(params.topic, body) for _ in range(params.depth)]
            await producer.send_batch(msgs)
            return SendOutcome(len(msgs))

        try:
            await producer.send(Message(params.topic, body))
            stats.started = time.monotonic()
            m.begin()
            await drive_sends(
                send_once,
                stats,
                batch=params.depth,
                tasks=1,
                window=params.window,
                should_run=lambda: time.monotonic() < m.deadline,
                max_messages=params.max_messages,
            )
            m.end()
        finally:
            await producer.shutdown()
        return self._send_result(m, stats, "full")

    def _send_result(self, m: Measurement, stats: SendStats, client: str) -> dict[str, Any]:
        m.messages = stats.sent
        m.errors = stats.send_failed + stats.response_failed
        m.latency = stats.rt
        m.notes.update(client=client, batch=self.params.depth, window=self.params.window)
        result = m.result(self.system)
        result["latency_unit"] = "per batch"
        return result

    async def send_durable(self) -> dict[str, Any]:
        """The pipelined workload against a SYNC_FLUSH broker."""
        return await self.send_pipelined()

    # --- consume ----------------------------------------------------------------------------

    async def consume(self) -> dict[str, Any]:
        """Read every queue of the topic from offset 0 until drained or the deadline."""
        params = self.params
        if self.client == "full":
            return await self._consume_full()
        remoting = RemotingClient(name="bench-raw-consumer")
        m = Measurement(params)
        try:
            route = await ensure_topic(remoting, params.address, params.topic, self.queues)
            puller = RawPuller(
                remoting, route, params.topic, CONSUMER_GROUP, max_msg_nums=self.pull_batch
            )

            async def drain(queue_id: int) -> None:
                offset = 0
                while m.running():
                    msgs, offset = await puller.pull(queue_id, offset)
                    if not msgs:
                        return
                    m.messages += len(msgs)

            m.begin()
            await asyncio.gather(*(drain(q) for q in range(route.read_queues)))
            m.end()
        finally:
            await remoting.close()
        m.notes.update(client="raw", pull_batch=self.pull_batch)
        return m.result(self.system)

    async def _consume_full(self) -> dict[str, Any]:
        from rmq_core.client import ConsumeFromWhere, LitePullConsumer

        params = self.params
        consumer = LitePullConsumer(
            f"{CONSUMER_GROUP}Full",
            params.address,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            pull_batch_size=self.pull_batch,
        )
        consumer.subscribe(params.topic)
        m = Measurement(params)
        await consumer.start()
        try:
            m.begin()
            idle_polls = 0
            while m.running() and idle_polls < 3:
                msgs = await consumer.poll(1.0)
                if msgs:
                    idle_polls = 0
                    m.messages += len(msgs)
                elif m.messages:
                    idle_polls += 1
            m.end()
        finally:
            await consumer.shutdown()
        m.notes.update(client="full", pull_batch=self.pull_batch)
        return m.result(self.system)

    # --- end to end -------------------------------------------------------------------------

    async def e2e(self) -> dict[str, Any]:
        """Send at ``rate`` msg/s with the Producer; latency to the PushConsumer's listener."""
        from rmq_core.client import ConsumeFromWhere, ConsumeStatus, Message, Producer, PushConsumer

        params = self.params
        topic = params.topic + "E2E"
        await self._prepare_topic(topic)
        m = Measurement(params)
        received = asyncio.Event()
        loop = asyncio.get_running_loop()

        def listener(msgs: list[Any]) -> ConsumeStatus:
            now = time.time_ns()
            for msg in msgs:
                m.latency.record((now - read_stamp(msg.body)) / 1000)
            m.messages += len(msgs)
            if not received.is_set():  # warm-up only; thread-safe for the thread listener
                loop.call_soon_threadsafe(received.set)
            return ConsumeStatus.CONSUME_SUCCESS

        async def async_listener(msgs: list[Any]) -> ConsumeStatus:
            return listener(msgs)

        consumer = PushConsumer(
            f"{CONSUMER_GROUP}E2E",
            params.address,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
        )
        consumer.subscribe(topic)
        consumer.register_message_listener(async_listener if self.listener == "async" else listener)
        producer = Producer("BenchE2EProducer", params.address)
        await producer.start()
        await consumer.start()
        sent = 0
        try:
            # Warm up until the consumer owns its queues and receives.
            warm_deadline = time.monotonic() + 15.0
            while not received.is_set() and time.monotonic() < warm_deadline:
                await producer.send(Message(topic, make_body(params.size)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(received.wait(), 0.2)
            await asyncio.sleep(0.2)
            m.messages = 0
            m.latency = type(m.latency)()
            interval = 1.0 / params.rate
            m.begin()
            next_at = loop.time()
            while time.monotonic() < m.deadline and not params.limit_reached(sent):
                try:
                    await producer.send(Message(topic, make_body(params.size)))
                    sent += 1
                except Exception:
                    m.errors += 1
                next_at += interval
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            drain_deadline = time.monotonic() + 5.0
            while m.messages < sent and time.monotonic() < drain_deadline:
                await asyncio.sleep(0.01)
            m.end()
        finally:
            await consumer.shutdown()
            await producer.shutdown()
        m.notes.update(sent=sent, target_rate=params.rate, client="full", listener=self.listener)
        if m.messages < sent:
            m.errors += sent - m.messages
        return m.result(self.system)
