"""Figures, rmq/peer ratios, target verdicts, Markdown and the docs section of a compare run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.compare import DOCS_BEGIN, DOCS_END, _host_facts, render_markdown, update_docs
from bench.table import comparison_table, figure_value, format_number, ratio, target_rows


def sample_run() -> dict[str, Any]:
    def result(rate: float, p50: float | None = None, p99: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"rate": rate, "messages": 1000}
        if p50 is not None:
            out["latency_us"] = {"p50": p50, "p99": p99}
        return out

    return {
        "started": "2026-01-01 00:00 UTC",
        "systems": ["rmq", "redis", "nats"],
        "settings": {"size": 1024, "duration": 10, "e2e_duration": 10, "rate": 1000},
        "host": {"cpus": 2, "python": "3.11", "loadavg_before": [0.5, 0, 0], "versions": {}},
        "results": {
            "rmq": {
                "send_sync": result(9000, 100, 300),
                "send_pipelined": result(120_000),
                "consume": result(150_000),
                "e2e": result(1000, 400, 1500),
                "send_durable": result(60_000),
            },
            "redis": {
                "send_sync": result(7000, 120, 260),
                "send_pipelined": result(60_000),
                "consume": {"error": "exit status 1: boom"},
                "e2e": result(1000, 300, 3000),
                "send_durable": result(20_000),
            },
            "nats": {"send_durable": {"unsupported": "no fsync", "messages": 0}},
        },
        "servers": {"rmq": {"async": {"peak_rss": 100 * 2**20}}, "redis": {}},
        "soak": {"gib": 5.0, "rate": 110_000, "peak_rss": 300 * 2**20, "bounded": True,
                 "rss_growth_after_first_gib": 2**20},
    }  # fmt: skip


def test_figure_value_and_ratio() -> None:
    run = sample_run()
    assert figure_value(run["results"]["rmq"]["e2e"], "latency_us.p99") == 1500
    assert figure_value(run["results"]["redis"]["consume"], "rate") is None
    assert figure_value({"rate": 5.0, "messages": 0}, "rate") is None
    assert figure_value(None, "rate") is None
    assert ratio(120_000, 60_000) == 2.0
    assert ratio(1, 0) is None
    assert ratio(None, 1) is None


def test_format_number() -> None:
    assert format_number(None) == "-"
    assert format_number(123456.7) == "123,457"
    assert format_number(0.5) == "0.50"
    assert format_number(250, "µs") == "250 µs"
    assert format_number(25_000, "µs") == "25.0 ms"


def test_comparison_table_has_ratios_and_states() -> None:
    table = comparison_table(sample_run())
    lines = table.splitlines()
    assert lines[0].startswith("| workload | unit | rmq | Redis Streams | rmq/Redis Streams |")
    row = next(line for line in lines if line.startswith("| pipelined/batched send"))
    assert "| 120,000 | 60,000 | 2.00x |" in row
    consume = next(line for line in lines if line.startswith("| consume"))
    assert "failed" in consume
    durable = next(line for line in lines if line.startswith("| durable send"))
    assert "n/a" in durable
    assert any(line.startswith("| server peak RSS (heap) | MiB | 100 (0) |") for line in lines)


def test_target_verdicts() -> None:
    rows = {label: (reached, verdict) for label, reached, verdict in target_rows(sample_run())}
    assert rows["pipelined/batched send, ASYNC_FLUSH >= 100k msg/s"][1] == "met"
    assert rows["pipelined/batched send >= 1.5x Redis Streams"] == ("2.00x", "met")
    assert rows["SYNC_FLUSH send with batching >= 50k msg/s"][1] == "met"
    assert rows["consume >= 200k msg/s"][1] == "not met"
    assert rows["e2e latency at 1,000 msg/s p99 <= 2 ms"][1] == "met"
    assert rows["broker memory bounded while 5 GiB pass through"][1] == "met"
    empty = {label: verdict for label, _, verdict in target_rows({"results": {}})}
    assert set(empty.values()) == {"not measured"}


def test_markdown_and_docs_section(tmp_path: Path) -> None:
    text = render_markdown(sample_run(), "rmq bench compare --duration 10", "plot.png")
    assert "Command: `rmq bench compare --duration 10`" in text
    assert "![throughput and latency per workload](plot.png)" in text
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Message store\n\nstore text\n")
    update_docs(doc, "first table")
    update_docs(doc, "second table")
    content = doc.read_text()
    assert "store text" in content
    assert "first table" not in content
    assert content.count(DOCS_BEGIN) == 1 and content.count(DOCS_END) == 1
    assert f"{DOCS_BEGIN}\nsecond table\n{DOCS_END}" in content
    fresh = tmp_path / "new" / "benchmarks.md"
    update_docs(fresh, "t")
    assert DOCS_BEGIN in fresh.read_text()


def test_markdown_names_the_interpreter_build() -> None:
    run = sample_run()
    assert "(/usr/bin" not in render_markdown(run, "rmq bench compare", "plot.png")
    run["host"].update(python_executable="/usr/bin/python3.11", python_libpython_shared=False)
    text = render_markdown(run, "rmq bench compare", "plot.png")
    assert "Python 3.11 (/usr/bin/python3.11, static executable)," in text
    run["host"]["python_libpython_shared"] = True
    assert "shared libpython" in render_markdown(run, "rmq bench compare", "plot.png")


def test_markdown_names_only_the_peers_that_ran() -> None:
    run = sample_run()  # systems rmq, redis, nats
    run["host"]["versions"] = {"redis": "7.0", "nats": "2.9", "rabbitmq": "3.10"}
    text = render_markdown(run, "rmq bench compare", None)
    assert "peers: redis 7.0, nats 2.9." in text
    assert "rabbitmq" not in text


def test_render_without_docs_points_to_its_own_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from rmq_core.cli import main

    recorded = tmp_path / "run.json"
    recorded.write_text(json.dumps(sample_run()))
    out = tmp_path / "out"
    assert main(["bench", "compare", "--render", str(recorded), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "`compare.json`" in printed and "benchmarks-compare.json" not in printed
    assert (
        f"results: {out / 'compare.json'}, {out / 'compare.md'}, {out / 'benchmarks-compare.png'}"
        in printed
    )


def test_host_facts_record_the_interpreter_that_ran() -> None:
    facts = _host_facts()
    assert facts["python_executable"] == os.path.realpath(sys.executable)
    assert isinstance(facts["python_libpython_shared"], bool)


def test_compare_render_rewrites_outputs_without_running(tmp_path: Path) -> None:
    import json

    from rmq_core.cli import main

    recorded = tmp_path / "run.json"
    run = sample_run()
    run["command"] = "rmq bench compare --duration 10"
    recorded.write_text(json.dumps(run))
    docs = tmp_path / "docs" / "benchmarks.md"
    docs.parent.mkdir()
    argv = ["bench", "compare", "--systems", "rmq", "--render", str(recorded)]
    argv += ["--out", str(tmp_path / "out"), "--docs", str(docs)]
    assert main(argv) == 0
    text = docs.read_text()
    assert "Command: `rmq bench compare --duration 10`" in text
    assert (docs.parent / "benchmarks-compare.png").exists()
    assert json.loads((docs.parent / "benchmarks-compare.json").read_text())["command"]
    assert not (tmp_path / "out" / "compare.json").exists()
    assert main([*argv[:4], "--render", str(tmp_path / "missing.json")]) == 2


def test_combine_rounds_takes_medians() -> None:
    from bench.compare import combine_rounds

    rounds = [
        {"rate": 10.0, "messages": 1, "latency_us": {"p50": 5.0, "p99": 50.0}},
        {"rate": 30.0, "messages": 3, "latency_us": {"p50": 1.0, "p99": 10.0}},
        {"rate": 20.0, "messages": 2, "latency_us": {"p50": 3.0, "p99": 90.0}},
        {"error": "timed out"},
    ]
    combined = combine_rounds(rounds)
    assert combined["rate"] == 20.0
    assert combined["messages"] == 2
    assert combined["latency_us"] == {"p50": 3.0, "p99": 50.0}
    assert len(combined["rounds"]) == 4
    assert combine_rounds([{"error": "x"}]) == {"error": "x"}
    assert combine_rounds([{"rate": 1.0}]) == {"rate": 1.0}


def concurrent_row(run: dict[str, Any]) -> str:
    lines = comparison_table(run).splitlines()
    labels = [line.split(" | ")[0] for line in lines[2:]]
    index = labels.index("| sync send, 64 concurrent senders")
    assert labels[index - 2 : index] == ["| one-at-a-time sync send", "| sync send RT p99"]
    assert labels[index + 1] == "| pipelined/batched send"
    return lines[2 + index]


def test_concurrent_senders_row_with_the_figure() -> None:
    run = sample_run()
    run["results"]["rmq"]["send_concurrent"] = {"rate": 14_000.0, "messages": 140_000}
    run["results"]["redis"]["send_concurrent"] = {"rate": 10_000.0, "messages": 100_000}
    row = concurrent_row(run)
    assert row == "| sync send, 64 concurrent senders | msg/s | 14,000 | 10,000 | 1.40x | - | - |"
    labels = [label for label, _, _ in target_rows(run)]
    assert not any("concurrent" in label for label in labels)


def test_concurrent_senders_row_of_a_run_recorded_before_it() -> None:
    row = concurrent_row(sample_run())
    assert row == "| sync send, 64 concurrent senders | msg/s | - | - | - | - | - |"
