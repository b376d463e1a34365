"""Background services driven through run_once(now): flushing, group commit, retention;
plus configuration loading and the metadata-file helper."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.errors import StoreError
from rmq_core.store import (
    GetMessageStatus,
    MessageStore,
    PutMessageStatus,
    StoreConfig,
    read_json_with_backup,
    write_json_atomically,
)
from rmq_core.store.config import PROPERTY_KEYS

MakeMessage = Callable[..., MessageExtBrokerInner]
OpenStore = Callable[[StoreConfig], MessageStore]


def test_sync_flush_future_resolves_after_fdatasync(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH"))
    results = [store.put_message(make_message(f"s{i}".encode())) for i in range(50)]
    assert all(r.flush_future is not None for r in results)
    assert all(r.wait_flushed(10) is PutMessageStatus.PUT_OK for r in results)
    group = store.group_commit
    assert group is not None and 1 <= group.syncs <= 50
    last = store.commitlog.queue.last
    assert last is not None and last.flushed_position == last.wrote_position
    no_wait = store.put_message(make_message(b"nowait", WAIT="false"))
    assert no_wait.is_ok and no_wait.flush_future is None


def test_sync_flush_reports_flush_disk_timeout(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    store = open_store(
        tiny_config.replace(flush_disk_type="SYNC_FLUSH", sync_flush_timeout=0.000001)
    )
    result = store.put_message(make_message(b"late"))
    assert result.is_ok
    assert result.wait_flushed(10) is PutMessageStatus.FLUSH_DISK_TIMEOUT


def test_async_flush_run_once_honours_least_pages(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    config = tiny_config.replace(
        mapped_file_size_commit_log=64 * 1024, flush_commit_log_least_pages=2
    )
    store = MessageStore(config)
    store.start()
    try:
        service = store.flush_commitlog
        assert service is not None
        service.shutdown()  # drive it by hand from here
        store.put_message(make_message(b"x" * 100))
        last = store.commitlog.queue.last
        assert last is not None
        before = last.flushed_position
        service.run_once(time.time())
        assert last.flushed_position == before  # under two dirty pages: no flush yet
        for _ in range(90):
            store.put_message(make_message(b"x" * 100))
        service.run_once(time.time())
        assert last.flushed_position == last.wrote_position
        assert store.checkpoint.physic_msg_timestamp > 0
    finally:
        store.shutdown()


def test_retention_deletes_expired_files_and_trims_queues(
    tiny_config: StoreConfig, make_message: MakeMessage
) -> None:
    store = MessageStore(tiny_config.replace(file_reserved_time=1.0, delete_when="99"))
    store.start()
    try:
        store.cleanup.shutdown()  # run it by hand
        for i in range(80):
            store.put_message(make_message(f"old-{i}".encode() * 16, KEYS=f"k{i}"))
        store.sync_dispatch()
        files = store.commitlog.queue.files
        assert len(files) >= 4
        old = time.time() - 2 * 3600
        for mapped in files[:2]:
            os.utime(mapped.path, (old, old))
        held = store.get_message("g", "T", 0, 0, 1)  # a reader holds a view into file 0
        now = time.time()
        store.cleanup.run_once(now)  # not the hour, disk not full: nothing happens
        assert store.min_phy_offset == 0
        store.clean_expired_now()
        store.cleanup.run_once(now)
        assert store.min_phy_offset == 2 * 4096
        assert os.path.exists(files[0].path)  # still viewed: removed from service only
        assert not os.path.exists(files[1].path)
        del held
        store.cleanup.run_once(now)
        assert not os.path.exists(files[0].path)
        low = store.get_min_offset_in_queue("T", 0)
        assert low > 0
        assert store.get_message("g", "T", 0, 0, 4).status is GetMessageStatus.OFFSET_TOO_SMALL
        got = store.get_message("g", "T", 0, low, 1)
        assert got.status is GetMessageStatus.FOUND
        del got
        assert store.look_message_by_offset(0) is None
    finally:
        store.shutdown()


def test_retention_when_disk_is_full(tiny_config: StoreConfig, make_message: MakeMessage) -> None:
    store = MessageStore(tiny_config.replace(delete_when="99"))
    store.start()
    try:
        store.cleanup.shutdown()
        for i in range(40):
            store.put_message(make_message(f"d{i}".encode() * 20))
        store.cleanup.disk_usage = lambda _path: 0.90  # over the forcible ratio
        store.cleanup.run_once(time.time())
        assert store.min_phy_offset > 0
        assert len(store.commitlog.queue.files) >= 1
    finally:
        store.shutdown()


def test_config_from_properties() -> None:
    config = StoreConfig.from_properties(
        {
            "storePathRootDir": "/data/store",
            "flushDiskType": "SYNC_FLUSH",
            "flushIntervalCommitLog": "200",
            "syncFlushTimeout": 3000,
            "fileReservedTime": "48",
            "deleteWhen": "03",
            "mappedFileSizeCommitLog": "65536",
            "messageIndexEnable": "false",
        }
    )
    assert config.sync_flush and config.flush_interval == 0.2 and config.sync_flush_timeout == 3
    assert config.file_reserved_time == 48 and config.delete_when == "03"
    assert config.commit_log_dir == "/data/store/commitlog"
    assert not config.message_index_enable
    assert "storePathRootDir" in PROPERTY_KEYS
    with pytest.raises(StoreError, match="unknown store config key 'bogus'"):
        StoreConfig.from_properties({"bogus": "1"})
    with pytest.raises(StoreError, match="flushDiskType"):
        StoreConfig.from_properties({"flushDiskType": "SOMETIMES"})
    with pytest.raises(StoreError, match="mappedFileSizeConsumeQueue"):
        StoreConfig(mapped_file_size_consume_queue=30)
    assert StoreConfig().delay_levels_ms()[:3] == (1000, 5000, 10000)


def test_write_json_atomically_keeps_backup(tmp_path: Path) -> None:
    path = str(tmp_path / "config" / "topics.json")
    write_json_atomically(path, {"a": 1})
    write_json_atomically(path, '{"a": 2}')
    assert json.loads(Path(path).read_text()) == {"a": 2}
    assert json.loads(Path(path + ".bak").read_text()) == {"a": 1}
    Path(path).write_text("{broken")
    assert read_json_with_backup(path) == {"a": 1}
    assert read_json_with_backup(str(tmp_path / "missing.json")) is None
    assert not [p for p in os.listdir(tmp_path / "config") if ".tmp." in p]


def test_async_flush_waiter_resolves_per_fdatasync(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    import asyncio

    store = open_store(tiny_config.replace(flush_disk_type="SYNC_FLUSH"))

    async def scenario() -> list[bool]:
        waiter = store.flush_waiter(asyncio.get_running_loop())
        assert waiter is not None

        async def one(i: int) -> bool:
            result = store.put_message(make_message(f"a{i}".encode()), flush_future=False)
            assert result.flush_future is None and result.append_result is not None
            return await waiter.wait(result.append_result.end_offset)

        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(40))), 30)

    assert asyncio.run(scenario()) == [True] * 40
    last = store.commitlog.queue.last
    assert last is not None and last.flushed_position == last.wrote_position


def test_async_flush_waiter_times_out(
    tiny_config: StoreConfig, open_store: OpenStore, make_message: MakeMessage
) -> None:
    import asyncio

    from rmq_core.store.flush import AsyncFlushWaiter, GroupCommitService

    store = open_store(tiny_config)
    group = GroupCommitService(store.commitlog, store.checkpoint)  # never started: no flushes

    async def scenario() -> bool:
        waiter = AsyncFlushWaiter(group, asyncio.get_running_loop())
        result = store.put_message(make_message(b"stuck"), flush_future=False)
        assert result.append_result is not None
        return await asyncio.wait_for(waiter.wait(result.append_result.end_offset, 0.05), 10)

    assert asyncio.run(scenario()) is False
    loop = asyncio.new_event_loop()
    try:
        assert MessageStore(tiny_config).flush_waiter(loop) is None
    finally:
        loop.close()
