"""``rmq namesrv`` as a subprocess: ready line, serving, port taken, SIGTERM/SIGINT shutdown."""

from __future__ import annotations

import asyncio
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rmq_core.namesrv.bodies import decode_cluster_info
from rmq_core.remoting.client import RemotingClient
from rmq_core.remoting.codes import RequestCode, ResponseCode
from rmq_core.remoting.command import RemotingCommand

TIMEOUT = 15.0
READY = re.compile(r"^rmq namesrv listening on (127\.0\.0\.1):(\d+)$")


def rmq(*args: str) -> list[str]:
    return [sys.executable, "-m", "rmq_core.cli", *args]


@contextmanager
def namesrv_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """Start ``rmq namesrv`` and stream its stdout lines into a queue; always stopped."""
    proc = subprocess.Popen(
        rmq("namesrv", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def ready_port(lines: queue.Queue[str]) -> int:
    line = lines.get(timeout=TIMEOUT)
    match = READY.match(line)
    assert match, f"unexpected first line {line!r}"
    return int(match.group(2))


def cluster_info(port: int) -> RemotingCommand:
    async def ask() -> RemotingCommand:
        async with RemotingClient() as client:
            request = RemotingCommand.request(RequestCode.GET_BROKER_CLUSTER_INFO)
            return await client.invoke(f"127.0.0.1:{port}", request, TIMEOUT)

    return asyncio.run(ask())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ready_line_serves_and_stops_on_signal(signum: signal.Signals) -> None:
    with namesrv_process("--port", "0") as (proc, lines):
        port = ready_port(lines)
        response = cluster_info(port)
        assert response.code == ResponseCode.SUCCESS
        assert decode_cluster_info(response.body).broker_addr_table == {}
        proc.send_signal(signum)
        assert proc.wait(TIMEOUT) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()


def test_port_taken_exits_non_zero_with_message() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            rmq("namesrv", "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    assert result.returncode == 1
    assert f"rmq namesrv: cannot listen on 127.0.0.1:{port}: address already in use" in (
        result.stderr
    )
    assert "listening on" not in result.stdout


def test_bad_options_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        rmq("namesrv", "--port", "70000"), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 2
    assert "port must be 0..65535" in result.stderr
    conf = tmp_path / "namesrv.conf"
    conf.write_text("listenPrt=1\n")
    result = subprocess.run(
        rmq("namesrv", "-c", str(conf)), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 2
    assert "unknown NameServer config key 'listenPrt'" in result.stderr


def test_config_file_and_kv_persistence(tmp_path: Path) -> None:
    kv = tmp_path / "kvConfig.json"
    conf = tmp_path / "namesrv.conf"
    conf.write_text(f"listenPort=0\nkvConfigPath={kv}\n")

    async def put(port: int) -> int:
        async with RemotingClient() as client:
            request = RemotingCommand.request(
                RequestCode.PUT_KV_CONFIG,
                ext_fields={"namespace": "ns", "key": "k", "value": "v"},
            )
            return (await client.invoke(f"127.0.0.1:{port}", request, TIMEOUT)).code

    with namesrv_process("-c", str(conf)) as (proc, lines):
        port = ready_port(lines)
        assert asyncio.run(put(port)) == ResponseCode.SUCCESS
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0
    assert '"k": "v"' in kv.read_text()
