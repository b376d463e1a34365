"""At-least-once delivery with real workers killed by SIGKILL.

- a worker killed while an ``acks_late`` task runs: after the invisible time another worker
  runs the task;
- 1,000 tasks with workers killed at random points: every task runs at least once (the
  duplicates are counted and printed).
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from tests.integration.celery.celery_support import (
    WORKER_READY_TIMEOUT,
    ThreadedCluster,
    Workers,
    client_app,
    records,
    wait_for,
)

INVISIBLE = 2.0


def test_task_of_a_killed_worker_runs_on_another_worker(
    cluster: ThreadedCluster, workers: Workers
) -> None:
    first = workers.start(cluster.url, queues="celery", invisible=INVISIBLE)
    app = client_app(cluster.url)
    try:
        app.send_task("celery_app.record", ("slow-task", 3.0))
        started = workers.state / "started"
        wait_for(lambda: started.exists() and "slow-task" in started.read_text(), 15, "task start")
        first.kill()
        killed_at = time.monotonic()
        assert records(workers.state) == []
        second = workers.start(cluster.url, queues="celery", invisible=INVISIBLE)
        wait_for(lambda: records(workers.state) == ["slow-task"], 30, "the task on worker 2")
        # it came back only after its invisible time (the renewals stopped with worker 1)
        assert time.monotonic() - killed_at >= INVISIBLE
        assert started.read_text().split() == ["slow-task", "slow-task"]
        assert second.stop() == 0
    finally:
        app.close()


TOTAL_TASKS = 1000
KILLS = 4
KILL_WAIT = 20.0
"""Seconds a worker gets to reach its kill threshold (the whole run takes ~10 s)."""
FINISH_WAIT = 60.0
THOUSAND_TIMEOUT = 30 + (KILLS + 1) * (WORKER_READY_TIMEOUT + KILL_WAIT) + FINISH_WAIT + 30
"""Worst case of the test (s): cluster start and 1,000 sends, every worker start and kill
wait running to its limit, the final wait, the final stop; above pytest's global 120 s."""


@pytest.mark.timeout(THOUSAND_TIMEOUT, method="signal")
def test_thousand_tasks_survive_random_worker_kills(
    cluster: ThreadedCluster, workers: Workers
) -> None:
    rng = random.Random(20240611)
    tokens = [f"t{i:04d}" for i in range(TOTAL_TASKS)]
    app = client_app(cluster.url)
    done_at_kill: list[int] = []
    try:
        with app.producer_or_acquire() as producer:
            for token in tokens:
                app.send_task("celery_app.record", (token,), producer=producer)
        # kill the worker when it has done a random number of tasks (spread over the run),
        # and never before the current worker completed at least one task of its own
        thresholds = sorted(rng.sample(range(50, TOTAL_TASKS - 50), KILLS))
        worker = workers.start(cluster.url, queues="celery", invisible=INVISIBLE)
        for threshold in thresholds:
            previous = done_at_kill[-1] if done_at_kill else 0
            target = max(threshold, previous + 1)
            deadline = time.monotonic() + KILL_WAIT
            while (done := len(set(records(workers.state)))) < target:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"kill {len(done_at_kill) + 1}: only {done} of {target} tasks done after "
                        f"{KILL_WAIT} s\n{worker.output()[-3000:]}"
                    )
                time.sleep(0.005)
            worker.kill()
            done_at_kill.append(len(set(records(workers.state))))
            print(f"kill {len(done_at_kill)} after {done_at_kill[-1]} distinct tasks")
            worker = workers.start(cluster.url, queues="celery", invisible=INVISIBLE)
        wait_for(
            lambda: len(set(records(workers.state))) >= TOTAL_TASKS, FINISH_WAIT, "all tasks to run"
        )
        assert worker.stop() == 0
    finally:
        app.close()
    counts = Counter(records(workers.state))
    duplicates = sum(n - 1 for n in counts.values())
    print(f"{TOTAL_TASKS} tasks, kills after {done_at_kill}: {len(counts)} ran, "
          f"{duplicates} ran twice or more")  # fmt: skip
    assert set(counts) == set(tokens)
    # every kill hit a worker mid-run: tasks completed before it and between any two kills
    assert len(done_at_kill) == KILLS
    assert all(a < b for a, b in zip([0, *done_at_kill], done_at_kill, strict=False))
    assert done_at_kill[-1] < TOTAL_TASKS
