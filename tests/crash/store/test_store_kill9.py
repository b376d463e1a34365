"""A real crash: a child process appends under SYNC_FLUSH and prints each acknowledged message;
the test kills it with SIGKILL mid-stream, reopens the store and finds every acknowledged one."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rmq_core.common.message_codec import decode_record
from rmq_core.store import MessageStore, StoreConfig

pytestmark = pytest.mark.crash

CHILD = textwrap.dedent(
    """
    import sys, threading
    from rmq_core.common.message import MessageExtBrokerInner
    from rmq_core.store import MessageStore, StoreConfig, PutMessageStatus

    config = StoreConfig(store_path_root_dir=sys.argv[1], flush_disk_type="SYNC_FLUSH",
                         mapped_file_size_commit_log=64 * 1024,
                         mapped_file_size_consume_queue=100 * 20)
    store = MessageStore(config)
    store.start()
    lock = threading.Lock()

    def writer(w):
        i = 0
        while True:
            msg = MessageExtBrokerInner(topic="K9", body=f"w{w}-{i}".encode() * 20,
                                        properties={"KEYS": f"w{w}-{i}"}, queue_id=w,
                                        born_host="127.0.0.1:1", store_host="127.0.0.1:10911")
            result = store.put_message(msg)
            if result.wait_flushed(10) is PutMessageStatus.PUT_OK:
                a = result.append_result
                with lock:
                    print(w, i, a.wrote_offset, a.queue_offset, flush=True)
            i += 1

    for w in range(4):
        threading.Thread(target=writer, args=(w,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_every_acknowledged_message_survives_kill_9(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    acked: list[tuple[int, int, int, int]] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(acked) < 400 and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = proc.stdout.readline()
            if not line:
                break
            w, i, offset, queue_offset = (int(x) for x in line.split())
            acked.append((w, i, offset, queue_offset))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        acked.extend(
            tuple(int(x) for x in line.split())  # type: ignore[misc]
            for line in proc.stdout.read().splitlines()
            if len(line.split()) == 4
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert len(acked) >= 400, "the child acknowledged too few messages in time"
    assert (root / "abort").exists()

    store = MessageStore(StoreConfig(store_path_root_dir=str(root),
                                     mapped_file_size_commit_log=64 * 1024,
                                     mapped_file_size_consume_queue=100 * 20))  # fmt: skip
    report = store.start()
    try:
        assert report.abnormal_shutdown
        assert len({offset // (64 * 1024) for _w, _i, offset, _q in acked}) > 1
        for w, i, offset, queue_offset in acked:
            raw = store.select_one_message_by_offset(offset)
            assert raw is not None, f"acknowledged message {w}-{i} at {offset} lost"
            msg = decode_record(raw, check_crc=True)[0]
            assert msg.body == f"w{w}-{i}".encode() * 20
            got = store.get_message("g", "K9", w, queue_offset, 1)
            assert [bytes(m) for m in got.messages] == [raw]
            del got
        w, i, _offset, _q = acked[-1]
        assert len(store.query_message("K9", f"w{w}-{i}", 4, 0, 2**62).messages) == 1
    finally:
        store.shutdown()
