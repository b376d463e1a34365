"""The comparison plot is a real PNG drawn from a run."""

from __future__ import annotations

from pathlib import Path

from bench.plot import plot_run
from tests.unit.bench.test_bench_table import sample_run


def test_plot_writes_png(tmp_path: Path) -> None:
    path = plot_run(sample_run(), tmp_path / "out" / "compare.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_plot_copes_with_missing_figures(tmp_path: Path) -> None:
    run = {"systems": ["rmq", "redis"], "results": {"rmq": {}, "redis": {}}}
    assert plot_run(run, tmp_path / "empty.png").exists()


def test_plot_draws_the_concurrent_senders_figure(tmp_path: Path) -> None:
    run = sample_run()
    run["results"]["rmq"]["send_concurrent"] = {"rate": 14_000.0, "messages": 140_000}
    assert plot_run(run, tmp_path / "concurrent.png").read_bytes().startswith(b"\x89PNG")
