"""``rmq broker`` / ``rmq standalone`` processes: ready line, port taken, bad config, SIGTERM."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RMQ = [sys.executable, "-m", "rmq_core.cli"]
READY_TIMEOUT = 20.0
EXIT_TIMEOUT = 20.0


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [*RMQ, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(proc: subprocess.Popen[str], timeout: float = READY_TIMEOUT) -> str:
    """The first stdout line, or '' when the process exits or the timeout passes."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return proc.stdout.readline().strip()


def stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(EXIT_TIMEOUT)
        raise


@pytest.fixture
def taken_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_broker_ready_line_and_sigterm(tmp_path: Path) -> None:
    proc = start("broker", "--port", "0", "--store-dir", str(tmp_path / "s"), cwd=tmp_path)
    try:
        line = first_line(proc)
        assert line.startswith("rmq broker broker-a listening on 127.0.0.1:"), line
        assert proc.poll() is None
    finally:
        status = stop(proc)
    assert status == 0, proc.stderr.read() if proc.stderr else ""
    assert (tmp_path / "s" / "config" / "topics.json").exists()
    assert not (tmp_path / "s" / "abort").exists()


def test_broker_port_taken(tmp_path: Path, taken_port: int) -> None:
    proc = start("broker", "--port", str(taken_port), "--store-dir", str(tmp_path), cwd=tmp_path)
    try:
        status = proc.wait(EXIT_TIMEOUT)
    finally:
        stop(proc)
    assert status == 1
    assert proc.stderr is not None
    error = proc.stderr.read()
    assert f"cannot listen on 127.0.0.1:{taken_port}: address already in use" in error


def test_broker_bad_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "broker.conf"
    conf.write_text("brokerName = b\nnoSuchKey = 1\n")
    proc = start("broker", "-c", str(conf), "--port", "0", cwd=tmp_path)
    try:
        status = proc.wait(EXIT_TIMEOUT)
    finally:
        stop(proc)
    assert status == 2
    assert proc.stderr is not None and "noSuchKey" in proc.stderr.read()


def test_broker_refuses_a_damaged_metadata_file(tmp_path: Path) -> None:
    config_dir = tmp_path / "s" / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "topics.json").write_text('{"topicConfigTable": {')
    conf = tmp_path / "broker.conf"  # small files: no 1 GiB commit log to map for nothing
    conf.write_text("mappedFileSizeCommitLog = 1048576\nmappedFileSizeConsumeQueue = 6000\n")
    proc = start(
        "broker", "-c", str(conf), "--port", "0", "--store-dir", str(tmp_path / "s"), cwd=tmp_path
    )
    try:
        status = proc.wait(EXIT_TIMEOUT)
    finally:
        stop(proc)
    assert status == 1
    assert proc.stderr is not None
    error = proc.stderr.read()
    assert "rmq broker: bad configuration: cannot load broker metadata:" in error, error
    assert f"{config_dir / 'topics.json'} is damaged" in error, error
    assert (config_dir / "topics.json").read_text() == '{"topicConfigTable": {'


def test_standalone_ready_and_sigint(tmp_path: Path) -> None:
    proc = start("standalone", "--namesrv-port", "0", "--broker-port", "0", cwd=tmp_path)
    try:
        line = first_line(proc)
        assert line.startswith("rmq standalone ready: namesrv 127.0.0.1:"), line
        assert "broker 127.0.0.1:" in line
        proc.send_signal(signal.SIGINT)
        status = proc.wait(EXIT_TIMEOUT)
    finally:
        stop(proc)
    assert status == 0
    assert (tmp_path / "data" / "store" / "config" / "subscriptionGroup.json").exists()


def test_standalone_namesrv_port_taken(tmp_path: Path, taken_port: int) -> None:
    started = time.monotonic()
    proc = start("standalone", "--namesrv-port", str(taken_port), cwd=tmp_path)
    try:
        status = proc.wait(EXIT_TIMEOUT)
    finally:
        stop(proc)
    assert status == 1
    assert proc.stderr is not None
    assert "address already in use" in proc.stderr.read()
    assert time.monotonic() - started < EXIT_TIMEOUT
