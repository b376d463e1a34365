"""Tiny, bounded runs of rmq bench producer / consumer / compare against a real broker.

A private ``rmq standalone`` runs as a subprocess on free loopback ports; every run is bounded
by a message count and a duration. These tests check behaviour (lines, JSON, counts, files),
never speed.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.servers import ServerProcess, peer_available, redis_spec, rmq_spec
from bench.workload import WorkloadParams, run_workload
from rmq_core.cli import main

SEND_LINE = re.compile(r"^Current Time: \d+ \| Send TPS: \d+ \| Max RT\(ms\)")
CONSUME_LINE = re.compile(r"^Current Time: \d+ \| Consume TPS: \d+ \| AVG\(B2C\) RT\(ms\)")


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(rmq_spec(tmp_path_factory.mktemp("rmq"))) as server:
        yield server


def run_tool(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    """Run ``rmq`` in-process; return the JSON result line and the other output."""
    assert main(["--log-level", "WARNING", *argv]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines and lines[-1].startswith("{"), out
    return json.loads(lines[-1]), "\n".join(lines[:-1])


def test_raw_async_batched_producer_then_raw_consumer(
    standalone: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    result, text = run_tool(
        ["bench", "producer", "-n", standalone.address, "-t", "BenchRaw", "--client", "raw",
         "-m", "async", "-b", "16", "--window", "4", "-w", "2", "-s", "256",
         "--messages", "512", "-d", "30", "--report-interval", "0.2", "--no-progress"],
        capsys,
    )  # fmt: skip
    assert result["tool"] == "producer"
    assert result["messages"] == 512
    assert result["send_failed"] == 0 and result["response_failed"] == 0
    assert result["rt_us"]["count"] == 512 // 16
    assert all(SEND_LINE.match(line) for line in text.splitlines())

    result, text = run_tool(
        ["bench", "consumer", "-n", standalone.address, "-t", "BenchRaw", "--client", "raw",
         "--from", "first", "--messages", "512", "-d", "30", "--report-interval", "0.5",
         "--no-progress"],
        capsys,
    )  # fmt: skip
    assert result["tool"] == "consumer"
    assert result["messages"] == 512
    assert result["born_to_consume_us"]["count"] == 512
    assert all(CONSUME_LINE.match(line) for line in text.splitlines())


def test_full_client_sync_producer_then_push_consumer(
    standalone: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    result, _ = run_tool(
        ["bench", "producer", "-n", standalone.address, "-t", "BenchFull", "-w", "2",
         "--messages", "40", "-d", "30", "--no-progress"],
        capsys,
    )  # fmt: skip
    assert result["messages"] == 40
    assert result["rt_us"]["count"] == 40

    result, _ = run_tool(
        ["bench", "consumer", "-n", standalone.address, "-t", "BenchFull", "-g", "bench_full",
         "--from", "first", "--messages", "40", "-d", "30", "--no-progress"],
        capsys,
    )  # fmt: skip
    assert result["messages"] >= 40
    assert result["store_to_consume_us"]["count"] == result["messages"]


def test_producer_with_its_own_standalone_broker(capsys: pytest.CaptureFixture[str]) -> None:
    result, _ = run_tool(
        ["bench", "producer", "--standalone", "--flush", "sync", "-w", "4", "-m", "oneway",
         "--client", "raw", "--messages", "100", "-d", "30", "--no-progress"],
        capsys,
    )  # fmt: skip
    assert result["messages"] == 100
    assert result["broker"]["flush"] == "sync"
    assert result["broker"]["rss"] > 0


def compare(tmp_path: Path, systems: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    docs = tmp_path / "docs" / "benchmarks.md"
    docs.parent.mkdir()
    docs.write_text("# Benchmarks\n\n## Message store\n\nkept\n")
    argv = [
        "--log-level", "WARNING", "bench", "compare", "--systems", systems,
        "--workloads", "send_sync,send_concurrent,send_pipelined,consume,e2e", "--duration", "1",
        "--e2e-duration", "1", "--rmq-batch", "8", "--rmq-window", "2",
        "--out", str(tmp_path / "out"), "--docs", str(docs),
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| workload | unit | rmq |" in printed
    run: dict[str, Any] = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert (tmp_path / "out" / "benchmarks-compare.png").read_bytes().startswith(b"\x89PNG")
    assert (docs.parent / "benchmarks-compare.png").exists()
    text = docs.read_text()
    assert "kept" in text and "<!-- bench:compare:begin -->" in text
    return run


def test_compare_rmq_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = compare(tmp_path, "rmq", capsys)
    results = run["results"]["rmq"]
    for workload in ("send_sync", "send_concurrent", "send_pipelined", "consume", "e2e"):
        assert "error" not in results[workload], results[workload]
        assert results[workload]["messages"] > 0
    assert results["consume"]["messages"] >= results["send_pipelined"]["messages"]
    assert run["servers"]["rmq"]["async"]["peak_rss"] > 0


@pytest.mark.skipif(
    not peer_available("redis") or importlib.util.find_spec("redis") is None,
    reason="needs redis-server and redis-py (make bench-peers)",
)
def test_compare_rmq_and_redis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = compare(tmp_path, "rmq,redis", capsys)
    for workload in ("send_sync", "send_concurrent", "send_pipelined", "consume", "e2e"):
        assert run["results"]["redis"][workload]["messages"] > 0
    assert run["results"]["redis"]["send_concurrent"]["notes"]["senders"] == 64


@pytest.mark.parametrize("listener", ["async", "thread"])
def test_e2e_workload_with_either_listener(standalone: ServerProcess, listener: str) -> None:
    params = WorkloadParams(
        workload="e2e",
        address=standalone.address,
        duration=1.0,
        rate=200.0,
        topic=f"BenchE2E{listener.capitalize()}",
        options={"listener": listener},
    )
    result = run_workload("rmq", params)
    assert result["notes"]["listener"] == listener
    assert result["messages"] == result["notes"]["sent"] > 0
    assert result["errors"] == 0 and result["latency_us"]["count"] == result["messages"]


def test_send_concurrent_workload(standalone: ServerProcess) -> None:
    params = WorkloadParams(
        workload="send_concurrent",
        address=standalone.address,
        duration=0.5,
        depth=4,
        topic="BenchConcurrent",
    )
    result = run_workload("rmq", params)
    assert result["messages"] > 0 and result["errors"] == 0
    assert result["latency_us"]["count"] == result["messages"]
    assert result["notes"] == {"senders": 4, "client": "full"}


@pytest.mark.skipif(
    not peer_available("redis") or importlib.util.find_spec("redis") is None,
    reason="needs redis-server and redis-py (make bench-peers)",
)
@pytest.mark.parametrize("concurrency", ["asyncio", "threads"])
def test_redis_send_concurrent_workload(tmp_path: Path, concurrency: str) -> None:
    with ServerProcess(redis_spec(tmp_path, durable=False)) as redis:
        params = WorkloadParams(
            workload="send_concurrent",
            address=redis.address,
            duration=0.5,
            depth=4,
            options={"concurrency": concurrency},
        )
        result = run_workload("redis", params)
    assert result["messages"] > 0 and result["errors"] == 0
    assert result["latency_us"]["count"] == result["messages"]
    assert result["notes"] == {"senders": 4, "concurrency": concurrency}
