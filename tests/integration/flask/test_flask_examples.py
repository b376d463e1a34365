"""examples/flask_app.py and examples/spring_service.py run to success against a cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.flask.conftest import ThreadedCluster, unique

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
RUN_TIMEOUT = 90.0


@pytest.mark.parametrize("script", ["flask_app.py", "spring_service.py"])
def test_example_runs(cluster: ThreadedCluster, script: str) -> None:
    env = dict(
        os.environ,
        NAMESRV_ADDR=cluster.namesrv,
        EXAMPLE_ORDERS_TOPIC=unique("ExampleOrders"),
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--count", "4", "--timeout", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "OK" in proc.stdout.strip().splitlines()[-1]
