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

from tests.integration.celery.celery_support import (
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


def test_thousand_tasks_survive_random_worker_kills(
    cluster: ThreadedCluster, workers: Workers
) -> None:
    total = 1000
    kills = 4
    rng = random.Random(20240611)
    tokens = [f"t{i:04d}" for i in range(total)]
    app = client_app(cluster.url)
    try:
        with app.producer_or_acquire() as producer:
            for token in tokens:
                app.send_task("celery_app.record", (token,), producer=producer)
        # kill the worker when it has done a random number of tasks (spread over the run)
        thresholds = sorted(rng.sample(range(50, total - 50), kills))
        worker = workers.start(cluster.url, queues="celery", invisible=INVISIBLE)
        killed = 0
        for threshold in thresholds:
            deadline = time.monotonic() + 60
            while len(records(workers.state)) < threshold and time.monotonic() < deadline:
                time.sleep(0.005)
            worker.kill()
            killed += 1
            print(f"kill {killed} after {len(set(records(workers.state)))} distinct tasks")
            worker = workers.start(cluster.url, queues="celery", invisible=INVISIBLE)
        wait_for(lambda: len(set(records(workers.state))) >= total, 90, "all tasks to run")
        worker.stop()
    finally:
        app.close()
    counts = Counter(records(workers.state))
    missing = set(tokens) - set(counts)
    duplicates = sum(n - 1 for n in counts.values())
    print(f"{total} tasks, {killed} kills: {len(counts)} ran, {duplicates} ran twice or more")
    assert not missing
    assert set(counts) == set(tokens)
    assert killed == kills
