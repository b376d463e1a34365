"""examples/kafka_migration.py (kafka-python code with the import changed) runs against rmq."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from tests.integration.kafka.conftest import ThreadCluster

SCRIPT = Path(__file__).resolve().parents[3] / "examples" / "kafka_migration.py"


def test_migration_example_runs(rmq_cluster: ThreadCluster) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--bootstrap-servers",
            rmq_cluster.namesrv,
            "--timeout",
            "30",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "acknowledged 20 of 20 messages" in output
    assert "consumed 20 of 20 messages" in output
    assert "key=b'foo'" in output


def kafka_python_variant() -> str:
    """The script with its ``# was:`` kafka-python imports put back in place of the shim's."""
    out = []
    for line in SCRIPT.read_text().splitlines():
        if line.startswith("# was: "):
            out.append(line.removeprefix("# was: "))
        elif not line.startswith("from rmq_integrations"):
            out.append(line)
    return "\n".join(out) + "\n"


def test_example_is_kafka_python_code_but_for_the_import() -> None:
    variant = kafka_python_variant()
    assert "rmq" not in variant.replace("rmq NameServer", "").replace("to rmq", "")
    code = compile(variant, "kafka_migration_on_kafka.py", "exec")
    imports = [line for line in variant.splitlines() if line.startswith("from kafka")]
    assert len(imports) == 3
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():  # kafka-python's own DeprecationWarnings on import
        warnings.simplefilter("ignore", DeprecationWarning)
        for line in imports:  # every name the script uses exists in kafka-python
            exec(line, namespace)
    assert {"KafkaAdminClient", "KafkaConsumer", "KafkaProducer", "NewTopic"} <= set(namespace)
    assert code.co_filename == "kafka_migration_on_kafka.py"
