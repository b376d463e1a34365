"""Metadata files: a missing file is "nothing saved yet", a damaged one is an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmq_core.store import ConfigFileError, read_json_with_backup, write_json_atomically
from rmq_core.store.config_file import read_text_with_backup


def test_missing_or_empty_copies_read_as_nothing_saved(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    assert read_json_with_backup(str(path)) is None
    path.write_text("  \n")
    assert read_json_with_backup(str(path)) is None
    Path(f"{path}.bak").write_text("")
    assert read_text_with_backup(str(path)) is None


def test_a_damaged_file_falls_back_to_its_backup(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    write_json_atomically(str(path), {"a": 1})
    write_json_atomically(str(path), {"a": 2})
    path.write_text("{torn")
    assert read_json_with_backup(str(path)) == {"a": 1}
    path.unlink()
    assert read_json_with_backup(str(path)) == {"a": 1}


def test_a_damaged_file_without_backup_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    path.write_text('{"topicConfigTable": {')
    with pytest.raises(ConfigFileError, match=r"topics\.json is damaged") as raised:
        read_json_with_backup(str(path))
    assert [copy for copy, _ in raised.value.problems] == [str(path)]
    assert raised.value.path == str(path)


def test_both_copies_damaged_is_an_error_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "consumerOffset.json"
    path.write_bytes(b"\xff\xfe not utf-8")
    Path(f"{path}.bak").write_text("[1, 2")
    with pytest.raises(ConfigFileError) as raised:
        read_json_with_backup(str(path))
    copies = [copy for copy, _ in raised.value.problems]
    assert copies == [str(path), f"{path}.bak"]
    assert "cannot read" in str(raised.value) and "cannot parse" in str(raised.value)


def test_an_empty_file_with_a_damaged_backup_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "subscriptionGroup.json"
    path.write_text("")
    Path(f"{path}.bak").write_text("{")
    with pytest.raises(ConfigFileError):
        read_json_with_backup(str(path))


def test_the_parser_decides_what_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[1]")
    Path(f"{path}.bak").write_text('{"ok": true}')

    def objects_only(text: str) -> object:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data

    assert read_json_with_backup(str(path), loads=objects_only) == {"ok": True}
