"""``rmq bench store`` / ``python -m bench.store``: message-store append throughput.

Measured in one run, side by side (figures on these shared machines swing 2-6x between runs,
so compare the ratios):

- raw page-cache writes of 1 KiB blocks (``os.write``), and write + ``fdatasync`` per block;
- ``MessageStore.put_message`` of 1 KiB bodies under ASYNC_FLUSH, one writer: with the
  dispatcher running beside it (they share the GIL), and the append path alone with the
  dispatch of the same records timed afterwards;
- SYNC_FLUSH with 1, 16 and 64 concurrent writers (asyncio tasks on one loop, as the broker
  serves sends), each awaiting its group-commit flush (``MessageStore.flush_waiter``) before
  the next append.

Each phase runs for ``--duration`` seconds (or ``--max-messages``), in a fresh temporary store
under ``--dir``; everything is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rmq_core.common.message import MessageExtBrokerInner
from rmq_core.store import MessageStore, PutMessageStatus, StoreConfig

__all__ = ["PhaseResult", "build_parser", "main", "run"]

_STORE_HOST = "127.0.0.1:10911"
_BORN_HOST = "127.0.0.1:50000"


@dataclass
class PhaseResult:
    """One measured phase: operations, bytes and seconds."""

    name: str
    ops: int
    bytes: int
    seconds: float
    note: str = ""

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0


def _raw_write(directory: str, body: bytes, duration: float, limit: int, sync: bool) -> PhaseResult:
    path = os.path.join(directory, "raw-sync" if sync else "raw")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    count = 0
    start = time.perf_counter()
    deadline = start + duration
    try:
        while count < limit:
            os.write(fd, body)
            if sync:
                os.fdatasync(fd)
            count += 1
            if count % 256 == 0 and time.perf_counter() >= deadline:
                break
            if sync and time.perf_counter() >= deadline:
                break
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        os.unlink(path)
    name = "write+fdatasync per record" if sync else "page-cache write"
    return PhaseResult(name, count, count * len(body), elapsed)


def _config(directory: str, sync: bool, segment_size: int) -> StoreConfig:
    return StoreConfig(
        store_path_root_dir=directory,
        flush_disk_type="SYNC_FLUSH" if sync else "ASYNC_FLUSH",
        mapped_file_size_commit_log=segment_size,
    )


def _message(body: bytes, props: str) -> MessageExtBrokerInner:
    return MessageExtBrokerInner(
        topic="BenchStore",
        body=body,
        queue_id=0,
        born_host=_BORN_HOST,
        store_host=_STORE_HOST,
        properties_string=props,
    )


def _async_phase(
    directory: str,
    body: bytes,
    duration: float,
    limit: int,
    segment_size: int,
    *,
    defer_dispatch: bool = False,
) -> PhaseResult:
    store = MessageStore(_config(directory, False, segment_size))
    store.start()
    if defer_dispatch:
        store.reput.shutdown()  # the dispatcher runs after the timed appends, timed apart
    try:
        put = store.put_message
        count = 0
        wrote = 0
        start = time.perf_counter()
        deadline = start + duration
        while count < limit:
            props = f"TAGS\x01TagA\x02UNIQ_KEY\x01C0A8000100002A9F{count:016X}\x02"
            msg = MessageExtBrokerInner(
                topic="BenchStore",
                body=body,
                queue_id=count & 7,
                born_host=_BORN_HOST,
                store_host=_STORE_HOST,
                properties_string=props,
            )
            result = put(msg)
            if result.status is not PutMessageStatus.PUT_OK:
                raise RuntimeError(f"put failed: {result.status}")
            wrote += result.append_result.wrote_bytes  # type: ignore[union-attr]
            count += 1
            if count % 1024 == 0 and time.perf_counter() >= deadline:
                break
        elapsed = time.perf_counter() - start
        caught_up = time.perf_counter()
        store.sync_dispatch()
        lag = time.perf_counter() - caught_up
    finally:
        store.shutdown()
    if defer_dispatch:
        rate = count / lag if lag else 0.0
        return PhaseResult(
            "store ASYNC_FLUSH, append only",
            count,
            wrote,
            elapsed,
            f"dispatch alone afterwards: {rate:,.0f} records/s",
        )
    return PhaseResult(
        "store ASYNC_FLUSH, 1 writer", count, wrote, elapsed, f"dispatch caught up {lag:.2f}s later"
    )


def _sync_phase(
    directory: str, body: bytes, duration: float, limit: int, writers: int, segment_size: int
) -> PhaseResult:
    """``writers`` concurrent producers on one asyncio loop, as the broker serves sends: each
    appends, awaits its group-commit future, and appends again."""
    store = MessageStore(_config(directory, True, segment_size))
    store.start()
    try:
        total, wrote, elapsed, failures = asyncio.run(
            _sync_writers(store, body, duration, max(limit // writers, 1), writers)
        )
        syncs = store.group_commit.syncs if store.group_commit else 0
    finally:
        store.shutdown()
    note = f"{syncs} fdatasyncs, {total / syncs:.1f} records each" if syncs else ""
    if failures:
        note += f"; {len(failures)} failed puts: {failures[0]}"
    return PhaseResult(f"store SYNC_FLUSH, {writers} writers", total, wrote, elapsed, note)


async def _sync_writers(
    store: MessageStore, body: bytes, duration: float, per_writer: int, writers: int
) -> tuple[int, int, float, list[str]]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + duration
    counts = [0] * writers
    sizes = [0] * writers
    failures: list[str] = []
    props = "TAGS\x01TagA\x02"

    waiter = store.flush_waiter(loop)
    assert waiter is not None

    async def writer(w: int) -> None:
        put = store.put_message
        n = 0
        while n < per_writer and loop.time() < deadline:
            result = put(_message(body, props), flush_future=False)
            append = result.append_result
            flushed = append is not None and await waiter.wait(append.end_offset)
            if not flushed:
                failures.append(PutMessageStatus.FLUSH_DISK_TIMEOUT.value if result.is_ok
                                else result.status.value)  # fmt: skip
                return
            sizes[w] += result.append_result.wrote_bytes  # type: ignore[union-attr]
            n += 1
        counts[w] = n

    await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(writers))), duration + 60)
    return sum(counts), sum(sizes), loop.time() - start, failures


def run(
    directory: str,
    *,
    duration: float = 3.0,
    body_size: int = 1024,
    writers: Sequence[int] = (1, 16, 64),
    max_messages: int = 10_000_000,
    segment_size: int = 256 * 1024 * 1024,
) -> list[PhaseResult]:
    """Run every phase in fresh sub-directories of ``directory``; return the results."""
    body = os.urandom(body_size)
    results = [
        _raw_write(directory, body, duration, max_messages, sync=False),
        _raw_write(directory, body, duration, max_messages, sync=True),
    ]
    for defer in (False, True):
        phase_dir = tempfile.mkdtemp(prefix="async-", dir=directory)
        try:
            results.append(
                _async_phase(
                    phase_dir, body, duration, max_messages, segment_size, defer_dispatch=defer
                )
            )
        finally:
            shutil.rmtree(phase_dir, ignore_errors=True)
    for count in writers:
        phase_dir = tempfile.mkdtemp(prefix=f"sync{count}-", dir=directory)
        try:
            results.append(
                _sync_phase(phase_dir, body, duration, max_messages, count, segment_size)
            )
        finally:
            shutil.rmtree(phase_dir, ignore_errors=True)
    return results


def _report(results: Sequence[PhaseResult], body_size: int) -> str:
    lines = [
        f"Message store, {body_size}-byte bodies (records add ~{91 + 10 + 40} bytes of header)",
        f"{'phase':<32} {'ops/s':>12} {'MB/s':>9} {'ops':>10} {'s':>6}  note",
    ]
    for r in results:
        lines.append(
            f"{r.name:<32} {r.ops_per_s:>12,.0f} {r.mb_per_s:>9.1f} {r.ops:>10,} "
            f"{r.seconds:>6.2f}  {r.note}"
        )
    by_name = {r.name: r for r in results}
    fsync = by_name.get("write+fdatasync per record")
    sync64 = next((r for r in results if r.name.endswith(" 64 writers")), None)
    if fsync and sync64 and fsync.ops_per_s:
        lines.append(
            f"SYNC_FLUSH with 64 writers = {sync64.ops_per_s / fsync.ops_per_s:.1f}x "
            f"fdatasync-per-record"
        )
    return "\n".join(lines)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add this tool's options to ``parser`` (or a new one)."""
    parser = parser or argparse.ArgumentParser(
        prog="rmq bench store", description="message-store append throughput"
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per phase")
    parser.add_argument("--body-size", type=int, default=1024, help="message body bytes")
    parser.add_argument(
        "--writers", default="1,16,64", help="comma-separated SYNC_FLUSH writer counts"
    )
    parser.add_argument(
        "--max-messages", type=int, default=10_000_000, help="cap on messages per phase"
    )
    parser.add_argument(
        "--segment-size", type=int, default=256 * 1024 * 1024, help="commit-log segment bytes"
    )
    parser.add_argument("--dir", default=None, help="directory for the temporary stores")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: Sequence[str] | None = None, args: argparse.Namespace | None = None) -> int:
    """Run the benchmark; returns the exit status (2 for bad arguments)."""
    if args is None:
        args = build_parser().parse_args(argv)
    try:
        writers = [int(w) for w in str(args.writers).split(",") if w.strip()]
    except ValueError:
        print(f"--writers must be comma-separated integers, not {args.writers!r}", file=sys.stderr)
        return 2
    if args.duration <= 0 or args.body_size < 0 or any(w < 1 for w in writers):
        print("--duration must be > 0, --body-size >= 0, writer counts >= 1", file=sys.stderr)
        return 2
    base = tempfile.mkdtemp(prefix="rmq-bench-store-", dir=args.dir)
    try:
        results = run(
            base,
            duration=args.duration,
            body_size=args.body_size,
            writers=writers,
            max_messages=args.max_messages,
            segment_size=args.segment_size,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps([asdict(r) | {"ops_per_s": r.ops_per_s, "mb_per_s": r.mb_per_s}
                          for r in results], indent=1))  # fmt: skip
    else:
        print(_report(results, args.body_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
