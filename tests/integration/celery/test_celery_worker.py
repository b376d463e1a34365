"""A real ``celery worker`` on the rocketmq:// transport: rpc:// round trips, countdown/eta,
retries, routing to two queues, remote control, and the example script end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from tests.integration.celery.celery_support import (
    EXAMPLES,
    ROOT,
    ThreadedCluster,
    Workers,
    client_app,
)

RESULT_TIMEOUT = 20.0


def test_worker_features_over_rpc_backend(cluster: ThreadedCluster, workers: Workers) -> None:
    t0 = time.monotonic()
    worker = workers.start(cluster.url)
    print(f"worker ready after {time.monotonic() - t0:.2f} s")
    app = client_app(cluster.url)
    try:
        assert app.send_task("celery_app.add", (2, 3)).get(timeout=RESULT_TIMEOUT) == 5
        results = [app.send_task("celery_app.add", (i, i)) for i in range(20)]
        assert [r.get(timeout=RESULT_TIMEOUT) for r in results] == [2 * i for i in range(20)]

        started = time.monotonic()
        delayed = app.send_task("celery_app.add", (4, 5), countdown=1.5)
        assert delayed.get(timeout=RESULT_TIMEOUT) == 9
        assert time.monotonic() - started >= 1.4
        eta = datetime.now(UTC) + timedelta(seconds=1)
        assert app.send_task("celery_app.add", (1, 1), eta=eta).get(timeout=RESULT_TIMEOUT) == 2
        assert datetime.now(UTC) >= eta

        key = f"retry-{os.getpid()}-{time.monotonic_ns()}"
        assert app.send_task("celery_app.flaky", (key, 2)).get(timeout=RESULT_TIMEOUT) == 3
        assert (workers.state / f"flaky-{key}").read_text() == "xxx"

        a = app.send_task("celery_app.route_a", ("x",), queue="celery-a")
        b = app.send_task("celery_app.route_b", ("y",), queue="celery-b")
        assert (a.get(timeout=RESULT_TIMEOUT), b.get(timeout=RESULT_TIMEOUT)) == ("a:x", "b:y")
        # they really travelled through their own topics
        assert cluster.max_offset("celery-a") >= 1 and cluster.max_offset("celery-b") >= 1

        replies = app.control.ping(timeout=5.0, limit=1)
        assert len(replies) == 1, replies
        ((name, answer),) = replies[0].items()
        assert name.startswith("w0@") and answer == {"ok": "pong"}
        registered = app.control.inspect(timeout=5.0, limit=1).registered()
        assert registered and "celery_app.add" in next(iter(registered.values()))
    finally:
        app.close()
        assert worker.stop() == 0, worker.output()[-3000:]


def test_example_script_runs_its_demo(cluster: ThreadedCluster, tmp_path: object) -> None:
    env = dict(
        os.environ,
        RMQ_CELERY_STATE=str(tmp_path),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "celery_app.py"), "--namesrv", cluster.namesrv,
         "--timeout", "40"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for line in ("ping: [{", "add: 5", "countdown: 9", "retried: 3 attempts", "routed: a:x b:y"):
        assert line in result.stdout, output[-4000:]
