"""``rmq bench compare``: the same workloads against rmq and its peers, in one run.

The servers of every system (rmq, then Redis Streams, NATS JetStream and RabbitMQ when
installed) are started at once on 127.0.0.1, each with its data in a temporary folder; then
each workload of :mod:`bench.workload` runs against one system after the other, so that the
two figures of a ratio are measured minutes apart at most on this noisy shared machine (an
idle server costs next to nothing). Every run is a fresh ``python -m bench.workload`` process
bounded by ``duration + PHASE_SLACK`` seconds; memory is sampled twice a second; servers are
stopped by their PID. ``--rounds N`` repeats the sequence and reports medians. Servers that need
a disk-syncing mode for ``send_durable`` (rmq with SYNC_FLUSH, Redis with ``appendfsync
always``) are started again in that mode for that phase.

The run (settings, host facts, every result, server memory) is written as JSON, with a
Markdown table (figures and rmq/peer ratios, the issue's targets) and a PNG plot; with
``--docs`` the section between ``<!-- bench:compare:begin -->`` and
``<!-- bench:compare:end -->`` of docs/benchmarks.md is replaced by the new table.

``--soak-gib N`` adds a memory phase: N GiB of 1 KiB messages through a fresh rmq broker
while its RSS (split into heap and mapped files) is sampled.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.servers import (
    ServerError,
    ServerProcess,
    ServerSpec,
    nats_spec,
    peer_available,
    rabbitmq_specs,
    redis_spec,
    rmq_spec,
)
from bench.table import comparison_table, targets_table
from bench.workload import CONCURRENT_SENDERS, WORKLOADS

__all__ = [
    "CompareSettings",
    "add_compare_arguments",
    "compare_main",
    "default_systems",
    "render_markdown",
    "run_compare",
    "update_docs",
]

PHASE_SLACK = 90.0
"""Seconds a workload process may take beyond its duration (start-up, draining) before it is
killed."""
SAMPLE_PERIOD = 0.5
"""Seconds between two memory samples of a server."""
PLOT_NAME = "benchmarks-compare.png"
JSON_NAME = "benchmarks-compare.json"
DOCS_BEGIN = "<!-- bench:compare:begin -->"
DOCS_END = "<!-- bench:compare:end -->"
ALL_SYSTEMS = ("rmq", "redis", "nats", "rabbitmq")
PEERS_NEEDING_PACKAGES = {"redis": "redis", "nats": "nats", "rabbitmq": "aio_pika"}
"""Python module each peer's driver imports (from the ``bench`` extra)."""


@dataclass(slots=True)
class CompareSettings:
    """What one comparison run does. Times in seconds, sizes in bytes."""

    systems: list[str] = field(default_factory=lambda: ["rmq", "redis"])
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    duration: float = 10.0
    e2e_duration: float = 10.0
    size: int = 1024
    rate: float = 1000.0
    rmq_batch: int = 100  # as many messages per request as Redis's pipeline below
    rmq_window: int = 8
    rmq_queues: int = 8
    rmq_client: str = "raw"
    rmq_pull_batch: int = 32
    redis_pipeline: int = 100
    nats_pending: int = 1000
    rabbitmq_unconfirmed: int = 256
    soak_gib: float = 0.0
    soak_timeout: float = 1800.0
    rounds: int = 1
    workdir: str | None = None

    def __post_init__(self) -> None:
        unknown = [s for s in self.systems if s not in ALL_SYSTEMS]
        if unknown:
            raise ValueError(f"unknown system(s) {', '.join(unknown)}; from {ALL_SYSTEMS}")
        if "rmq" not in self.systems:
            raise ValueError("the comparison needs rmq among the systems")
        bad = [w for w in self.workloads if w not in WORKLOADS]
        if bad:
            raise ValueError(f"unknown workload(s) {', '.join(bad)}; from {WORKLOADS}")
        self._check_consume_has_backlog()
        if self.duration <= 0 or self.e2e_duration <= 0:
            raise ValueError("durations must be positive")
        if self.size < 8:
            raise ValueError("message size must be at least 8 bytes")
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.rmq_client not in ("raw", "full"):
            raise ValueError("rmq client must be raw or full")
        for name in ("rmq_batch", "rmq_window", "rmq_queues", "rmq_pull_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        for name in ("redis_pipeline", "nats_pending", "rabbitmq_unconfirmed"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.soak_gib < 0:
            raise ValueError("soak size must be >= 0")
        if self.rounds < 1:
            raise ValueError("rounds must be at least 1")

    def _check_consume_has_backlog(self) -> None:
        """``consume`` drains the backlog the send workloads wrote earlier in the same run;
        without one before it the phase would measure an empty topic."""
        if "consume" not in self.workloads:
            return
        before = self.workloads[: self.workloads.index("consume")]
        if not {"send_sync", "send_concurrent", "send_pipelined"} & set(before):
            raise ValueError(
                "consume reads the backlog the send workloads wrote in the same run: "
                "put send_pipelined (or send_sync, send_concurrent) before it, e.g. --workloads "
                "send_pipelined,consume"
            )

    def workload_args(self, system: str, workload: str) -> list[str]:
        """Arguments of ``python -m bench.workload`` for ``workload`` on ``system``."""
        duration = self.e2e_duration if workload == "e2e" else self.duration
        args = ["--duration", str(duration), "--size", str(self.size), "--rate", str(self.rate)]
        args += ["--depth", str(self.depth(system, workload))]
        if system == "rmq":
            args += ["--window", str(self.rmq_window)]
            args += ["--option", f"queues={self.rmq_queues}"]
            args += ["--option", f"client={self.rmq_client}"]
            args += ["--option", f"pull_batch={self.rmq_pull_batch}"]
        return args

    def depth(self, system: str, workload: str) -> int:
        """``--depth`` of ``workload`` on ``system``: :data:`CONCURRENT_SENDERS` senders for
        ``send_concurrent`` on every system, else the system's batch / pipeline / pending
        setting."""
        if workload == "send_concurrent":
            return CONCURRENT_SENDERS
        per_system = {
            "rmq": self.rmq_batch,
            "redis": self.redis_pipeline,
            "nats": self.nats_pending,
            "rabbitmq": self.rabbitmq_unconfirmed,
        }
        return per_system[system]


def default_systems() -> list[str]:
    """rmq plus every peer whose server binary and Python client are installed."""
    systems = ["rmq"]
    for peer in ("redis", "nats", "rabbitmq"):
        if peer_available(peer) and _module_available(PEERS_NEEDING_PACKAGES[peer]):
            systems.append(peer)
    return systems


def _module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --- servers ----------------------------------------------------------------------------------


def server_specs(system: str, durable: bool, workdir: Path) -> list[ServerSpec]:
    """The processes (in start order) serving ``system``; ``durable`` for send_durable."""
    if system == "rmq":
        return [rmq_spec(workdir, flush_disk_type="SYNC_FLUSH" if durable else "ASYNC_FLUSH")]
    if system == "redis":
        return [redis_spec(workdir, durable=durable)]
    if system == "nats":
        return [nats_spec(workdir)]
    if system == "rabbitmq":
        return list(rabbitmq_specs(workdir))
    raise ValueError(f"unknown system {system!r}")


class MemorySampler:
    """Samples a server's memory every ``period`` s in a thread; keeps the peaks and, when
    ``keep_series``, every sample as ``(seconds since start, rss, anon)``."""

    def __init__(
        self, server: ServerProcess, period: float = SAMPLE_PERIOD, keep_series: bool = False
    ):
        self.server = server
        self.period = period
        self.keep_series = keep_series
        self.series: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            memory = self.server.memory()
            if self.keep_series and memory["rss"]:
                elapsed = time.monotonic() - self._started
                self.series.append((elapsed, memory["rss"], memory["anon"]))
            self._stop.wait(self.period)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextlib.contextmanager
def running_servers(specs: Sequence[ServerSpec]) -> Iterator[list[ServerProcess]]:
    """Start ``specs`` in order; stop them in reverse order whatever happens."""
    started: list[ServerProcess] = []
    try:
        for spec in specs:
            started.append(ServerProcess(spec).start())
        yield started
    finally:
        for server in reversed(started):
            server.stop()


def _address(system: str, servers: list[ServerProcess]) -> str:
    return servers[-1].address


# --- phases -----------------------------------------------------------------------------------


def run_workload_process(
    system: str, workload: str, address: str, args: Sequence[str], timeout: float
) -> dict[str, Any]:
    """Run ``python -m bench.workload`` and return its JSON result, or ``{"error": ...}``."""
    argv = [sys.executable, "-m", "bench.workload", system, workload, "--address", address, *args]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g}s", "command": shlex.join(argv)}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        return {"error": f"exit status {done.returncode}: {tail}", "command": shlex.join(argv)}
    result: dict[str, Any] = json.loads(lines[-1])
    result["command"] = shlex.join(argv)
    return result


def _libpython_shared() -> bool:
    """True when this interpreter runs from a shared ``libpython`` (a default pyenv or
    ``--enable-shared`` build); distributions' static, PGO/LTO-built executables run rmq
    15-25 % faster here (docs/benchmarks.md, "Interpreter build")."""
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            return any("libpython" in line for line in maps)
    except OSError:
        return bool(sysconfig.get_config_var("Py_ENABLE_SHARED"))


def _host_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "python_executable": os.path.realpath(sys.executable),
        "python_libpython_shared": _libpython_shared(),
        "platform": platform.platform(),
        "loadavg_before": os.getloadavg(),
    }
    versions: dict[str, str] = {}
    for name, argv in {
        "redis": ["redis-server", "--version"],
        "nats": ["nats-server", "--version"],
        "rabbitmq": ["dpkg-query", "-W", "-f", "${Version}", "rabbitmq-server"],
    }.items():
        if shutil.which(argv[0]):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
                versions[name] = (out.stdout or out.stderr).strip().splitlines()[0][:80]
    facts["versions"] = versions
    return facts


Log = Callable[[str], None]


def _start_group(
    systems: Sequence[str], durable: bool, root: Path, stack: contextlib.ExitStack, log: Log
) -> tuple[dict[str, list[ServerProcess]], dict[str, str]]:
    """Start the servers of ``systems`` (each stopped when ``stack`` closes); returns the
    running ones and, for the others, why they did not start."""
    running: dict[str, list[ServerProcess]] = {}
    failed: dict[str, str] = {}
    mode = "durable" if durable else "async"
    for system in systems:
        try:
            specs = server_specs(
                system, durable and _durable_server(system), root / f"{system}-{mode}"
            )
            running[system] = stack.enter_context(running_servers(specs))
            stack.enter_context(MemorySampler(running[system][-1]))
        except (ServerError, OSError) as exc:
            failed[system] = f"server did not start: {exc}"
            log(f"  {system}: {failed[system].splitlines()[0]}")
    return running, failed


def _run_interleaved(
    systems: Sequence[str],
    workloads: Sequence[str],
    durable: bool,
    settings: CompareSettings,
    root: Path,
    log: Log,
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], dict[str, dict[str, int]]]:
    """Run ``workloads`` with every system's server up at once, the systems one after the
    other for each workload (so the figures compared are measured minutes apart at most),
    ``settings.rounds`` times; returns every round's result and each server's memory peaks."""
    rounds: dict[str, dict[str, list[dict[str, Any]]]] = {s: {} for s in systems}
    memory: dict[str, dict[str, int]] = {}
    mode = "durable" if durable else "async"
    with contextlib.ExitStack() as stack:
        running, failed = _start_group(systems, durable, root, stack, log)
        for number in range(settings.rounds):
            for workload in workloads:
                for system in systems:
                    if system in failed:
                        rounds[system].setdefault(workload, []).append({"error": failed[system]})
                        continue
                    servers = running[system]
                    args = settings.workload_args(system, workload)
                    duration = settings.e2e_duration if workload == "e2e" else settings.duration
                    label = f" round {number + 1}" if settings.rounds > 1 else ""
                    log(f"  {system} {workload} ({mode} server{label}) ...")
                    result = run_workload_process(
                        system, workload, _address(system, servers), args, duration + PHASE_SLACK
                    )
                    result["loadavg_after"] = os.getloadavg()
                    rounds[system].setdefault(workload, []).append(result)
                    log("    " + _summary(result))
        for system, servers in running.items():
            memory[system] = {"peak_rss": servers[-1].peak_rss, "peak_anon": servers[-1].peak_anon}
    return rounds, memory


def combine_rounds(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result from several rounds of a workload: the round with the median rate, with
    ``rate`` and each latency percentile replaced by their medians over the rounds that
    succeeded; every round is kept under ``rounds``."""
    good = [r for r in results if "error" not in r and "unsupported" not in r]
    if not good:
        return dict(results[-1]) if results else {"error": "no round ran"}
    ordered = sorted(good, key=lambda r: r.get("rate", 0.0))
    combined = dict(ordered[(len(ordered) - 1) // 2])
    if len(results) > 1:
        combined["rate"] = statistics.median(r.get("rate", 0.0) for r in good)
        latencies = [r["latency_us"] for r in good if "latency_us" in r]
        if latencies:
            combined["latency_us"] = {
                key: statistics.median(lat[key] for lat in latencies if key in lat)
                for key in latencies[0]
            }
        combined["rounds"] = list(results)
    return combined


def _summary(result: dict[str, Any]) -> str:
    if "error" in result:
        return "failed: " + str(result["error"]).splitlines()[0]
    if "unsupported" in result:
        return "n/a: " + str(result["unsupported"])
    text = f"{result.get('rate', 0):,.0f} msg/s ({result.get('messages', 0):,} messages)"
    latency = result.get("latency_us")
    if latency:
        text += f", latency p50 {latency['p50']:,.0f} µs p99 {latency['p99']:,.0f} µs"
    return text


def run_soak(settings: CompareSettings, root: Path, log: Log) -> dict[str, Any]:
    """``soak_gib`` GiB of pipelined sends through a fresh rmq broker, memory sampled."""
    messages = int(settings.soak_gib * 2**30 / settings.size)
    log(f"  rmq soak: {settings.soak_gib:g} GiB = {messages:,} messages ...")
    args = settings.workload_args("rmq", "send_pipelined")
    args[args.index("--duration") + 1] = str(settings.soak_timeout)
    args += ["--max-messages", str(messages)]
    specs = server_specs("rmq", False, root / "rmq-soak")
    with running_servers(specs) as servers:
        server = servers[-1]
        with MemorySampler(server, period=1.0, keep_series=True) as sampler:
            result = run_workload_process(
                "rmq", "send_pipelined", servers[-1].address, args, settings.soak_timeout + 120
            )
        series = sampler.series
    out: dict[str, Any] = {"result": result, "series": series[:: max(1, len(series) // 200)]}
    if "error" in result or not result.get("messages"):
        out["error"] = result.get("error", "no message sent")
        return out
    sent_bytes = result["messages"] * settings.size
    rate = result["rate"]
    out.update(
        gib=sent_bytes / 2**30,
        rate=rate,
        seconds=result["seconds"],
        peak_rss=max((s[1] for s in series), default=0),
        peak_anon=max((s[2] for s in series), default=0),
    )
    # Heap growth after the first GiB: the workload's clock starts a little after the
    # sampler's, so the 1 GiB mark is placed conservatively late.
    first_gib_at = (2**30 / settings.size) / rate if rate else 0.0
    early = [s[2] for s in series if s[0] <= first_gib_at + 2.0]
    late = [s[2] for s in series if s[0] > first_gib_at + 2.0]
    if early and late:
        growth = max(late) - max(early)
        out["rss_growth_after_first_gib"] = growth
        out["bounded"] = growth < 64 * 2**20
    return out


def run_compare(settings: CompareSettings, log: Log = print) -> dict[str, Any]:
    """Run every phase and return the run dict (see the module docstring)."""
    started = datetime.datetime.now(datetime.UTC)
    run: dict[str, Any] = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "settings": asdict(settings),
        "systems": list(settings.systems),
        "host": _host_facts(),
        "results": {},
        "servers": {},
    }
    root_ctx: Any = (
        contextlib.nullcontext(settings.workdir)
        if settings.workdir
        else tempfile.TemporaryDirectory(prefix="rmq-bench-")
    )
    with root_ctx as root_name:
        root = Path(root_name)
        systems = list(settings.systems)
        async_loads = [w for w in settings.workloads if w != "send_durable"]
        groups = [(False, async_loads)] if async_loads else []
        if "send_durable" in settings.workloads:
            groups.append((True, ["send_durable"]))
        for system in systems:
            run["results"][system] = {}
            run["servers"][system] = {}
        for durable, loads in groups:
            log("durable servers:" if durable else "servers with asynchronous durability:")
            rounds, memory = _run_interleaved(systems, loads, durable, settings, root, log)
            for system in systems:
                for workload, results in rounds[system].items():
                    run["results"][system][workload] = combine_rounds(results)
                if system in memory:
                    run["servers"][system]["durable" if durable else "async"] = memory[system]
        if settings.soak_gib > 0:
            run["soak"] = run_soak(settings, root, log)
    run["host"]["loadavg_after"] = os.getloadavg()
    run["seconds"] = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
    return run


def _durable_server(system: str) -> bool:
    # RabbitMQ and NATS take durability per queue/stream; rmq and Redis per server.
    return system in ("rmq", "redis")


# --- outputs ----------------------------------------------------------------------------------


def _interpreter_note(host: dict[str, Any]) -> str:
    """`` (/usr/bin/python3.11, static)``: which interpreter build ran every process (runs
    before this fact was recorded say nothing)."""
    executable = host.get("python_executable")
    if not executable:
        return ""
    shared = host.get("python_libpython_shared")
    build = "shared libpython" if shared else "static executable"
    return f" ({executable}, {build})"


def render_markdown(
    run: dict[str, Any], command: str, plot_name: str | None, json_name: str = "compare.json"
) -> str:
    """The Markdown report of a run: facts, the comparison table, targets, settings."""
    host = run.get("host", {})
    settings = run.get("settings", {})
    ran = set(run.get("systems", ())) or set(host.get("versions", {}))
    versions = ", ".join(f"{k} {v}" for k, v in host.get("versions", {}).items() if k in ran)
    load = host.get("loadavg_before", [0, 0, 0])
    lines = [
        f"Run of {run.get('started', '?')} on {host.get('cpus', '?')} cores, Python "
        f"{host.get('python', '?')}{_interpreter_note(host)}, load average before "
        f"{load[0]:.2f}; peers: "
        f"{versions or 'none'}. {settings.get('size', 1024)}-byte messages, "
        f"{settings.get('duration', 0):g} s per throughput phase, e2e "
        f"{settings.get('e2e_duration', 0):g} s at {settings.get('rate', 0):g} msg/s.",
        "",
        f"Command: `{command}`",
        "",
        comparison_table(run),
        "",
        "Targets (rmq):",
        "",
        targets_table(run),
    ]
    if plot_name:
        lines += ["", f"![throughput and latency per workload]({plot_name})"]
    lines += ["", f"Per-phase commands, every round and the raw figures: `{json_name}`."]
    return "\n".join(lines) + "\n"


def update_docs(doc: Path, section: str) -> None:
    """Replace the text between the compare markers of ``doc`` by ``section`` (appending a
    marked section when the file or the markers are missing)."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{DOCS_BEGIN}\n{section.rstrip()}\n{DOCS_END}"
    if DOCS_BEGIN in text and DOCS_END in text:
        head, _, rest = text.partition(DOCS_BEGIN)
        _, _, tail = rest.partition(DOCS_END)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n## Latest comparison run\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rmq bench compare``."""
    parser.add_argument(
        "--systems",
        help="comma-separated systems (default: rmq and every installed peer: "
        "redis, nats, rabbitmq)",
    )
    parser.add_argument(
        "--workloads", help=f"comma-separated workloads (default: all of {', '.join(WORKLOADS)})"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--e2e-duration", type=float, default=10.0, help="seconds of e2e phase")
    parser.add_argument("--size", type=int, default=1024, help="message size in bytes")
    parser.add_argument("--rate", type=float, default=1000.0, help="e2e rate in msg/s")
    parser.add_argument(
        "--rmq-batch",
        type=int,
        default=100,
        help="messages per rmq batch (default: the same depth as --redis-pipeline's default)",
    )
    parser.add_argument("--rmq-window", type=int, default=8, help="rmq batches in flight")
    parser.add_argument("--rmq-queues", type=int, default=8, help="queues of the rmq topic")
    parser.add_argument(
        "--rmq-client",
        choices=("raw", "full"),
        default="raw",
        help="pipelined send and consume via the lean raw-remoting path or the full client",
    )
    parser.add_argument("--rmq-pull-batch", type=int, default=32, help="messages per rmq pull")
    parser.add_argument("--redis-pipeline", type=int, default=100, help="XADDs per pipeline")
    parser.add_argument("--nats-pending", type=int, default=1000, help="async publishes pending")
    parser.add_argument(
        "--rabbitmq-unconfirmed", type=int, default=256, help="unconfirmed publishes"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every workload N times; report medians"
    )
    parser.add_argument(
        "--soak-gib", type=float, default=0.0, help="GiB through rmq while sampling its memory"
    )
    parser.add_argument(
        "--soak-timeout", type=float, default=1800.0, help="seconds bound of the soak phase"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results"), help="folder for JSON, Markdown, PNG"
    )
    parser.add_argument("--docs", type=Path, help="update this docs/benchmarks.md section")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--workdir", help="keep server data here instead of a temporary folder")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="do not run: render the table, plot and docs section of a recorded compare.json",
    )


def settings_from_args(args: argparse.Namespace) -> CompareSettings:
    """A validated :class:`CompareSettings` (ValueError on bad values)."""
    systems = _split(args.systems) if args.systems else default_systems()
    workloads = _split(args.workloads) if args.workloads else list(WORKLOADS)
    return CompareSettings(
        systems=systems,
        workloads=workloads,
        duration=args.duration,
        e2e_duration=args.e2e_duration,
        size=args.size,
        rate=args.rate,
        rmq_batch=args.rmq_batch,
        rmq_window=args.rmq_window,
        rmq_queues=args.rmq_queues,
        rmq_client=args.rmq_client,
        rmq_pull_batch=args.rmq_pull_batch,
        redis_pipeline=args.redis_pipeline,
        nats_pending=args.nats_pending,
        rabbitmq_unconfirmed=args.rabbitmq_unconfirmed,
        soak_gib=args.soak_gib,
        soak_timeout=args.soak_timeout,
        rounds=args.rounds,
        workdir=args.workdir,
    )


def _own_argv() -> list[str]:
    """The arguments after ``compare`` on this process's command line."""
    argv = sys.argv[1:]
    return argv[argv.index("compare") + 1 :] if "compare" in argv else argv


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def compare_main(args: argparse.Namespace, argv: Sequence[str] | None = None) -> int:
    """Handler of ``rmq bench compare``: run, print the table, write the outputs."""
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"rmq bench compare: {exc}", file=sys.stderr)
        return 2
    peers = [s for s in settings.systems if s != "rmq"]
    missing = [s for s in peers if not _module_available(PEERS_NEEDING_PACKAGES[s])]
    if missing:
        print(
            f"rmq bench compare: Python client(s) for {', '.join(missing)} missing: "
            "run `make bench-peers` (pip install -e '.[bench]')",
            file=sys.stderr,
        )
        return 2
    absent = [s for s in peers if not peer_available(s)]
    if absent:
        print(
            f"rmq bench compare: server(s) for {', '.join(absent)} not installed: run "
            "`make bench-peers`",
            file=sys.stderr,
        )
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.render is not None:
        try:
            run = json.loads(args.render.read_text())
        except (OSError, ValueError) as exc:
            print(f"rmq bench compare: cannot read {args.render}: {exc}", file=sys.stderr)
            return 2
    else:
        command = "rmq bench compare " + shlex.join(list(argv) if argv is not None else _own_argv())
        run = run_compare(settings, log=lambda line: print(line, flush=True))
        run["command"] = command.strip()
        (out / "compare.json").write_text(json.dumps(run, indent=1, default=str) + "\n")
    plot_name = None
    if not args.no_plot:
        from bench.plot import plot_run

        target = plot_run(run, out / PLOT_NAME)
        plot_name = target.name
        if args.docs is not None:
            shutil.copyfile(target, args.docs.parent / PLOT_NAME)
    command = str(run.get("command", "rmq bench compare"))
    (out / "compare.md").write_text(render_markdown(run, command, plot_name))
    markdown = render_markdown(run, command, plot_name)
    if args.docs is not None:
        markdown = render_markdown(run, command, plot_name, JSON_NAME)
        (args.docs.parent / JSON_NAME).write_text(json.dumps(run, indent=1, default=str) + "\n")
        update_docs(args.docs, markdown)
    print()
    print(markdown)
    written = [out / "compare.json", out / "compare.md"]
    if plot_name:
        written.append(out / plot_name)
    print("results: " + ", ".join(str(path) for path in written))
    return 0
