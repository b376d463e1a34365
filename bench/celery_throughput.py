r"""Celery throughput on rmq (``rocketmq://``) versus Celery's Redis transport, same run.

For each system the benchmark starts its server on 127.0.0.1 (``rmq standalone``;
``redis-server`` without persistence), then

1. **publish**: one client thread sends ``--tasks`` no-op tasks (``celery_app.noop``,
   ``ignore_result``) plus one marker task (``celery_app.add`` with an ``rpc://`` result) with
   ``apply_async``; tasks/s = tasks / elapsed;
2. **consume**: starts ``celery -A celery_app worker --pool=solo`` (examples/celery_app.py,
   acks early, prefetch multiplier 4) on that backlog and waits for the marker's result; the
   clock starts when the worker is ready (it touches a file), so start-up is not counted;
   tasks/s = (tasks + 1) / elapsed. One queue, one worker: the marker runs last.

Usage::

    .venv/bin/python -m bench.celery_throughput --tasks 10000 [--docs docs/benchmarks.md]

``--docs`` rewrites the text between ``<!-- celery-bench:begin -->`` and
``<!-- celery-bench:end -->`` in that file. Every process started here is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.servers import ServerProcess, peer_available, redis_spec, rmq_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BEGIN = "<!-- celery-bench:begin -->"
END = "<!-- celery-bench:end -->"
READY_TIMEOUT = 60.0


def _worker(url: str, workdir: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / f"worker-{name}.log"
    env = dict(
        os.environ,
        RMQ_CELERY_BROKER=url,
        RMQ_CELERY_STATE=str(workdir / "state"),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    command = [
        sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo",
        "-Q", "celery", "--without-mingle", "--without-gossip", "--without-heartbeat",
        "--loglevel=WARNING", "-n", f"bench-{name}@%h",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=EXAMPLES, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return process, log


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def run_system(name: str, url: str, tasks: int, workdir: Path) -> dict[str, Any]:
    """Publish ``tasks`` no-ops plus a marker to ``url``, then time one worker draining them."""
    os.environ["RMQ_CELERY_BROKER"] = url
    from celery import Celery

    import rmq_integrations.celery  # noqa: F401  (rocketmq://)

    app = Celery(f"bench-{name}", broker=url, backend="rpc://")
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_transport_options={"long_poll": 1.0} if url.startswith("rocketmq") else {},
    )
    noop = app.signature("celery_app.noop")
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for _ in range(tasks):
            noop.apply_async(producer=producer)
    marker = app.send_task("celery_app.add", (20, 22))
    published = time.perf_counter() - started
    process, log = _worker(url, workdir, name)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        ready_mark = workdir / "state" / f"ready-{process.pid}"
        while not ready_mark.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} worker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.005)
        ready = time.perf_counter()
        assert marker.get(timeout=600) == 42
        consumed = time.perf_counter() - ready
    finally:
        _stop(process)
        app.close()
    return {
        "system": name,
        "tasks": tasks,
        "publish_s": round(published, 3),
        "publish_tasks_per_s": round((tasks + 1) / published),
        "consume_s": round(consumed, 3),
        "consume_tasks_per_s": round((tasks + 1) / consumed),
    }


def _markdown(results: list[dict[str, Any]], tasks: int, load: tuple[float, ...]) -> str:
    by = {r["system"]: r for r in results}
    rows = [
        "| system | publish (tasks/s) | worker (tasks/s) | publish time | drain time |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r['system']} | {r['publish_tasks_per_s']:,} | {r['consume_tasks_per_s']:,} | "
            f"{r['publish_s']:.2f} s | {r['consume_s']:.2f} s |"
        )
    if "rmq" in by and "redis" in by:
        rmq, redis = by["rmq"], by["redis"]
        rows.append(
            f"| rmq / redis | {rmq['publish_tasks_per_s'] / redis['publish_tasks_per_s']:.2f} | "
            f"{rmq['consume_tasks_per_s'] / redis['consume_tasks_per_s']:.2f} | | |"
        )
    header = (
        f"{tasks:,} no-op tasks (`celery_app.noop`, JSON, ignore_result) published by one "
        f"client thread, then drained by one `celery worker --pool=solo` (prefetch multiplier "
        f"4). Python {platform.python_version()}, load average before the run "
        f"{load[0]:.2f}. Command: `.venv/bin/python -m bench.celery_throughput --tasks "
        f"{tasks} --docs docs/benchmarks.md`."
    )
    return header + "\n\n" + "\n".join(rows) + "\n"


def _update_docs(path: Path, text: str) -> None:
    content = path.read_text()
    block = f"{BEGIN}\n{text}{END}"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(content):
        raise SystemExit(f"{path} has no {BEGIN} ... {END} block")
    path.write_text(pattern.sub(lambda _: block, content))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--systems", default="rmq,redis")
    parser.add_argument("--docs", type=Path, help="update the Celery block of this Markdown file")
    args = parser.parse_args()
    load = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="celery-bench-") as tmp:
        root = Path(tmp)
        for name in args.systems.split(","):
            workdir = root / name
            workdir.mkdir()
            if name == "rmq":
                spec = rmq_spec(workdir)
                url = lambda server: f"rocketmq://{server.address}"  # noqa: E731
            elif name == "redis":
                if not peer_available("redis"):
                    print("redis-server is not installed; skipping redis", file=sys.stderr)
                    continue
                spec = redis_spec(workdir, durable=False)
                url = lambda server: f"redis://{server.address}/0"  # noqa: E731
            else:
                raise SystemExit(f"unknown system {name!r} (rmq, redis)")
            with ServerProcess(spec) as server:
                result = run_system(name, url(server), args.tasks, workdir)
            print(json.dumps(result), flush=True)
            results.append(result)
    text = _markdown(results, args.tasks, load)
    print(text)
    if args.docs is not None:
        _update_docs(args.docs, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
