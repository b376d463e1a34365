"""Python functions of the test jobs (imported by Flink's Python workers from the repo root)."""

from __future__ import annotations

import os

from pyflink.datastream import MapFunction


class FailOnce(MapFunction):
    """Prefixes each value with ``out-``; raises once (per marker file) on ``trigger``."""

    def __init__(self, trigger: str, marker: str) -> None:
        self.trigger = trigger
        self.marker = marker

    def map(self, value: str) -> str:
        if value == self.trigger and not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write("failed once\n")
            raise RuntimeError(f"injected failure at {value}")
        return f"out-{value}"
