"""Celery/kombu test helpers: an in-process NameServer + broker on its own loop thread, real
``celery worker`` subprocesses running ``examples/celery_app.py`` and client-side Celery apps.

Every test gets a fresh cluster (it starts in ~0.1 s), so queues and consumer groups never
leak between tests. Workers use the solo pool and the invisible time given by the test; every
worker a test starts is killed at the end of the test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from celery import Celery

import rmq_integrations.celery  # noqa: F401  (registers rocketmq://)
from rmq_core.broker.controller import BrokerController
from rmq_core.namesrv.config import NamesrvConfig
from rmq_core.namesrv.controller import NamesrvController
from tests.support.cluster import Cluster, make_configs

T = TypeVar("T")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ROOT = EXAMPLES.parent
START_TIMEOUT = 30.0
WORKER_READY_TIMEOUT = 30.0
TRANSPORT_OPTIONS = {"long_poll": 1.0}


@dataclass
class ThreadedCluster:
    """A NameServer + broker running on a loop in a background thread."""

    store_dir: Path
    namesrv_port: int = 0
    broker_port: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    cluster: Cluster | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def namesrv(self) -> str:
        assert self.cluster is not None
        return self.cluster.namesrv_addr

    @property
    def url(self) -> str:
        return f"rocketmq://{self.namesrv}"

    def start(self) -> ThreadedCluster:
        """Start (again, after :meth:`stop`: same ports and store when they were fixed)."""
        self._stop = threading.Event()
        ready = threading.Event()
        errors: list[BaseException] = []

        async def serve() -> None:
            namesrv = NamesrvController(NamesrvConfig(host="127.0.0.1", port=self.namesrv_port))
            await namesrv.start()
            broker_config, store_config = make_configs(
                self.store_dir, namesrv.address, {"listenPort": str(self.broker_port)}
            )
            broker = BrokerController(broker_config, store_config, fast_port=False)
            try:
                await broker.start()
                while broker.registrar is not None and broker.registrar.registrations == 0:
                    await asyncio.sleep(0.01)
            except BaseException as exc:
                errors.append(exc)
                await namesrv.shutdown()
                ready.set()
                return
            self.cluster = Cluster(namesrv, broker, self.store_dir)
            self.loop = asyncio.get_running_loop()
            ready.set()
            try:
                while not self._stop.is_set():
                    await asyncio.sleep(0.05)
            finally:
                await broker.shutdown()
                await namesrv.shutdown()

        self._thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
        self._thread.start()
        assert ready.wait(START_TIMEOUT), "cluster did not start"
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)
            assert not self._thread.is_alive(), "cluster thread did not stop"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the cluster's loop (white-box checks)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def max_offset(self, topic: str, queue_id: int = 0) -> int:
        async def read() -> int:
            assert self.cluster is not None
            return self.cluster.broker.context.store.get_max_offset_in_queue(topic, queue_id)

        return self.call(read())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Worker:
    """A ``celery -A celery_app worker`` subprocess; output goes to ``log``."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


@dataclass
class Workers:
    """Starts workers for one test and kills every one of them at the end."""

    tmp_path: Path
    state: Path
    started: list[Worker] = field(default_factory=list)

    def start(
        self,
        url: str,
        *,
        queues: str = "celery,celery-a,celery-b",
        invisible: float = 30.0,
        extra: tuple[str, ...] = (),
        wait_ready: bool = True,
    ) -> Worker:
        index = len(self.started)
        log = self.tmp_path / f"worker-{index}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo",
            "-Q", queues, "--without-mingle", "--without-gossip", "--without-heartbeat",
            "-n", f"w{index}@%h", "--loglevel=INFO", *extra,
        ]  # fmt: skip
        env = dict(
            os.environ,
            RMQ_CELERY_BROKER=url,
            RMQ_CELERY_INVISIBLE=str(invisible),
            RMQ_CELERY_STATE=str(self.state),
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        )
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=EXAMPLES, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        worker = Worker(process, log)
        self.started.append(worker)
        if wait_ready:
            deadline = time.monotonic() + WORKER_READY_TIMEOUT
            while "ready." not in worker.output():
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"worker did not start:\n{worker.output()[-3000:]}")
                time.sleep(0.05)
        return worker

    def cleanup(self) -> None:
        for worker in self.started:
            worker.kill()


def client_app(url: str, **transport_options: Any) -> Celery:
    """A client-side app sending the example's tasks by name (no import of the example)."""
    app = Celery("client", broker=url, backend="rpc://")
    app.conf.update(
        broker_transport_options={**TRANSPORT_OPTIONS, **transport_options},
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    return app


def records(state: Path) -> list[str]:
    """Tokens the example's ``record`` task wrote, in order (duplicates kept)."""
    path = state / "records"
    return path.read_text().split() if path.exists() else []


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
