"""``rmq broker`` / ``rmq standalone`` processes: ready line, port taken, bad config, SIGTERM.

Each process writes stderr to a file (a pipe nobody reads could fill and block it) and its
stdout pipe is drained and closed by ``communicate()`` when it is stopped; the ``rmq`` fixture
stops whatever a test leaves running.
"""

from __future__ import annotations

import itertools
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# an unclosed stdout pipe or stderr file shows up as a ResourceWarning: fail on it
pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

RMQ = [sys.executable, "-m", "rmq_core.cli"]
READY_TIMEOUT = 20.0
EXIT_TIMEOUT = 20.0


@dataclass
class RmqProcess:
    """A running ``rmq`` command; stderr goes to ``stderr_path``."""

    proc: subprocess.Popen[str]
    stderr_path: Path

    def first_line(self, timeout: float = READY_TIMEOUT) -> str:
        """The first stdout line, or '' when the process exits or the timeout passes."""
        stdout = self.proc.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return ""
        return stdout.readline().strip()

    def finish(self, *, terminate: bool = True, sig: int = signal.SIGTERM) -> int:
        """Exit status, after sending ``sig`` if ``terminate`` and it still runs; drains and
        closes stdout. A process that does not exit in time is killed and the test fails."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        if terminate and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.communicate(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate(timeout=EXIT_TIMEOUT)
            raise
        return self.proc.returncode

    def stderr(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


Launch = Callable[..., RmqProcess]


@pytest.fixture
def rmq(tmp_path: Path) -> Iterator[Launch]:
    """``rmq(*args, cwd=tmp_path)`` starts ``python -m rmq_core.cli *args``; every process is
    stopped (SIGTERM, then SIGKILL) at the end of the test."""
    started: list[RmqProcess] = []
    numbers = itertools.count()

    def launch(*args: str, cwd: Path = tmp_path) -> RmqProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        stderr_path = tmp_path / f"rmq-{next(numbers)}.stderr"
        with stderr_path.open("w", encoding="utf-8") as stderr:
            proc = subprocess.Popen(
                [*RMQ, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        process = RmqProcess(proc, stderr_path)
        started.append(process)
        return process

    try:
        yield launch
    finally:
        for process in started:
            process.finish()


@pytest.fixture
def taken_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_broker_ready_line_and_sigterm(tmp_path: Path, rmq: Launch) -> None:
    process = rmq("broker", "--port", "0", "--store-dir", str(tmp_path / "s"))
    line = process.first_line()
    assert line.startswith("rmq broker broker-a listening on 127.0.0.1:"), line
    assert process.proc.poll() is None
    assert process.finish() == 0, process.stderr()
    assert (tmp_path / "s" / "config" / "topics.json").exists()
    assert not (tmp_path / "s" / "abort").exists()


def test_broker_port_taken(tmp_path: Path, rmq: Launch, taken_port: int) -> None:
    process = rmq("broker", "--port", str(taken_port), "--store-dir", str(tmp_path))
    assert process.finish(terminate=False) == 1
    error = process.stderr()
    assert f"cannot listen on 127.0.0.1:{taken_port}: address already in use" in error, error


def test_broker_bad_config_file(tmp_path: Path, rmq: Launch) -> None:
    conf = tmp_path / "broker.conf"
    conf.write_text("brokerName = b\nnoSuchKey = 1\n")
    process = rmq("broker", "-c", str(conf), "--port", "0")
    assert process.finish(terminate=False) == 2
    assert "noSuchKey" in process.stderr()


def test_broker_refuses_a_damaged_metadata_file(tmp_path: Path, rmq: Launch) -> None:
    config_dir = tmp_path / "s" / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "topics.json").write_text('{"topicConfigTable": {')
    conf = tmp_path / "broker.conf"  # small files: no 1 GiB commit log to map for nothing
    conf.write_text("mappedFileSizeCommitLog = 1048576\nmappedFileSizeConsumeQueue = 6000\n")
    process = rmq("broker", "-c", str(conf), "--port", "0", "--store-dir", str(tmp_path / "s"))
    assert process.finish(terminate=False) == 1
    error = process.stderr()
    assert "rmq broker: bad configuration: cannot load broker metadata:" in error, error
    assert f"{config_dir / 'topics.json'} is damaged" in error, error
    assert (config_dir / "topics.json").read_text() == '{"topicConfigTable": {'


def test_standalone_ready_and_sigint(tmp_path: Path, rmq: Launch) -> None:
    process = rmq("standalone", "--namesrv-port", "0", "--broker-port", "0")
    line = process.first_line()
    assert line.startswith("rmq standalone ready: namesrv 127.0.0.1:"), line
    assert "broker 127.0.0.1:" in line
    assert process.finish(sig=signal.SIGINT) == 0, process.stderr()
    assert (tmp_path / "data" / "store" / "config" / "subscriptionGroup.json").exists()


def test_standalone_namesrv_port_taken(tmp_path: Path, rmq: Launch, taken_port: int) -> None:
    started = time.monotonic()
    process = rmq("standalone", "--namesrv-port", str(taken_port))
    assert process.finish(terminate=False) == 1
    assert "address already in use" in process.stderr()
    assert time.monotonic() - started < EXIT_TIMEOUT
