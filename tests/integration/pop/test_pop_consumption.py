"""Pop consumption end to end: SimpleConsumer against the in-process broker.

Covers per-message acknowledgement out of order, invisible-time expiry with reconsume counts
and the DLQ, invisible-time changes, batch acks, long polling, broker restarts (clean, and
without the pop state file), topic re-creation and bad input on the wire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from rmq_core.admin import AdminClient
from rmq_core.broker.managers.subscription_groups import SubscriptionGroupConfig
from rmq_core.broker.pop.service import POP_STATE_FILE
from rmq_core.broker.pop.state import InFlight
from rmq_core.client import (
    InvalidReceiptHandleError,
    Message,
    MessageExt,
    Producer,
    SimpleConsumer,
)
from rmq_core.common.message_codec import decode_records
from rmq_core.errors import ClientError
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.pop_headers import (
    AckMessageRequestHeader,
    ChangeInvisibleTimeRequestHeader,
    PopMessageRequestHeader,
    pop_retry_topic,
)
from rmq_core.store.results import GetMessageResult, GetMessageStatus
from tests.support.cluster import (
    Cluster,
    running_cluster,
    start_cluster,
    stop_cluster,
    wait_max_offset,
)

TIMEOUT = 60.0


def run(coro: Awaitable[Any], timeout: float = TIMEOUT) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def make_topic(cluster: Cluster, topic: str, queues: int = 2) -> None:
    async with AdminClient(cluster.namesrv_addr) as admin:
        await admin.create_topic(topic, read_queue_nums=queues, write_queue_nums=queues)


async def send(cluster: Cluster, topic: str, bodies: list[bytes], tags: str | None = None) -> None:
    async with Producer(f"P-{topic}", cluster.namesrv_addr) as producer:
        for body in bodies:
            msg = Message(topic, body)
            if tags:
                msg.tags = tags
            await producer.send(msg)


async def receive_all(
    consumer: SimpleConsumer, count: int, *, timeout: float = 10.0, invisible: float = 30.0
) -> list[MessageExt]:
    got: list[MessageExt] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += await consumer.receive(min(32, count - len(got)), invisible, await_duration=0.5)
    return got


def consumer_for(cluster: Cluster, group: str, topic: str, **options: Any) -> SimpleConsumer:
    consumer = SimpleConsumer(group, cluster.namesrv_addr, **options)
    consumer.subscribe(topic)
    return consumer


def test_out_of_order_acks_commit_the_smallest_unacked_offset(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "PopT", queues=1)
            await send(cluster, "PopT", [f"m{i}".encode() for i in range(6)])
            async with consumer_for(cluster, "PopG", "PopT") as consumer:
                msgs = await receive_all(consumer, 6)
                assert sorted(m.body for m in msgs) == [f"m{i}".encode() for i in range(6)]
                assert all(m.topic == "PopT" and m.reconsume_times == 0 for m in msgs)
                by_offset = {m.queue_offset: m for m in msgs}
                for offset in (5, 3, 1):
                    await consumer.ack(by_offset[offset])
                offsets = cluster.broker.context.offsets
                assert offsets.query_offset("PopG", "PopT", 0) == 0
                await consumer.ack(by_offset[0])
                assert offsets.query_offset("PopG", "PopT", 0) == 2
                for offset in (2, 4):
                    await consumer.ack(by_offset[offset])
                assert offsets.query_offset("PopG", "PopT", 0) == 6
                assert await consumer.receive(8, await_duration=0) == []
                with pytest.raises(InvalidReceiptHandleError, match="not current"):
                    await consumer.ack(by_offset[3])

    run(body())


def test_unacked_messages_come_back_counted_then_go_to_the_dlq(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "ExpT", queues=1)
            cluster.broker.context.groups.update_subscription_group_config(
                SubscriptionGroupConfig("ExpG", retry_max_times=2)
            )
            await send(cluster, "ExpT", [b"once", b"never"])
            async with consumer_for(cluster, "ExpG", "ExpT") as consumer:
                first = await receive_all(consumer, 2, invisible=0.5)
                assert {m.body for m in first} == {b"once", b"never"}
                for m in first:
                    if m.body == b"once":
                        await consumer.ack(m)
                seen = []
                for attempt in (1, 2):
                    again = await receive_all(consumer, 1, invisible=0.5, timeout=8)
                    assert [m.body for m in again] == [b"never"]
                    assert again[0].reconsume_times == attempt and again[0].topic == "ExpT"
                    seen.append(again[0].reconsume_times)
                # the third expiry exceeds retryMaxTimes=2: the message goes to the DLQ
                await asyncio.sleep(1.5)
                assert await consumer.receive(4, await_duration=0.5) == []
                store = cluster.broker.context.store
                assert store.get_max_offset_in_queue("%DLQ%ExpG", 0) == 1
                result = store.get_message("x", "%DLQ%ExpG", 0, 0, 1)
                dead = decode_records(b"".join(bytes(v) for v in result.messages))
                assert dead[0].body == b"never" and dead[0].reconsume_times == 3
                assert dead[0].get_property("RETRY_TOPIC") == "ExpT"
                assert cluster.broker.pop is not None and cluster.broker.pop.dead_lettered == 1
                info = cluster.broker.pop.runtime_info()
                assert info["popDeadLetterCount"] == "1" and info["popInflightCount"] == "0"
                assert int(info["popReviveCount"]) == 2

    run(body())


def test_change_invisible_duration_extends_renews_the_handle_and_zero_releases(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "ChgT", queues=1)
            await send(cluster, "ChgT", [b"a"])
            async with consumer_for(cluster, "ChgG", "ChgT") as consumer:
                (msg,) = await receive_all(consumer, 1, invisible=1.0)
                old = msg.get_property("POP_CK")
                handle = await consumer.change_invisible_duration(msg, 3.0)
                assert msg.get_property("POP_CK") == handle.extra_info != old
                await asyncio.sleep(1.5)  # past the first invisible time: still hidden
                assert await consumer.receive(1, await_duration=0) == []
                with pytest.raises(InvalidReceiptHandleError):
                    await consumer.ack(_with_handle(msg, old))
                await consumer.change_invisible_duration(msg, 0)
                back = await receive_all(consumer, 1, timeout=5)
                assert [m.body for m in back] == [b"a"] and back[0].reconsume_times == 1
                await consumer.ack(back[0])

    run(body())


def _with_handle(msg: MessageExt, extra: str | None) -> MessageExt:
    copy = MessageExt(msg.topic, msg.body, properties=dict(msg.properties))
    copy.queue_id, copy.queue_offset = msg.queue_id, msg.queue_offset
    copy.properties["POP_CK"] = extra or ""
    return copy


def test_batch_ack_and_competing_consumers_share_without_duplicates(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "ShareT", queues=2)
            await send(cluster, "ShareT", [str(i).encode() for i in range(40)])
            one = consumer_for(cluster, "ShareG", "ShareT", instance_name="one")
            two = consumer_for(cluster, "ShareG", "ShareT", instance_name="two")
            async with one, two:
                got: list[bytes] = []
                for _ in range(40):
                    for consumer in (one, two):
                        batch = await consumer.receive(4, 30, await_duration=0)
                        got += [m.body for m in batch]
                        if batch:
                            await consumer.ack_batch(batch)
                    if len(got) >= 40:
                        break
                assert sorted(got, key=int) == [str(i).encode() for i in range(40)]
                assert await one.receive(4, await_duration=0.2) == []
                offsets = cluster.broker.context.offsets.query_offsets("ShareG", "ShareT")
                assert sum(offsets.values()) == 40

    run(body())


def test_long_polling_answers_when_a_message_arrives(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "LpT", queues=1)
            async with consumer_for(cluster, "LpG", "LpT") as consumer:
                started = time.monotonic()
                waiting = asyncio.create_task(consumer.receive(1, 30, await_duration=8))
                await asyncio.sleep(0.3)
                await send(cluster, "LpT", [b"wake"])
                got = await waiting
                assert [m.body for m in got] == [b"wake"]
                assert time.monotonic() - started < 3
                await consumer.ack(got[0])
                started = time.monotonic()
                assert await consumer.receive(1, await_duration=0.5) == []
                assert 0.4 < time.monotonic() - started < 3

    run(body())


def test_tag_filter_and_forward_to_dead_letter(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "TagT", queues=1)
            await send(cluster, "TagT", [b"skip"], tags="B")
            await send(cluster, "TagT", [b"keep"], tags="A")
            consumer = SimpleConsumer("TagG", cluster.namesrv_addr)
            consumer.subscribe("TagT", "A")
            async with consumer:
                got = await receive_all(consumer, 1)
                assert [m.body for m in got] == [b"keep"]
                await consumer.forward_to_dead_letter(got[0])
                assert await consumer.receive(2, await_duration=0.3) == []
            store = cluster.broker.context.store
            assert store.get_max_offset_in_queue("%DLQ%TagG", 0) == 1

    run(body())


@pytest.mark.parametrize("drop_state", [False, True], ids=["with-state", "state-file-lost"])
def test_restart_loses_no_unacked_message(tmp_path: Path, drop_state: bool) -> None:
    async def body() -> None:
        store_dir = tmp_path / "store"
        cluster = await start_cluster(store_dir)
        try:
            await make_topic(cluster, "RsT", queues=1)
            await send(cluster, "RsT", [f"r{i}".encode() for i in range(6)])
            async with consumer_for(cluster, "RsG", "RsT") as consumer:
                msgs = await receive_all(consumer, 6, invisible=1.0)
                for m in msgs:
                    if m.body in (b"r0", b"r1", b"r4"):
                        await consumer.ack(m)
        finally:
            await stop_cluster(cluster)
        state_file = store_dir / "config" / POP_STATE_FILE
        assert state_file.exists()
        if drop_state:
            state_file.unlink()
        cluster = await start_cluster(store_dir)
        try:
            async with consumer_for(cluster, "RsG", "RsT") as consumer:
                again = await receive_all(consumer, 3, timeout=8)
                bodies = sorted(m.body for m in again)
                expected = [b"r2", b"r3", b"r5"]
                if drop_state:  # restarted from the committed offset (2): r4 comes back too
                    more = await receive_all(consumer, 1, timeout=2)
                    bodies = sorted(bodies + [m.body for m in more])
                    expected = [b"r2", b"r3", b"r4", b"r5"]
                assert bodies == expected
                for m in again:
                    await consumer.ack(m)
        finally:
            await stop_cluster(cluster)

    run(body())


def test_offset_moved_forward_outside_pop_keeps_unacked_messages_owed(tmp_path: Path) -> None:
    """A push consumer or admin of the group commits past popped, unacknowledged messages:
    they stay in flight (ack still works) and come back through the retry topic when their
    invisible time is up; the outside offset is not written back down."""

    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "MovT", queues=1)
            await send(cluster, "MovT", [b"m0", b"m1", b"m2"])
            offsets = cluster.broker.context.offsets
            async with consumer_for(cluster, "MovG", "MovT") as consumer:
                msgs = {m.body: m for m in await receive_all(consumer, 3, invisible=1.0)}
                assert sorted(msgs) == [b"m0", b"m1", b"m2"]
                await consumer.ack(msgs[b"m2"])
                assert offsets.query_offset("MovG", "MovT", 0) == 0
                offsets.commit_offset("push", "MovG", "MovT", 0, 3)
                assert await consumer.receive(4, 30.0, await_duration=0) == []
                await consumer.ack(msgs[b"m0"])
                assert offsets.query_offset("MovG", "MovT", 0) == 3
                again = await receive_all(consumer, 1, invisible=30.0, timeout=8)
                assert [(m.body, m.reconsume_times) for m in again] == [(b"m1", 1)]
                await consumer.ack(again[0])
                assert await consumer.receive(4, 30.0, await_duration=0.5) == []
                assert offsets.query_offset("MovG", "MovT", 0) == 3
                pop = cluster.broker.pop
                assert pop is not None and pop.revived == 1
                assert pop.runtime_info()["popInflightCount"] == "0"

    run(body())


def test_pop_past_an_empty_queue_revives_in_flight_messages_only_when_confirmed(
    tmp_path: Path,
) -> None:
    """NO_MESSAGE_IN_QUEUE with a position past 0: the in-flight messages are kept while the
    store's offsets disagree, and revived (not dropped) once the queue is really empty (the
    store answers it for an existing queue with max offset 0)."""

    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "TrT", queues=1)
            await make_topic(cluster, "TrEmpty", queues=1)
            await send(cluster, "TrT", [b"t0", b"t1"])
            await wait_max_offset(cluster, "TrT", 0, 2)
            pop = cluster.broker.pop
            assert pop is not None
            key = ("TrG", "TrT", 0)
            assert pop.pop("TrG", "TrT", 0, 8, 30_000, None, 0).count == 2
            state = pop.table.get(key)
            assert state is not None and sorted(state.inflight) == [0, 1]
            spurious = GetMessageResult(GetMessageStatus.NO_MESSAGE_IN_QUEUE)
            pop._advance(key, state, "NO_MESSAGE_IN_QUEUE", spurious)  # queue holds 2
            assert sorted(state.inflight) == [0, 1] and state.pop_offset == 2
            # the same entries under a queue that really is empty (as after a rebuild)
            empty_key = ("TrG", "TrEmpty", 0)
            empty = pop._state("TrG", "TrEmpty", 0, 0)
            for e in list(state.inflight.values()):
                pop.table.add(empty_key, InFlight(e.offset, e.commitlog_offset, 0, 30_000))
            empty.pop_offset = 2
            pop._advance(empty_key, empty, "NO_MESSAGE_IN_QUEUE", spurious)  # max offset 0
            assert empty.inflight == {} and empty.pop_offset == 0 and pop.revived == 2
            retry = pop_retry_topic("TrG", "TrEmpty")
            assert await wait_max_offset(cluster, retry, 0, 2) == 2

    run(body())


def test_deleted_and_recreated_topic_is_read_from_its_start(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "DelT", queues=1)
            await send(cluster, "DelT", [b"old1", b"old2"])
            async with consumer_for(cluster, "DelG", "DelT") as consumer:
                for m in await receive_all(consumer, 2):
                    await consumer.ack(m)
                async with AdminClient(cluster.namesrv_addr) as admin:
                    await admin.delete_topic("DelT")
                pop = cluster.broker.pop
                assert pop is not None and pop.prune() == 1
                assert pop.table.get(("DelG", "DelT", 0)) is None
                await make_topic(cluster, "DelT", queues=1)
                await send(cluster, "DelT", [b"new1", b"new2", b"new3"])
                got = await receive_all(consumer, 3)
                assert sorted(m.body for m in got) == [b"new1", b"new2", b"new3"]

    run(body())


def test_client_side_argument_checks() -> None:
    consumer = SimpleConsumer("ArgG", "127.0.0.1:1")
    with pytest.raises(ClientError, match="invisible_duration"):
        SimpleConsumer("ArgG", "127.0.0.1:1", invisible_duration=0)

    async def body() -> None:
        with pytest.raises(ClientError, match="not running"):
            await consumer.receive(1)

    run(body())


def test_bad_pop_requests_get_clear_answers_and_the_broker_keeps_serving(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            await make_topic(cluster, "BadT", queues=1)
            await send(cluster, "BadT", [b"x"])
            await wait_max_offset(cluster, "BadT", 0, 1)
            addr = cluster.broker_addr

            def pop(**changes: Any) -> RemotingCommand:
                fields: dict[str, Any] = dict(
                    consumer_group="BadG", topic="BadT", queue_id=-1, max_msg_nums=1,
                    invisible_time=30000, poll_time=0, born_time=1, init_mode=0,
                )  # fmt: skip
                fields.update(changes)
                header = PopMessageRequestHeader(**fields)
                return RemotingCommand.request(RequestCode.POP_MESSAGE, header)

            def ack(extra: str, **changes: Any) -> RemotingCommand:
                fields: dict[str, Any] = dict(
                    consumer_group="BadG", topic="BadT", queue_id=0, extra_info=extra, offset=0
                )
                fields.update(changes)
                return RemotingCommand.request(
                    RequestCode.ACK_MESSAGE, AckMessageRequestHeader(**fields)
                )

            async with RemotingClient(name="bad-pop") as client:
                cases = [
                    (pop(max_msg_nums=0), ResponseCode.INVALID_PARAMETER, "maxMsgNums"),
                    (pop(max_msg_nums=33), ResponseCode.INVALID_PARAMETER, "maxMsgNums"),
                    (pop(invisible_time=0), ResponseCode.INVALID_PARAMETER, "invisibleTime"),
                    (pop(poll_time=-1), ResponseCode.INVALID_PARAMETER, "pollTime"),
                    (pop(queue_id=5), ResponseCode.INVALID_PARAMETER, "queueId"),
                    (pop(topic="NoSuchT"), ResponseCode.TOPIC_NOT_EXIST, "NoSuchT"),
                    (pop(exp_type="XPATH"), ResponseCode.SUBSCRIPTION_PARSE_FAILED, "parse"),
                    (ack("garbage"), ResponseCode.INVALID_PARAMETER, "receipt handle"),
                    (ack("0 1 2 0 0 broker-a 9", queue_id=9), ResponseCode.MESSAGE_ILLEGAL, "9"),
                    (ack("0 1 30000 0 0 broker-a 0 0"), ResponseCode.NO_MESSAGE, "not current"),
                    (
                        RemotingCommand.request(RequestCode.BATCH_ACK_MESSAGE, body=b"{nope"),
                        ResponseCode.INVALID_PARAMETER,
                        "batch ack",
                    ),
                    (
                        RemotingCommand.request(
                            RequestCode.CHANGE_MESSAGE_INVISIBLETIME,
                            ChangeInvisibleTimeRequestHeader(
                                consumer_group="BadG",
                                topic="BadT",
                                queue_id=0,
                                extra_info="0 1 1 0 0 broker-a 0 0",
                                offset=0,
                                invisible_time=-5,
                            ),
                        ),
                        ResponseCode.INVALID_PARAMETER,
                        "invisibleTime",
                    ),
                ]
                for request, code, text in cases:
                    response = await client.invoke(addr, request, 5.0)
                    assert response.code == code, (request.ext_fields, response.remark)
                    assert text in (response.remark or "")
                missing = RemotingCommand.request(
                    RequestCode.POP_MESSAGE, ext_fields={"topic": "BadT"}
                )
                response = await client.invoke(addr, missing, 5.0)
                assert response.code == ResponseCode.SYSTEM_ERROR
                assert "consumerGroup" in (response.remark or "")
                ok = await client.invoke(addr, pop(), 5.0)
                assert ok.code == ResponseCode.SUCCESS
                assert [m.body for m in decode_records(ok.body)] == [b"x"]
                header = ok.ext_fields
                assert header["startOffsetInfo"] == "0 0 0" and header["msgOffsetInfo"] == "0 0 0"

    run(body())
