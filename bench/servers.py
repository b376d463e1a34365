"""Start and stop the servers a benchmark drives: rmq, Redis, NATS, RabbitMQ.

Every server binds 127.0.0.1 on a free port, keeps its data under a folder the caller owns
(a temporary one), writes its output to ``<folder>/<name>.log`` and is stopped by the PID this
module started (SIGTERM, then SIGKILL after a grace period). Nothing here is left running:
:class:`ServerProcess` is a context manager and every start is bounded in time.

Peers come from Debian's packages (``make bench-peers``); :func:`peer_available` says whether
a peer's binary is installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ServerError",
    "ServerProcess",
    "ServerSpec",
    "free_port",
    "nats_spec",
    "peer_available",
    "process_tree_memory",
    "process_tree_rss",
    "rabbitmq_specs",
    "redis_spec",
    "rmq_spec",
    "wait_for_port",
]

STARTUP_TIMEOUT = 60.0
"""Seconds a server may take until its port accepts connections."""
STOP_GRACE = 15.0
"""Seconds between SIGTERM and SIGKILL."""

REDIS_SERVER = "redis-server"
NATS_SERVER = "nats-server"
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = "epmd"


class ServerError(RuntimeError):
    """A server did not start (its log tail is in the message)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll until 127.0.0.1:``port`` accepts a connection (True) or ``timeout`` s pass or
    ``alive()`` turns false (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.05)
    return False


_MEMORY_KEYS = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file", "RssShmem:": "shmem"}


def _memory_of(pid: int) -> dict[str, int]:
    out = dict.fromkeys(_MEMORY_KEYS.values(), 0)
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                key = _MEMORY_KEYS.get(line.split(" ", 1)[0].split("\t", 1)[0])
                if key is not None:
                    out[key] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as kids:
            out = [int(part) for part in kids.read().split()]
    except (OSError, ValueError):
        pass
    return out


def process_tree_memory(pid: int) -> dict[str, int]:
    """Memory in bytes of ``pid`` and all its descendants: ``rss`` (VmRSS), ``anon`` (heap
    and other private memory), ``file`` (mapped files, e.g. a commit log in the page cache),
    ``shmem``. All zero when the process is gone."""
    total = dict.fromkeys(_MEMORY_KEYS.values(), 0)
    todo, seen = [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for key, value in _memory_of(current).items():
            total[key] += value
        todo.extend(_children(current))
    return total


def process_tree_rss(pid: int) -> int:
    """Resident set size in bytes of ``pid`` and all its descendants (0 when gone)."""
    return process_tree_memory(pid)["rss"]


@dataclass(slots=True)
class ServerSpec:
    """How to run one server process: ``argv`` in ``cwd`` with ``env`` added, serving
    ``port`` (the readiness check) on 127.0.0.1."""

    name: str
    argv: Sequence[str]
    port: int
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = STARTUP_TIMEOUT
    wait_ready: bool = True


class ServerProcess:
    """One started server; ``stop()`` (or leaving the ``with`` block) ends it by PID."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = spec.cwd / f"{spec.name}.log"
        self.peak_rss = 0
        self.peak_anon = 0

    @property
    def pid(self) -> int:
        """PID of the started process; ServerError before start."""
        if self.process is None:
            raise ServerError(f"{self.spec.name} is not started")
        return self.process.pid

    @property
    def address(self) -> str:
        """``127.0.0.1:port``."""
        return f"127.0.0.1:{self.spec.port}"

    def start(self) -> ServerProcess:
        """Start the process and wait for its port; raise ServerError (after stopping it)
        when it exits or does not listen within ``startup_timeout`` s."""
        spec = self.spec
        spec.cwd.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **spec.env}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                list(spec.argv),
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not spec.wait_ready:
            return self
        process = self.process
        if not wait_for_port(spec.port, spec.startup_timeout, lambda: process.poll() is None):
            self.stop()
            raise ServerError(
                f"{spec.name} did not start listening on port {spec.port} within "
                f"{spec.startup_timeout:g}s; log tail:\n{self.log_tail()}"
            )
        return self

    def memory(self) -> dict[str, int]:
        """Current memory (see :func:`process_tree_memory`) of the server and its children;
        updates ``peak_rss`` and ``peak_anon``."""
        if self.process is None or self.process.poll() is not None:
            return process_tree_memory(-1)
        memory = process_tree_memory(self.process.pid)
        self.peak_rss = max(self.peak_rss, memory["rss"])
        self.peak_anon = max(self.peak_anon, memory["anon"])
        return memory

    def rss(self) -> int:
        """Current RSS in bytes of the server and its children; updates the peaks."""
        return self.memory()["rss"]

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM, wait up to ``grace`` s, then SIGKILL; return the exit status."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(5)
        return process.returncode

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def peer_available(name: str) -> bool:
    """Whether the binary of peer ``name`` ("redis", "nats", "rabbitmq") is installed."""
    binary = {"redis": REDIS_SERVER, "nats": NATS_SERVER, "rabbitmq": RABBITMQ_SERVER}.get(name)
    if binary is None:
        raise ValueError(f"unknown peer {name!r}")
    if os.path.isabs(binary):
        return os.access(binary, os.X_OK) and shutil.which(EPMD) is not None
    return shutil.which(binary) is not None


def redis_spec(workdir: Path, *, durable: bool, port: int | None = None) -> ServerSpec:
    """Redis without persistence, or (``durable``) with an AOF fsynced on every write."""
    port = port or free_port()
    argv = [
        REDIS_SERVER,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(workdir),
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
    ]  # fmt: skip
    if durable:
        argv += ["--appendonly", "yes", "--appendfsync", "always"]
    else:
        argv += ["--appendonly", "no"]
    return ServerSpec("redis", argv, port, workdir)


def nats_spec(workdir: Path, *, port: int | None = None) -> ServerSpec:
    """NATS with JetStream on file storage under ``workdir``."""
    port = port or free_port()
    argv = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(workdir / "js")]
    return ServerSpec("nats", argv, port, workdir)


def rabbitmq_specs(workdir: Path, *, port: int | None = None) -> tuple[ServerSpec, ServerSpec]:
    """A private ``epmd`` and a RabbitMQ node using it, both under ``workdir``.

    Start the epmd spec first and stop it last. The node keeps mnesia, logs, config and the
    Erlang cookie (``HOME``) under ``workdir``; nothing touches the system-wide node.
    """
    port = port or free_port()
    epmd_port = free_port()
    dist_port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "enabled_plugins").write_text("[].\n")
    (workdir / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n"
    )
    env = {
        "HOME": str(workdir),
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_NODENAME": f"rmqbench{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
    }
    epmd = ServerSpec(
        "epmd", [EPMD, "-port", str(epmd_port)], epmd_port, workdir, env={"HOME": str(workdir)}
    )
    node = ServerSpec("rabbitmq", [RABBITMQ_SERVER], port, workdir, env=env)
    return epmd, node


def _free_broker_port() -> int:
    """A free port ``p`` with ``p - 2`` free too (the broker's fast port, RocketMQ's VIP
    channel)."""
    for _ in range(50):
        port = free_port()
        if port <= 1026:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port - 2))
            except OSError:
                continue
        return port
    raise ServerError("no free pair of ports for the broker")


def rmq_spec(
    workdir: Path,
    *,
    flush_disk_type: str = "ASYNC_FLUSH",
    port: int | None = None,
    config: Path | None = None,
) -> ServerSpec:
    """``rmq standalone`` (NameServer and broker in one process and one event loop) with its
    data under ``workdir``; ``port`` is the NameServer's (the readiness check), the broker's
    address is in ``spec.env["RMQ_BENCH_BROKER_ADDR"]``. ``config`` is a broker.conf."""
    if flush_disk_type not in ("ASYNC_FLUSH", "SYNC_FLUSH"):
        raise ValueError(
            f"flush_disk_type must be ASYNC_FLUSH or SYNC_FLUSH, not {flush_disk_type}"
        )
    port = port or free_port()
    broker_port = _free_broker_port()
    argv = [
        sys.executable, "-m", "rmq_core.cli", "--log-level", "WARNING", "standalone",
        "--namesrv-port", str(port),
        "--broker-port", str(broker_port),
        "--store-dir", str(workdir / "data"),
        "--flush", "sync" if flush_disk_type == "SYNC_FLUSH" else "async",
    ]  # fmt: skip
    if config is not None:
        argv += ["-c", str(config)]
    spec = ServerSpec("rmq", argv, port, workdir)
    spec.env["RMQ_BENCH_BROKER_ADDR"] = f"127.0.0.1:{broker_port}"
    return spec
