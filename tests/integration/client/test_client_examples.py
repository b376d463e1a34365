"""Every script in examples/ runs to success against an in-process NameServer and broker."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCRIPTS = [
    ("sync_producer.py", []),
    ("async_producer.py", ["--count", "50"]),
    ("push_consumer.py", []),
    ("lite_pull_consumer.py", []),
    ("ordered_messages.py", []),
    ("delayed_message.py", []),
    ("broadcast_consumer.py", []),
    ("transaction_producer.py", []),
]


async def run_script(script: str, args: list[str], namesrv: str) -> tuple[int, str]:
    env = dict(os.environ, NAMESRV_ADDR=namesrv, PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        "--timeout",
        "30",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


def test_examples_run(client_cluster: Any, tmp_path: Path) -> None:
    async def body() -> list[tuple[str, int, str]]:
        results = []
        async with client_cluster(tmp_path, message_delay_level="1s 5s") as cluster:
            for script, args in SCRIPTS:
                code, output = await run_script(script, args, cluster.namesrv)
                results.append((script, code, output))
        return results

    failures = []
    for script, code, output in asyncio.run(asyncio.wait_for(body(), 300)):
        last = output.strip().splitlines()[-1] if output.strip() else ""
        print(f"{script}: exit {code}: {last}")
        if code != 0:
            failures.append(f"{script} exited {code}:\n{output[-3000:]}")
    if failures:
        pytest.fail("\n\n".join(failures))


def test_every_example_is_run_by_some_test() -> None:
    """Each examples/*.py (but the shared ``_common.py``) is named by a test module somewhere.

    Client examples run above; the Flask, Spring, Celery, kafka shim, Spark and Flink examples
    are run by the tests of their integration, so the check looks across all of tests/.
    """
    tests_dir = Path(__file__).resolve().parents[2]
    sources = [
        path.read_text(encoding="utf-8", errors="replace")
        for path in tests_dir.rglob("*.py")
        if "node_modules" not in path.parts
    ]
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    assert scripts, "no examples found"
    unreferenced = [name for name in scripts if not any(name in text for text in sources)]
    assert not unreferenced, f"examples no test runs: {unreferenced}"


def test_client_examples_exist() -> None:
    missing = [name for name, _ in SCRIPTS if not (EXAMPLES / name).is_file()]
    assert not missing
