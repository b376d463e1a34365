"""Producer behaviour against scripted brokers: retries, compression, ids, errors."""

# ruff: noqa: SIM117  (nested async-with keeps "after shutdown" assertions readable)

from __future__ import annotations

import asyncio
import socket
import time
import zlib
from typing import Any

import pytest

from rmq_core.client.message_queue import MessageQueue
from rmq_core.client.producer import Producer
from rmq_core.client.results import SendStatus
from rmq_core.client.selector import SelectMessageQueueByHash
from rmq_core.common.message import Message
from rmq_core.common.message_codec import decode_batch, decode_properties
from rmq_core.errors import (
    ClientError,
    MessageIllegalError,
    RemotingConnectError,
    RemotingError,
    RequestTimeoutError,
    SystemBusyError,
    TopicNotExistError,
)
from rmq_core.remoting.codes import RequestCode, ResponseCode

TOPIC = "TopicTest"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def producer(namesrv: Any, **options: object) -> Producer:
    addr = namesrv if isinstance(namesrv, str) else namesrv.address
    options.setdefault("instance_name", f"p{free_port()}")
    return Producer("PG", addr, **options)  # type: ignore[arg-type]


def run(coro) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(asyncio.wait_for(coro, 30))


def test_send_sets_uniq_key_v2_header_and_result(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a") as (namesrv, (broker,)):
            async with producer(namesrv) as p:
                msg = Message(TOPIC, b"hello")
                msg.tags = "TagA"
                msg.keys = ["k1", "k2"]
                result = await p.send(msg)
            assert result.status is SendStatus.SEND_OK
            assert result.msg_id == msg.unique_key and len(result.msg_id) == 32
            assert len(result.offset_msg_id) == 32
            assert result.message_queue.broker_name == "broker-a"
            code, header, sent = broker.sends[0]
            assert code == RequestCode.SEND_MESSAGE_V2
            assert (header.producer_group, header.topic, header.default_topic) == (
                "PG",
                TOPIC,
                "TBW102",
            )
            props = decode_properties(header.properties)
            assert props["TAGS"] == "TagA" and props["KEYS"] == "k1 k2"
            assert props["UNIQ_KEY"] == result.msg_id
            assert sent == b"hello" and header.sys_flag == 0
            assert broker.heartbeats and broker.heartbeats[0]["producerDataSet"]
            assert broker.unregisters == 1

    run(body())


def test_big_bodies_are_compressed_with_the_sysflag_bit(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a") as (namesrv, (broker,)):
            async with producer(namesrv) as p:
                payload = b"0123456789abcdef" * 512  # 8 KiB
                msg = Message(TOPIC, payload)
                await p.send(msg)
                await p.send(Message(TOPIC, b"x" * 4095))
            _, header, sent = broker.sends[0]
            assert header.sys_flag & 0x1 and zlib.decompress(sent) == payload
            assert msg.body == payload  # the caller's message is untouched
            assert broker.sends[1][1].sys_flag == 0

    run(body())


def test_round_robin_and_retry_on_another_broker(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a", "broker-b") as (namesrv, (a, b)):
            a.reply_code = ResponseCode.SYSTEM_BUSY
            async with producer(namesrv) as p:
                for _ in range(6):
                    result = await p.send(Message(TOPIC, b"m"))
                    assert result.message_queue.broker_name == "broker-b"
            # broker-a was tried at most once: afterwards it is isolated as faulty.
            assert len(a.sends) <= 1
            assert len(b.sends) == 6

    run(body())


def test_non_retriable_broker_error_is_raised_at_once(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a", "broker-b") as (namesrv, brokers):
            for broker in brokers:
                broker.reply_code = ResponseCode.MESSAGE_ILLEGAL
            async with producer(namesrv) as p:
                with pytest.raises(MessageIllegalError) as info:
                    await p.send(Message(TOPIC, b"m"))
            assert "TopicTest" in str(info.value)
            assert sum(len(b.sends) for b in brokers) == 1

    run(body())


def test_all_attempts_fail_raises_retriable_error_naming_brokers(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a", "broker-b") as (namesrv, brokers):
            for broker in brokers:
                broker.reply_code = ResponseCode.SYSTEM_BUSY
            async with producer(namesrv, retry_times_when_send_failed=2) as p:
                with pytest.raises(SystemBusyError) as info:
                    await p.send(Message(TOPIC, b"m"))
            assert info.value.retriable
            assert "broker-a" in str(info.value) and "broker-b" in str(info.value)
            assert sum(len(b.sends) for b in brokers) == 3

    run(body())


def test_broker_disappearing_fails_over_then_reconnects_when_back(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a", "broker-b") as (namesrv, (a, b)):
            async with producer(namesrv, send_latency_fault_enable=False) as p:
                await p.send(Message(TOPIC, b"warm-up"))
                await b.stop()
                for _ in range(4):
                    result = await p.send(Message(TOPIC, b"m"))
                    assert result.message_queue.broker_name == "broker-a"
                await a.stop()
                with pytest.raises(RemotingError) as info:
                    await p.send(Message(TOPIC, b"m"))
                assert info.value.retriable and "broker-" in str(info.value)
                await a.start()  # same port: the client reconnects on its own
                result = await p.send(Message(TOPIC, b"back"), MessageQueue(TOPIC, "broker-a", 0))
                assert result.status is SendStatus.SEND_OK

    run(body())


def test_selector_and_explicit_queue_make_a_single_attempt(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a", "broker-b") as (namesrv, (a, b)):
            async with producer(namesrv) as p:
                queues = await p.fetch_publish_message_queues(TOPIC)
                assert len(queues) == 8
                chosen = set()
                for _ in range(3):
                    result = await p.send(
                        Message(TOPIC, b"o"), selector=SelectMessageQueueByHash(), arg="order-1"
                    )
                    chosen.add(result.message_queue)
                assert len(chosen) == 1
                a.reply_code = b.reply_code = ResponseCode.SYSTEM_BUSY
                before = len(a.sends) + len(b.sends)
                with pytest.raises(SystemBusyError):
                    await p.send(Message(TOPIC, b"o"), selector=SelectMessageQueueByHash(), arg=1)
                assert len(a.sends) + len(b.sends) == before + 1
                with pytest.raises(ClientError):
                    await p.send(Message(TOPIC, b"o"), MessageQueue("Other", "broker-a", 0))

    run(body())


def test_async_send_callbacks_oneway_and_batch(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a") as (namesrv, (broker,)):
            async with producer(namesrv) as p:
                got: list[object] = []

                async def on_success(result: object) -> None:
                    got.append(result)

                task = p.send_async(Message(TOPIC, b"a"), on_success, got.append)
                result = await task
                await asyncio.sleep(0.05)
                assert got == [result]
                await p.send_oneway(Message(TOPIC, b"one-way"))
                msgs = [Message(TOPIC, f"b{i}".encode()) for i in range(3)]
                batch_result = await p.send_batch(msgs)
                assert batch_result.msg_id == ",".join(m.unique_key or "" for m in msgs)
                for _ in range(50):
                    if len(broker.sends) == 3:
                        break
                    await asyncio.sleep(0.02)
            codes = [code for code, _, _ in broker.sends]
            assert codes == [
                RequestCode.SEND_MESSAGE_V2,
                RequestCode.SEND_MESSAGE_V2,
                RequestCode.SEND_BATCH_MESSAGE,
            ]
            _, header, batch_body = broker.sends[2]
            assert header.batch is True
            assert [m.body for m in decode_batch(batch_body, TOPIC)] == [b"b0", b"b1", b"b2"]
            with pytest.raises(ClientError):
                await p.send_batch([])

    run(body())


def test_bad_input_errors(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a") as (namesrv, _):
            p = producer(namesrv, max_message_size=1024)
            with pytest.raises(ClientError, match="not running"):
                await p.send(Message(TOPIC, b"x"))
            async with p:
                with pytest.raises(MessageIllegalError, match="over the limit"):
                    await p.send(Message(TOPIC, b"x" * 2000))
                with pytest.raises(MessageIllegalError):
                    await p.send(Message(TOPIC, b""))
                with pytest.raises(ClientError, match="illegal characters"):
                    await p.send(Message("bad topic!", b"x"))
                with pytest.raises(TopicNotExistError, match="NoSuchTopic"):
                    await p.send(Message("NoSuchTopic", b"x"))
            with pytest.raises(ClientError, match="not running"):
                await p.send(Message(TOPIC, b"x"))
        with pytest.raises(ClientError, match="illegal characters"):
            Producer("bad group!", "127.0.0.1:1")
        with pytest.raises(ClientError, match="unknown"):
            Producer("PG", "127.0.0.1:1", no_such_option=1)

    run(body())


def test_namesrv_failover_and_namesrv_down(fake_cluster: Any) -> None:
    async def body() -> None:
        dead = f"127.0.0.1:{free_port()}"
        async with fake_cluster("broker-a") as (namesrv, _):
            async with producer(f"{dead};{namesrv.address}") as p:
                result = await p.send(Message(TOPIC, b"x"))
                assert result.status is SendStatus.SEND_OK
        async with producer(dead) as p:
            with pytest.raises(RemotingConnectError) as info:
                await p.send(Message(TOPIC, b"x"))
            assert dead in str(info.value) and info.value.retriable

    run(body())


def test_large_bodies_are_compressed_once_in_a_worker_thread(
    fake_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 300 KiB body is deflated off the loop, and only once across retries."""
    threaded: list[str] = []
    real_to_thread = asyncio.to_thread

    async def spy(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        threaded.append(getattr(func, "__name__", repr(func)))
        return await real_to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", spy)

    async def body() -> None:
        async with fake_cluster("broker-a", "broker-b") as (namesrv, (a, b)):
            a.reply_code = b.reply_code = ResponseCode.SYSTEM_BUSY
            payload = bytes(range(256)) * 1200  # 300 KiB
            async with producer(namesrv) as p:
                with pytest.raises(SystemBusyError):
                    await p.send(Message(TOPIC, payload))
                attempts = len(a.sends) + len(b.sends)
                assert attempts == 3
                assert threaded.count("compress") == 1
                a.reply_code = ResponseCode.SUCCESS
                b.reply_code = ResponseCode.SUCCESS
                await p.send(Message(TOPIC, b"y" * 5000))  # compressed, but on the loop
                assert threaded.count("compress") == 1
            sent = [body for _, _, body in a.sends + b.sends]
            assert all(zlib.decompress(s) in (payload, b"y" * 5000) for s in sent)

    run(body())


def test_send_async_back_pressure_on_count(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a") as (namesrv, (broker,)):
            broker.hold = asyncio.Event()
            async with producer(namesrv, max_async_inflight=3) as p:
                tasks = [p.send_async(Message(TOPIC, f"m{i}".encode())) for i in range(3)]
                assert p.async_inflight == (3, 6)
                with pytest.raises(ClientError, match="max_async_inflight=3") as info:
                    p.send_async(Message(TOPIC, b"over"))
                assert info.value.retriable
                with pytest.raises(RequestTimeoutError, match="no room"):
                    await p.wait_async_capacity(0.1)
                waiter = asyncio.ensure_future(p.wait_async_capacity(5.0))
                await asyncio.sleep(0.05)
                assert not waiter.done()
                broker.hold.set()
                await waiter
                tasks.append(p.send_async(Message(TOPIC, b"after")))
                results = await asyncio.gather(*tasks)
                assert all(r.status is SendStatus.SEND_OK for r in results)
                assert p.async_inflight == (0, 0)
            assert len(broker.sends) == 4

    run(body())


def test_send_async_back_pressure_on_bytes_and_bad_limits(fake_cluster: Any) -> None:
    async def body() -> None:
        async with fake_cluster("broker-a") as (namesrv, (broker,)):
            broker.hold = asyncio.Event()
            async with producer(namesrv, max_async_inflight_bytes=1000) as p:
                first = p.send_async(Message(TOPIC, b"a" * 600))
                second = p.send_async(Message(TOPIC, b"b" * 600))  # 600 < 1000: accepted
                with pytest.raises(ClientError, match="1200 body bytes"):
                    p.send_async(Message(TOPIC, b"c"))
                broker.hold.set()
                await asyncio.gather(first, second)
                await p.wait_async_capacity(1.0)
            with pytest.raises(ClientError, match="at least 1"):
                producer(namesrv, max_async_inflight=0)

    run(body())


def test_blocking_facade_waits_for_async_capacity(fake_cluster: Any) -> None:
    """The thread calling the blocking send_async waits for room, up to the send timeout."""
    from rmq_core.client.sync import Producer as BlockingProducer

    async def body() -> None:
        async with fake_cluster("broker-a") as (namesrv, (broker,)):
            broker.hold = asyncio.Event()
            facade = BlockingProducer(
                "PG", namesrv.address, instance_name=f"p{free_port()}", max_async_inflight=1
            )
            await asyncio.to_thread(facade.start)
            try:
                bad = await asyncio.to_thread(facade.send_async, Message("bad topic!", b"x"))
                with pytest.raises(ClientError, match="illegal characters"):
                    bad.result(0)  # validation errors arrive through the future
                first = await asyncio.to_thread(facade.send_async, Message(TOPIC, b"1"))
                began = time.monotonic()
                second = await asyncio.to_thread(
                    facade.send_async, Message(TOPIC, b"2"), timeout=0.2
                )
                assert time.monotonic() - began >= 0.15  # the caller was held back
                with pytest.raises(RequestTimeoutError, match="no room"):
                    second.result(0)
                blocked = asyncio.ensure_future(
                    asyncio.to_thread(facade.send_async, Message(TOPIC, b"3"), timeout=5.0)
                )
                await asyncio.sleep(0.1)
                assert not blocked.done()
                broker.hold.set()
                third = await blocked
                results = await asyncio.to_thread(lambda: [first.result(5.0), third.result(5.0)])
                assert [r.status for r in results] == [SendStatus.SEND_OK] * 2
            finally:
                await asyncio.to_thread(facade.shutdown)

    run(body())
