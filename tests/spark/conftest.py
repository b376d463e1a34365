"""Fixtures of the Spark connector's tests: one rmq cluster and one SparkSession per run.

These tests need PySpark, which lives in its own virtualenv (``make spark-env``; ``make
test-spark`` runs them and ``make test`` includes that). In an environment without PySpark
(the main ``.venv``) this directory is not collected at all.

The NameServer and broker run in-process on ``127.0.0.1:0`` in a background thread with its
own event loop, so Spark's Python workers (separate processes) reach them over TCP.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("pyspark") is None:
    collect_ignore_glob = ["*.py"]
else:
    from tests.spark.fixtures import (  # noqa: F401  (pytest fixtures)
        cluster,
        namesrv,
        spark,
    )
