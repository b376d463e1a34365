"""ARCHITECTURE §2a: integrations and connectors use only the public client API.

They may import ``rmq_core``, ``rmq_core.client`` (and its public modules), ``rmq_core.admin``,
``rmq_core.errors``, ``rmq_core.common`` and ``rmq_core.filter``, plus the code tables of
``rmq_core.remoting.codes``; never the wire plumbing (commands, headers, bodies), the
client's internals (its ClientAPI, consumer machinery, heartbeat) or any server package, and
they never call the raw ClientAPI behind a client (``<client>.api``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = [ROOT / "rmq_integrations", ROOT / "connectors"]
FORBIDDEN = (
    "rmq_core.broker",
    "rmq_core.store",
    "rmq_core.namesrv",
    "rmq_core.remoting",
    "rmq_core.client.api",
    "rmq_core.client.consumer",
    "rmq_core.client.heartbeat",
)
ALLOWED = ("rmq_core.remoting.codes",)


def _sources() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in package.rglob("*.py")
        if "tests" not in path.relative_to(package).parts
    )


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        for module in modules:
            if module.startswith(ALLOWED):
                continue
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
                break
        if isinstance(node, ast.Attribute) and node.attr == "api":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses the raw ClientAPI (.api)")
    return found


def test_sources_are_found() -> None:
    assert len(_sources()) > 20


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_public_client_api_is_used(path: Path) -> None:
    assert _violations(path) == []
