"""Fixtures of the Flink connector's tests: one ``rmq standalone`` subprocess per run.

These tests need PyFlink, which lives in its own virtualenv (``make flink-env``; ``make
test-flink`` runs them and ``make test`` includes that). In an environment without PyFlink
(the main ``.venv``) this directory is not collected at all.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("pyflink") is None:
    collect_ignore_glob = ["*.py"]
else:
    from tests.flink.support import broker, flink_jar  # noqa: F401  (pytest fixtures)
