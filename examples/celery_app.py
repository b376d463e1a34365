r"""A Celery app on rmq: tasks, retries, routing, ``rpc://`` results and remote control.

Start a broker (``make run``), then a worker and a client::

    cd examples
    celery -A celery_app worker --pool=solo -Q celery,celery-a,celery-b --loglevel=INFO
    python -c "from celery_app import add; print(add.delay(2, 3).get(timeout=10))"

or run the bounded demo, which starts a worker itself, sends tasks and stops it::

    python examples/celery_app.py --namesrv 127.0.0.1:9876 --timeout 60

Importing :mod:`rmq_integrations.celery` registers the ``rocketmq://`` scheme; the worker
imports this module (``-A celery_app``) so it is registered there too. Environment:
``RMQ_CELERY_BROKER`` (default ``rocketmq://$NAMESRV_ADDR``), ``RMQ_CELERY_INVISIBLE``
(seconds a received task stays invisible, default 30) and ``RMQ_CELERY_STATE`` (a directory
where :func:`record` and :func:`flaky` keep their marks; the tests read it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

import rmq_integrations.celery  # noqa: F401  (registers rocketmq://)

NAMESRV = os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876")
BROKER = os.environ.get("RMQ_CELERY_BROKER", f"rocketmq://{NAMESRV}")
STATE = Path(os.environ.get("RMQ_CELERY_STATE", "/tmp/rmq-celery-example"))

app = Celery("celery_app", broker=BROKER, backend="rpc://")
app.conf.update(
    broker_transport_options={
        "invisible_time": float(os.environ.get("RMQ_CELERY_INVISIBLE", "30")),
        "long_poll": 1.0,
    },
    broker_connection_retry_on_startup=True,
    task_routes={
        "celery_app.route_a": {"queue": "celery-a"},
        "celery_app.route_b": {"queue": "celery-b"},
    },
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)


@app.task(name="celery_app.add")
def add(x: int, y: int) -> int:
    return x + y


@app.task(name="celery_app.noop", ignore_result=True)
def noop() -> None:
    """Does nothing (the throughput benchmark's task)."""


@app.task(name="celery_app.route_a")
def route_a(value: str) -> str:
    return f"a:{value}"


@app.task(name="celery_app.route_b")
def route_b(value: str) -> str:
    return f"b:{value}"


@app.task(name="celery_app.flaky", bind=True, max_retries=5)
def flaky(self, key: str, failures: int) -> int:  # type: ignore[no-untyped-def]
    """Fails ``failures`` times (retrying after 0.2 s), then returns the attempt count."""
    STATE.mkdir(parents=True, exist_ok=True)
    marks = STATE / f"flaky-{key}"
    with marks.open("a") as f:
        f.write("x")
    attempts = len(marks.read_text())
    if attempts <= failures:
        raise self.retry(countdown=0.2, exc=RuntimeError(f"attempt {attempts} fails"))
    return attempts


@app.task(name="celery_app.record", acks_late=True, ignore_result=True)
def record(token: str, seconds: float = 0.0) -> None:
    """Appends ``token`` to ``$RMQ_CELERY_STATE/records`` (after ``seconds`` of sleep, noted in
    ``started``). Acknowledged only after it ran: a worker killed meanwhile leaves the task to
    another worker."""
    STATE.mkdir(parents=True, exist_ok=True)
    if seconds:
        _append(STATE / "started", token)
        time.sleep(seconds)
    _append(STATE / "records", token)


def _append(path: Path, token: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{token}\n".encode())
    finally:
        os.close(fd)


@worker_ready.connect
def _mark_ready(**_: object) -> None:
    """Touch ``$RMQ_CELERY_STATE/ready-<pid>`` when the worker is ready (benchmarks wait for
    it without parsing logs)."""
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / f"ready-{os.getpid()}").touch()


def start_worker(queues: str = "celery,celery-a,celery-b", *extra: str) -> subprocess.Popen[bytes]:
    """``celery -A celery_app worker`` (solo pool) as a child process, cwd = this folder."""
    command = [
        sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo",
        "-Q", queues, "--without-mingle", "--without-gossip", "--loglevel=WARNING", *extra,
    ]  # fmt: skip
    env = dict(os.environ, RMQ_CELERY_BROKER=BROKER)
    return subprocess.Popen(command, cwd=Path(__file__).parent, env=env)


def demo(timeout: float) -> int:
    """Run a worker, exercise the features, stop the worker; exit status 0 when all passed."""
    worker = start_worker()
    try:
        deadline = time.monotonic() + timeout
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                print("worker did not answer ping", file=sys.stderr)
                return 1
        print("ping:", app.control.ping(timeout=1.0))
        print("add:", add.delay(2, 3).get(timeout=timeout))
        started = time.monotonic()
        print("countdown:", add.apply_async((4, 5), countdown=1).get(timeout=timeout),
              f"after {time.monotonic() - started:.1f} s")  # fmt: skip
        key = f"demo-{os.getpid()}"
        print("retried:", flaky.delay(key, 2).get(timeout=timeout), "attempts")
        print("routed:", route_a.delay("x").get(timeout=timeout),
              route_b.delay("y").get(timeout=timeout))  # fmt: skip
        return 0
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namesrv", default=NAMESRV, help="NameServer 'host:port'")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after seconds")
    args = parser.parse_args()
    global BROKER
    BROKER = f"rocketmq://{args.namesrv}"
    app.conf.broker_url = BROKER
    return demo(args.timeout)


if __name__ == "__main__":
    sys.exit(main())
