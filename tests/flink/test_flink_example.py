"""examples/flink_job.py runs (bounded, exactly-once) and writes the transformed messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.flink.support import REPO, Broker, bodies, create_topic, produce, read_topic, unique

EXAMPLE = REPO / "examples" / "flink_job.py"
RUN_TIMEOUT = 150.0  # s


def test_example_job_transforms_one_topic_into_another(broker: Broker, flink_jar: Path) -> None:
    source = create_topic(broker.namesrv, unique("ex_in"))
    sink = create_topic(broker.namesrv, unique("ex_out"))
    produce(broker.namesrv, source, [f"hello {i}" for i in range(10)])
    command = [sys.executable, str(EXAMPLE), "--namesrv", broker.namesrv]
    command += ["--source-topic", source, "--sink-topic", sink, "--group", unique("ex")]
    command += ["--bounded", "--exactly-once"]
    # a fresh PyFlink client: none of this process's gateway settings (PYFLINK_GATEWAY_*)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYFLINK_")}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "job finished" in done.stdout
    assert bodies(read_topic(broker.namesrv, sink)) == sorted(f"HELLO {i}!" for i in range(10))
