"""Fixtures that run the real third-party clients' drivers (see tests/interop/README.md).

``run_driver(client, role, options, timeout)`` runs ``tests/interop/<client>/<role>`` to the
end and returns a :class:`DriverRun`; ``start_driver`` starts one in the background (e.g. a
consumer before the producer) and stops it at teardown. ``client`` is ``"node"`` (ali-ons) or
``"cpp"`` (rocketmq 0.4.4); ``role`` is ``"produce"`` or ``"consume"``; ``options`` uses the
drivers' long flag names (``{"namesrv": ..., "key-prefix": ..., "property": {...}}``).
The session fixture ``interop_env`` runs ``make interop-env`` (a no-op when up to date).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INTEROP = REPO / "tests" / "interop"
INTEROP_PYTHON = REPO / ".venv-interop" / "bin" / "python"
INSTALL_TIMEOUT = 600.0
KILL_GRACE = 5.0
CLIENTS = ("node", "cpp")
ROLES = ("produce", "consume")


@dataclass
class DriverRun:
    """A finished driver: its exit code, its JSON events (summary last) and its stderr."""

    command: list[str]
    returncode: int
    events: list[dict[str, Any]]
    stderr: str
    elapsed: float
    stray_stdout: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        """The final summary line; fails the test when the driver did not print exactly one."""
        summaries = [e for e in self.events if e.get("event") == "summary"]
        assert len(summaries) == 1, f"expected one summary, got {summaries!r}\n{self.stderr}"
        assert self.events[-1] is summaries[0], "the summary must be the last line"
        return summaries[0]

    def of(self, event: str) -> list[dict[str, Any]]:
        """Every event of one kind (``"sent"``, ``"message"``, ``"client_error"``, ...)."""
        return [e for e in self.events if e.get("event") == event]


def driver_command(client: str, role: str, options: dict[str, Any]) -> list[str]:
    """The argv that runs one driver with ``options`` passed as ``--json``."""
    assert client in CLIENTS and role in ROLES, (client, role)
    payload = json.dumps(options)
    if client == "node":
        return ["node", str(INTEROP / "node" / f"{role}.js"), "--json", payload]
    return [str(INTEROP_PYTHON), str(INTEROP / "cpp" / f"{role}.py"), "--json", payload]


def _parse(stdout: str) -> tuple[list[dict[str, Any]], list[str]]:
    events: list[dict[str, Any]] = []
    stray: list[str] = []
    for line in stdout.splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            stray.append(line)
            continue
        if isinstance(value, dict):
            events.append(value)
        else:
            stray.append(line)
    return events, stray


class DriverProcess:
    """A driver running in the background; :meth:`wait` collects it."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=INTEROP
        )

    def wait(self, timeout: float) -> DriverRun:
        """Wait up to ``timeout`` s (then kill it and fail) and parse its output."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"driver did not finish within {timeout}s: {self.command}")
        events, stray = _parse(stdout)
        elapsed = time.monotonic() - self.started
        return DriverRun(self.command, self.process.returncode, events, stderr, elapsed, stray)

    def stop(self) -> None:
        """Kill the driver if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
            self.process.communicate(timeout=KILL_GRACE)


@pytest.fixture(scope="session")
def interop_env() -> None:
    """Install ali-ons and the C++ client (``make interop-env``) once per session."""
    result = subprocess.run(
        ["make", "-s", "interop-env"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"make interop-env failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture
def start_driver(interop_env: None) -> Iterator[Callable[..., DriverProcess]]:
    """Start drivers in the background; every one still running is killed at teardown."""
    started: list[DriverProcess] = []

    def start(client: str, role: str, options: dict[str, Any]) -> DriverProcess:
        driver = DriverProcess(driver_command(client, role, options))
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.stop()


@pytest.fixture
def run_driver(start_driver: Callable[..., DriverProcess]) -> Callable[..., DriverRun]:
    """Run a driver to completion (killed and failed after ``timeout`` seconds)."""

    def run(client: str, role: str, options: dict[str, Any], timeout: float = 60.0) -> DriverRun:
        return start_driver(client, role, options).wait(timeout)

    return run
