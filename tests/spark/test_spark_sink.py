"""The sink's two-phase commit without Spark: replays, aborts and the broker's checks.

These drive :class:`TaskPublisher` and :class:`SinkCommitter` directly (as Spark's tasks and
driver do) against the in-process broker, whose transaction check runs every 2 s here.
"""

from __future__ import annotations

import time
import uuid

from rmq_spark.commit_log import CommitRecord
from rmq_spark.options import write_options
from rmq_spark.sink import (
    SinkCommitter,
    TaskPublisher,
    _commit_log,
    _end_all,
    sink_producer,
)

from rmq_core.client.sync import run_sync
from rmq_core.client.transaction_producer import LocalTransactionState
from tests.spark.fixtures import BackgroundCluster, bodies, create_topic, read_topic, unique_topic

CHECK_WAIT = 20.0  # s: several broker check rounds


def _rows(prefix: str, count: int) -> list[dict[str, str]]:
    return [{"value": f"{prefix}{i}"} for i in range(count)]


def _wait_for(predicate, timeout: float = CHECK_WAIT) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _options(namesrv: str, topic: str):  # type: ignore[no-untyped-def]
    return write_options(
        {"namesrv": namesrv, "topic": topic, "sinkid": f"unit{uuid.uuid4().hex[:8]}"}
    )


def test_commit_replay_and_abort(namesrv: str) -> None:
    topic = unique_topic("SinkUnit")
    create_topic(namesrv, topic)
    options = _options(namesrv, topic)
    committer = SinkCommitter(options)
    query = "q-" + uuid.uuid4().hex

    first = [TaskPublisher(options, query, 0, f"e1-p{p}-a0").publish(_rows(f"b0p{p}-", 5))
             for p in range(2)]  # fmt: skip
    assert read_topic(namesrv, topic) == []  # half messages are invisible
    assert committer.commit(query, 0, first) == 10
    assert _wait_for(lambda: len(read_topic(namesrv, topic)) == 10)  # dispatch is async

    replay = [TaskPublisher(options, query, 0, "e2-p0-a0").publish(_rows("b0p0-", 5))]
    assert committer.commit(query, 0, replay) == 0  # the same batch id again: nothing new
    aborted = [TaskPublisher(options, query, 1, "e3-p0-a0").publish(_rows("b1-", 4)), None]
    committer.abort(aborted)
    assert committer.commit(query, 2, []) == 0
    time.sleep(2.5)
    assert bodies(read_topic(namesrv, topic)) == sorted(
        [f"b0p0-{i}" for i in range(5)] + [f"b0p1-{i}" for i in range(5)]
    )


def test_lost_end_transaction_is_resolved_by_the_broker_check(
    namesrv: str, cluster: BackgroundCluster
) -> None:
    """The driver died after recording batch 0 but before its END_TRANSACTIONs; a task of a
    later attempt died without handing its halves over. The broker's checks reach this
    process's sink producer, which commits the recorded task's halves and rolls back the
    others once a later batch is recorded."""
    topic = unique_topic("SinkCheck")
    create_topic(namesrv, topic)
    options = _options(namesrv, topic)
    query = "q-" + uuid.uuid4().hex
    TaskPublisher(options, query, 0, "t-recorded").publish(_rows("kept", 3))
    orphan = TaskPublisher(options, query, 0, "t-orphan").publish(_rows("orphan", 2))
    assert len(orphan.handles) == 2
    producer = sink_producer(options)
    committer = SinkCommitter(options)
    committer._append(producer, _commit_log(options), CommitRecord(query, 0, ("t-recorded",)))
    assert _wait_for(lambda: len(read_topic(namesrv, topic)) >= 3), "check did not commit"
    undecided = TaskPublisher(options, query, 1, "t-undecided").publish(_rows("late", 2))
    committer._append(producer, _commit_log(options), CommitRecord(query, 2, ("t-other",)))
    time.sleep(6.0)  # several check rounds: the orphan and undecided halves get rolled back
    assert bodies(read_topic(namesrv, topic)) == ["kept0", "kept1", "kept2"]
    # rolled back by the checks: an explicit commit now finds them resolved
    run_sync(_end_all(producer, undecided.handles, LocalTransactionState.COMMIT_MESSAGE), 30)
    assert bodies(read_topic(namesrv, topic)) == ["kept0", "kept1", "kept2"]
