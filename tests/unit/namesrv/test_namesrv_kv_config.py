"""KV config table and its kvConfig.json persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmq_core.namesrv.kv_config import (
    KVConfigError,
    KVConfigTable,
    load_kv_config,
    save_kv_config,
)


def test_put_get_delete_namespace() -> None:
    kv = KVConfigTable()
    kv.put("ns", "k", "v")
    kv.put("ns", "k2", "v2")
    kv.put("ns", "k", "v3")
    assert kv.get("ns", "k") == "v3"
    assert kv.get("ns", "missing") is None
    assert kv.get("other", "k") is None
    assert kv.namespace("ns") == {"k": "v3", "k2": "v2"}
    assert kv.delete("ns", "k")
    assert not kv.delete("ns", "k")
    assert kv.delete("ns", "k2")
    assert kv.namespace("ns") == {}
    assert kv.snapshot() == {}


def test_namespace_is_a_copy() -> None:
    kv = KVConfigTable({"ns": {"a": "1"}})
    kv.namespace("ns")["b"] = "2"
    assert kv.namespace("ns") == {"a": "1"}


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "namesrv" / "kvConfig.json"
    assert load_kv_config(path).snapshot() == {}
    save_kv_config(path, {"ORDER_TOPIC_CONFIG": {"T": "b:4"}})
    assert json.loads(path.read_text()) == {"configTable": {"ORDER_TOPIC_CONFIG": {"T": "b:4"}}}
    save_kv_config(path, {"ns": {"k": "v"}})
    assert load_kv_config(path).snapshot() == {"ns": {"k": "v"}}
    bak = path.with_name("kvConfig.json.bak")
    assert json.loads(bak.read_text())["configTable"] == {"ORDER_TOPIC_CONFIG": {"T": "b:4"}}


def test_load_falls_back_to_backup(tmp_path: Path) -> None:
    path = tmp_path / "kvConfig.json"
    save_kv_config(path, {"ns": {"k": "old"}})
    save_kv_config(path, {"ns": {"k": "new"}})
    path.write_text("{torn")
    assert load_kv_config(path).get("ns", "k") == "old"


def test_load_rejects_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "kvConfig.json"
    path.write_text('{"configTable":{"ns":{"k":1}}}')
    with pytest.raises(KVConfigError, match="string value"):
        load_kv_config(path)
    path.write_text("not json")
    with pytest.raises(KVConfigError, match="not JSON"):
        load_kv_config(path)
