"""Helpers of the Flink tests: an ``rmq standalone`` subprocess on free ports, topics,
producing, reading a whole topic back, and running PyFlink jobs with deadlines.

The broker runs as a separate process (not in the test's event loop) because Flink's Python
workers, also separate processes, must reach it over TCP while the test blocks on the job.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rmq_flink import connector_jar

from rmq_core.admin.sync import AdminClient
from rmq_core.client import Message, MessageExt, MessageQueue, PullStatus
from rmq_core.client.consumer.common import post_process, pull_header
from rmq_core.client.heartbeat import SubscriptionData
from rmq_core.client.message_selector import MessageSelector
from rmq_core.client.sync import Producer, run_sync

STARTUP_TIMEOUT = 30.0  # s
CALL_TIMEOUT = 10.0  # s
BROKER_CONF = "enablePropertyFilter=true\n"


@dataclass
class Broker:
    """A running ``rmq standalone``: the NameServer address and the process."""

    namesrv: str
    process: subprocess.Popen[str]


def _start_standalone(store: Path) -> Broker:
    conf = store / "broker.conf"
    conf.write_text(BROKER_CONF)
    rmq = Path(sys.executable).parent / "rmq"
    command = [str(rmq), "--log-level", "WARNING", "standalone", "--namesrv-port", "0"]
    command += ["--broker-port", "0", "--store-dir", str(store / "data"), "-c", str(conf)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=store
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith("rmq standalone ready: namesrv "):
            namesrv = line.split("namesrv ", 1)[1].split(",", 1)[0].strip()
            return Broker(namesrv, process)
    _stop(process)
    raise RuntimeError("rmq standalone did not start:\n" + "".join(seen))


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = _start_standalone(tmp_path_factory.mktemp("rmq-flink"))
    try:
        yield running
    finally:
        _stop(running.process)


@pytest.fixture(scope="session")
def flink_jar() -> Path:
    """The connector jar (built once; javac takes a few seconds)."""
    return connector_jar()


# --- topics and messages ----------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def create_topic(namesrv: str, topic: str, queues: int = 2) -> str:
    with AdminClient(namesrv) as admin:
        admin.create_topic(topic, read_queue_nums=queues, write_queue_nums=queues)
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:  # the NameServer learns the topic when the broker re-registers
            try:
                admin.topic_route(topic)
                return topic
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def produce(
    namesrv: str,
    topic: str,
    bodies: list[str],
    *,
    tags: str | None = None,
    properties: dict[str, str] | None = None,
    queue_id: int | None = None,
    pause: float = 0.0,
) -> None:
    """Send ``bodies`` round-robin over the topic's queues (or to ``queue_id``), sleeping
    ``pause`` seconds between messages."""
    with Producer(unique("flink-test"), namesrv) as producer:
        target = None
        if queue_id is not None:
            queues = producer.fetch_publish_message_queues(topic)
            target = next(q for q in queues if q.queue_id == queue_id)
        for body in bodies:
            msg = Message(topic, body.encode())
            if tags:
                msg.tags = tags
            for name, value in (properties or {}).items():
                msg.put_user_property(name, value)
            producer.send(msg, target)
            if pause:
                time.sleep(pause)


def read_topic(namesrv: str, topic: str) -> list[MessageExt]:
    """Every visible message of ``topic`` (all queues, offset order per queue)."""
    with AdminClient(namesrv) as admin:
        api = admin.async_admin.api
        route = admin.topic_route(topic)
        subscription = SubscriptionData.build(topic, MessageSelector.by_tag("*"))
        out: list[MessageExt] = []
        for data in route.broker_datas:
            addr = data.master_addr
            queue_data = next(q for q in route.queue_datas if q.broker_name == data.broker_name)
            for qid in range(queue_data.read_queue_nums):
                mq = MessageQueue(topic, data.broker_name, qid)
                end = run_sync(api.get_max_offset(addr, mq), CALL_TIMEOUT)
                offset = run_sync(api.get_min_offset(addr, mq), CALL_TIMEOUT)
                while offset < end:
                    header = pull_header(
                        "flink-test-reader",
                        mq,
                        offset,
                        32,
                        subscription,
                        commit_offset=-1,
                        suspend_ms=0,
                    )
                    result = run_sync(api.pull_message(addr, header, CALL_TIMEOUT), CALL_TIMEOUT)
                    if result.status is PullStatus.FOUND:
                        out.extend(post_process(result, subscription, "flink-test-reader"))
                    if result.next_begin_offset <= offset:
                        break
                    offset = result.next_begin_offset
        return out


def bodies(messages: list[MessageExt]) -> list[str]:
    return sorted(m.body.decode() for m in messages)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll ``predicate`` until it returns a truthy value; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


# --- Flink jobs -----------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
TERMINAL = {"FINISHED", "FAILED", "CANCELED", "SUSPENDED"}


def make_env(parallelism: int = 2, checkpoint_ms: int | None = None, restarts: int = 0) -> Any:
    """A local StreamExecutionEnvironment with the connector jar, Python workers running this
    interpreter, and a fixed-delay restart strategy of ``restarts`` attempts (none when 0)."""
    import os

    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from rmq_flink import add_connector_jar

    # Python workers import test helpers (pickled by reference) from the repository root.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p
    )
    config = Configuration()
    config.set_string("python.executable", sys.executable)
    # Python operators hand each element on at once (no bundling), so a failure leaves output
    # sent after the last checkpoint behind: the case exactly-once must handle.
    config.set_string("python.fn-execution.bundle.size", "1")
    if restarts:
        config.set_string("restart-strategy.type", "fixed-delay")
        config.set_string("restart-strategy.fixed-delay.attempts", str(restarts))
        config.set_string("restart-strategy.fixed-delay.delay", "200 ms")
    else:
        config.set_string("restart-strategy.type", "none")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(parallelism)
    if checkpoint_ms:
        env.enable_checkpointing(checkpoint_ms)
    add_connector_jar(env)
    return env


def _await(future: Any, timeout: float, what: str) -> Any:
    wait_for(future.done, timeout, what, every=0.1)
    return future.result()


class Job:
    """A submitted job with bounded waits. The local cluster shuts down when the job ends, so
    the result future is taken at submission."""

    def __init__(self, env: Any, name: str) -> None:
        self.client = env.execute_async(name)
        self.result = self.client.get_job_execution_result()

    def status(self) -> str:
        return str(_await(self.client.get_job_status(), CALL_TIMEOUT, "the job status")).split(".")[
            -1
        ]

    def wait(self, timeout: float) -> None:
        """Wait for the job to end; a failed job raises its failure (Py4JJavaError)."""
        _await(self.result, timeout, "the job to end")

    def cancel(self) -> None:
        """Cancel the job unless it ended; the local cluster shuts down with it."""
        from py4j.protocol import Py4JJavaError

        try:
            ended = self.status() in TERMINAL
        except Py4JJavaError:  # "MiniCluster is not yet running or has already been shut down"
            return
        if not ended:
            _await(self.client.cancel(), 30.0, "the job to cancel")
