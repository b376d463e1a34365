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
        ["--duration", "0.2", "--max-messages", "50", "--writers", "1,4", "--batch", "8",
         "--segment-size", "65536", "--dir", str(tmp_path), "--json"]
    )  # fmt: skip
    assert status == 0
    phases = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in phases] == [
        "page-cache write",
        "write+fdatasync per record",
        "store ASYNC_FLUSH, 1 writer",
        "store ASYNC_FLUSH, 1 writer, append only",
        "store ASYNC_FLUSH, batches of 8",
        "store ASYNC_FLUSH, batches of 8, append only",
        "store SYNC_FLUSH, 1 writers, deferred dispatch (as the broker)",
        "store SYNC_FLUSH, 4 writers, deferred dispatch (as the broker)",
        "store SYNC_FLUSH, 4 writers, inline dispatch (store default)",
        "store SYNC_FLUSH, 4 writers x batches of 8",
    ]
    assert all(0 < p["ops"] <= 50 for p in phases)
    assert list(tmp_path.iterdir()) == []  # temporary stores removed


def test_bench_store_report_names_the_phase_meeting_each_target() -> None:
    results = [
        bench_store.PhaseResult("write+fdatasync per record", 3_000, 0, 1.0),
        bench_store.PhaseResult("store ASYNC_FLUSH, 1 writer", 40_000, 0, 1.0),
        bench_store.PhaseResult("store ASYNC_FLUSH, batches of 32, append only", 310_000, 0, 1.0),
        bench_store.PhaseResult(
            f"store SYNC_FLUSH, 64 writers, {bench_store.DEFERRED}", 29_000, 0, 1.0
        ),
        bench_store.PhaseResult(
            f"store SYNC_FLUSH, 64 writers, {bench_store.INLINE}", 60_000, 0, 1.0
        ),
        bench_store.PhaseResult("store SYNC_FLUSH, 64 writers x batches of 32", 90_000, 0, 1.0),
    ]
    report = bench_store._report(results, 1024)
    assert "1 writer: 40,000 -> not met" in report
    assert "batches of 32, append only (dispatch excluded): 310,000 -> met" in report
    assert "64 writers, deferred dispatch (as the broker): 29,000 = 9.7x -> not met" in report
    assert "default): 60,000 = 20.0x -> not judged (the broker defers the dispatch)" in report
    assert "64 writers x batches of 32: 90,000 = 30.0x -> met" in report


@pytest.mark.parametrize(
    "args", [["--writers", "x"], ["--writers", "0"], ["--duration", "0"], ["--batch", "0"]]
)
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
    assert "store SYNC_FLUSH, 2 writers, deferred dispatch (as the broker)" in proc.stdout
    assert "store SYNC_FLUSH, 2 writers, inline dispatch (store default)" in proc.stdout
