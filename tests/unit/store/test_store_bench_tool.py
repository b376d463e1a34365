"""The store benchmark tool runs tiny and bounded, and handles its arguments (not speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import store as bench_store


def test_bench_store_tiny_run_reports_every_phase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = bench_store.main(
        ["--duration", "0.2", "--max-messages", "50", "--writers", "1,4",
         "--segment-size", "65536", "--dir", str(tmp_path), "--json"]
    )  # fmt: skip
    assert status == 0
    phases = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in phases] == [
        "page-cache write",
        "write+fdatasync per record",
        "store ASYNC_FLUSH, 1 writer",
        "store ASYNC_FLUSH, append only",
        "store SYNC_FLUSH, 1 writers",
        "store SYNC_FLUSH, 4 writers",
    ]
    assert all(0 < p["ops"] <= 50 for p in phases)
    assert list(tmp_path.iterdir()) == []  # temporary stores removed


@pytest.mark.parametrize("args", [["--writers", "x"], ["--writers", "0"], ["--duration", "0"]])
def test_bench_store_rejects_bad_arguments(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_store.main(args) == 2
    assert capsys.readouterr().err


def test_rmq_bench_store_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rmq_core.cli", "bench", "store", "--duration", "0.1",
         "--max-messages", "20", "--writers", "2", "--segment-size", "65536",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "store SYNC_FLUSH, 2 writers" in proc.stdout
