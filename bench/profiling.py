"""Sampling profiles of a running broker with py-spy, summarised as text.

``rmq bench producer --standalone --profile-broker PREFIX`` (and the same for any PID with
:func:`record`) runs ``py-spy record --threads -f raw`` against the broker while the workload
runs, keeps the raw stacks in ``PREFIX.raw`` and writes ``PREFIX.txt``: samples per thread and
the functions with the most samples, by self time and inclusive, **idle samples removed** (a
thread blocked in ``Condition.wait``, ``epoll`` or an executor queue is not using the CPU).

py-spy comes with the ``bench`` extra; it needs permission to read the broker's memory (root,
or ``ptrace_scope`` 0).
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["IDLE_LEAVES", "find_py_spy", "record", "summarize"]

IDLE_LEAVES = (
    "Condition.wait",
    "Event.wait",
    "_worker (concurrent/futures/thread.py",
    "EpollSelector.select",
    "select (selectors.py",
    "sleep",
)
"""Leaf frames that mean the thread was waiting, not running."""


def find_py_spy() -> str | None:
    """Path of the py-spy executable next to this interpreter or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def record(pid: int, seconds: float, raw_path: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    """Start py-spy sampling ``pid`` for ``seconds`` into ``raw_path``; returns the process
    (wait for it). RuntimeError when py-spy is not installed."""
    exe = find_py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
    argv = [
        exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
        "--rate", str(rate), "--threads", "--format", "raw", "--output", str(raw_path),
        "--nonblocking",
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarize(raw_text: str, top: int = 25) -> str:
    """Text summary of py-spy raw output (``frame;frame;... count`` lines)."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    active = idle = 0
    for line in raw_text.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(frames[-1].startswith(leaf) for leaf in IDLE_LEAVES):
            idle += count
            continue
        active += count
        thread = frames[0] if frames[0].startswith("thread") else "?"
        threads[thread] += count
        self_time[frames[-1]] += count
        for frame in set(frames[1:]):
            inclusive[frame] += count
    if not active:
        return f"no active samples ({idle} idle)\n"
    lines = [f"active samples {active}, idle {idle}", "", "per thread:"]
    lines += [f"  {n:7d}  {name}" for name, n in threads.most_common()]
    lines += ["", "self time:"]
    lines += [f"  {100 * n / active:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * n / active:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"
