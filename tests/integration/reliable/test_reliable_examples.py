"""The reliable-messaging example scripts run to success against an in-process cluster."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.support.cluster import running_cluster

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


async def _run_script(script: str, namesrv: str) -> tuple[int, str]:
    env = dict(os.environ, NAMESRV_ADDR=namesrv, PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        "--timeout",
        "30",
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


def test_transaction_example(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, str]:
        async with running_cluster(tmp_path) as cluster:
            return await _run_script("transaction_producer.py", cluster.namesrv_addr)

    code, output = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert code == 0, output[-3000:]
    assert "exactly: True" in output
