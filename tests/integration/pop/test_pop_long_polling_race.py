"""A long-polling pop is woken by a message that arrives between its read and its park.

The race is forced: the broker's pop read is wrapped so that, right after it found nothing, a
message is stored and dispatched on another thread (as the store's dispatcher thread does), so
its arrival notification runs before the pop is parked and finds nothing to wake. The pop must
still answer with that message at once, not when its ``pollTime`` runs out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from rmq_core.admin import AdminClient
from rmq_core.broker.pop.service import PopBatch
from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.common.message_codec import decode_records
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand
from rmq_core.remoting.pop_headers import PopMessageRequestHeader
from tests.support.cluster import Cluster, running_cluster

TOPIC = "RaceT"
GROUP = "RaceG"
POLL_MS = 20_000
"""The pop's hold: answering well within it proves the arrival woke it, not the timeout."""


def _store_from_another_thread(cluster: Cluster) -> None:
    """Store one message of ``TOPIC`` and dispatch it on a helper thread (joined)."""
    store = cluster.broker.context.store
    failures: list[BaseException] = []

    def put() -> None:
        try:
            msg = MessageExtBrokerInner(
                topic=TOPIC,
                body=b"raced",
                properties={"TAGS": "A"},
                queue_id=0,
                born_timestamp=1_700_000_000_000,
                born_host="127.0.0.1:50000",
                store_host=cluster.broker_addr,
            )
            assert store.put_message(msg).is_ok
            store.sync_dispatch()  # readable, and its arrival notified, before returning
        except BaseException as exc:  # reported on the loop thread
            failures.append(exc)

    thread = threading.Thread(target=put)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and not failures, failures


def test_a_pop_parked_just_after_an_arrival_is_woken_by_it(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_cluster(tmp_path) as cluster:
            async with AdminClient(cluster.namesrv_addr) as admin:
                await admin.create_topic(TOPIC, read_queue_nums=1, write_queue_nums=1)
            service = cluster.broker.pop
            assert service is not None and service.hold_service is not None
            hold = service.hold_service
            real_pop = service.pop
            raced: list[bool] = []

            def pop_then_race(*args: Any, **kwargs: Any) -> PopBatch:
                batch = real_pop(*args, **kwargs)
                if batch.count == 0 and not raced:
                    _store_from_another_thread(cluster)
                    # the arrival came from another thread and found no pop parked: dropped
                    raced.append(hold.held_count == 0 and hold.pending_keys == 0)
                return batch

            service.pop = pop_then_race  # type: ignore[method-assign]
            header = PopMessageRequestHeader(
                consumer_group=GROUP, topic=TOPIC, queue_id=-1, max_msg_nums=1,
                invisible_time=30_000, poll_time=POLL_MS, born_time=1, init_mode=0,
            )  # fmt: skip
            request = RemotingCommand.request(RequestCode.POP_MESSAGE, header)
            async with RemotingClient(name="pop-race") as client:
                started = time.monotonic()
                response = await client.invoke(cluster.broker_addr, request, POLL_MS / 1000 + 10)
                elapsed = time.monotonic() - started
            assert raced == [True]
            assert response.code == ResponseCode.SUCCESS, response.remark
            assert [m.body for m in decode_records(response.body)] == [b"raced"]
            assert elapsed < 5, f"answered after {elapsed:.1f} s: woken by the timeout"
            assert hold.held_count == 0

    asyncio.run(asyncio.wait_for(body(), 60))
