"""examples/spark_batch.py and examples/spark_streaming.py run end to end.

They run as ``__main__`` in this process, so they pick up the tests' SparkSession (as they
would a notebook's) instead of starting a JVM each; their own session code path is the same
``SparkSession.builder`` call the fixture makes.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("script", "args"),
    [("spark_batch.py", ["--count", "20"]), ("spark_streaming.py", ["--count", "30"])],
)
def test_spark_example_runs(
    spark: SparkSession, namesrv: str, script: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    argv = [script, "--namesrv", namesrv, "--timeout", "90", *args]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    assert exit_info.value.code == 0
