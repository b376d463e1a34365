"""Fixtures of the Celery/kombu tests (helpers live in ``celery_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.celery.celery_support import ThreadedCluster, Workers


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ThreadedCluster]:
    """A fresh NameServer + broker on a background loop, stopped after the test."""
    threaded = ThreadedCluster(tmp_path / "store").start()
    try:
        yield threaded
    finally:
        threaded.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Starts ``celery worker`` subprocesses; every one is killed after the test."""
    state = tmp_path / "state"
    state.mkdir()
    group = Workers(tmp_path, state)
    try:
        yield group
    finally:
        group.cleanup()
