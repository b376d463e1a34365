"""Turn a comparison run (the dict :mod:`bench.compare` writes as JSON) into figures, rmq/peer
ratios, a target check and Markdown.

A *figure* is one number per (workload, metric, system): throughput in msg/s (higher is
better) or latency in µs (lower is better). The ratio is always ``rmq / peer`` of the same
figure, so a ratio above 1 is good for throughput and bad for latency; the tables say which.
A run recorded before a figure existed shows "-" in its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.workload import CONCURRENT_SENDERS

__all__ = [
    "FIGURES",
    "PEER_NAMES",
    "TARGETS",
    "Figure",
    "comparison_table",
    "figure_value",
    "format_number",
    "ratio",
    "target_rows",
    "targets_table",
]

PEER_NAMES = {
    "rmq": "rmq",
    "redis": "Redis Streams",
    "nats": "NATS JetStream",
    "rabbitmq": "RabbitMQ",
}


@dataclass(frozen=True, slots=True)
class Figure:
    """One row of the comparison: ``metric`` of ``workload`` ("rate" or a latency key)."""

    key: str
    label: str
    workload: str
    metric: str  # "rate" or "latency_us.<p50|p99|...>"
    unit: str
    higher_is_better: bool


FIGURES: tuple[Figure, ...] = (
    Figure("send_sync", "one-at-a-time sync send", "send_sync", "rate", "msg/s", True),
    Figure("send_sync_p99", "sync send RT p99", "send_sync", "latency_us.p99", "µs", False),
    Figure(
        "send_concurrent",
        f"sync send, {CONCURRENT_SENDERS} concurrent senders",
        "send_concurrent",
        "rate",
        "msg/s",
        True,
    ),
    Figure("send_pipelined", "pipelined/batched send", "send_pipelined", "rate", "msg/s", True),
    Figure("consume", "consume", "consume", "rate", "msg/s", True),
    Figure("e2e_p50", "e2e latency @1k msg/s, p50", "e2e", "latency_us.p50", "µs", False),
    Figure("e2e_p99", "e2e latency @1k msg/s, p99", "e2e", "latency_us.p99", "µs", False),
    Figure(
        "send_durable",
        "durable send (SYNC_FLUSH / fsync)",
        "send_durable",
        "rate",
        "msg/s",
        True,
    ),
)


def figure_value(result: Mapping[str, Any] | None, metric: str) -> float | None:
    """The number at ``metric`` (dotted path) of a workload result; None when absent,
    failed or unsupported."""
    if not result or "error" in result or "unsupported" in result:
        return None
    value: Any = result
    for part in metric.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if metric == "rate" and not result.get("messages"):
        return None
    return float(value)


def ratio(rmq: float | None, peer: float | None) -> float | None:
    """``rmq / peer``; None when either is missing or the peer's figure is 0."""
    if rmq is None or peer is None or peer == 0:
        return None
    return rmq / peer


def format_number(value: float | None, unit: str = "") -> str:
    """Human figure: thousands separators, µs above 10,000 as ms; "-" when missing."""
    if value is None:
        return "-"
    if unit == "µs" and value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    if unit == "µs":
        return f"{value:,.0f} µs"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _cell(results: Mapping[str, Any], system: str, fig: Figure) -> str:
    result = results.get(system, {}).get(fig.workload)
    value = figure_value(result, fig.metric)
    if value is None and result:
        if "unsupported" in result:
            return "n/a"
        if "error" in result:
            return "failed"
    return format_number(value, fig.unit)


def comparison_table(run: Mapping[str, Any]) -> str:
    """Markdown table: one row per figure, rmq then each peer with its rmq/peer ratio."""
    results: Mapping[str, Any] = run.get("results", {})
    peers = [s for s in run.get("systems", list(results)) if s != "rmq"]
    header = ["workload", "unit", "rmq"]
    for peer in peers:
        header += [PEER_NAMES.get(peer, peer), f"rmq/{PEER_NAMES.get(peer, peer)}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for fig in FIGURES:
        unit = fig.unit + ("" if fig.higher_is_better else ", lower is better")
        row = [fig.label, unit, _cell(results, "rmq", fig)]
        rmq_value = figure_value(results.get("rmq", {}).get(fig.workload), fig.metric)
        for peer in peers:
            peer_value = figure_value(results.get(peer, {}).get(fig.workload), fig.metric)
            row += [_cell(results, peer, fig), _format_ratio(ratio(rmq_value, peer_value))]
        lines.append("| " + " | ".join(row) + " |")
    rss_row = ["server peak RSS (heap)", "MiB", ""]
    servers: Mapping[str, Any] = run.get("servers", {})
    for system in ["rmq", *peers]:
        groups = servers.get(system, {}).values()
        peak = max((g.get("peak_rss", 0) for g in groups), default=0)
        anon = max((g.get("peak_anon", 0) for g in groups), default=0)
        text = f"{peak / 2**20:,.0f} ({anon / 2**20:,.0f})" if peak else "-"
        if system == "rmq":
            rss_row[2] = text
        else:
            rss_row += [text, ""]
    lines.append("| " + " | ".join(rss_row) + " |")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Target:
    """One goal of the issue: ``figure`` compared to ``bound``."""

    label: str
    figure: str  # a Figure key, "ratio:<key>:<peer>" or "soak"
    bound: float
    at_least: bool


TARGETS: tuple[Target, ...] = (
    Target("pipelined/batched send, ASYNC_FLUSH >= 100k msg/s", "send_pipelined", 100_000, True),
    Target("pipelined/batched send >= 1.5x Redis Streams", "ratio:send_pipelined:redis", 1.5, True),
    Target("SYNC_FLUSH send with batching >= 50k msg/s", "send_durable", 50_000, True),
    Target("one-at-a-time sync send >= 8k msg/s", "send_sync", 8_000, True),
    Target("consume >= 200k msg/s", "consume", 200_000, True),
    Target("e2e latency at 1,000 msg/s p99 <= 2 ms", "e2e_p99", 2_000, False),
)


def _figure(run: Mapping[str, Any], key: str, system: str = "rmq") -> float | None:
    fig = next(f for f in FIGURES if f.key == key)
    return figure_value(run.get("results", {}).get(system, {}).get(fig.workload), fig.metric)


def target_rows(run: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(target, reached, "met"/"not met"/"not measured")`` for every target."""
    rows: list[tuple[str, str, str]] = []
    for target in TARGETS:
        if target.figure.startswith("ratio:"):
            _, key, peer = target.figure.split(":")
            value = ratio(_figure(run, key), _figure(run, key, peer))
            text = _format_ratio(value)
        else:
            value = _figure(run, target.figure)
            fig = next(f for f in FIGURES if f.key == target.figure)
            text = format_number(value, fig.unit) + ("" if fig.unit == "µs" else f" {fig.unit}")
        rows.append((target.label, text, _verdict(value, target)))
    soak = run.get("soak")
    if soak:
        growth = soak.get("rss_growth_after_first_gib")
        text = (
            f"{soak.get('gib', 0):.1f} GiB at {format_number(soak.get('rate'))} msg/s: "
            f"heap (RssAnon) peak {soak.get('peak_anon', 0) / 2**20:,.0f} MiB"
        )
        if growth is not None:
            text += f", growth after the first GiB {growth / 2**20:,.1f} MiB"
        text += f"; RSS with the mapped commit-log pages {soak.get('peak_rss', 0) / 2**20:,.0f} MiB"
        bounded = soak.get("bounded")
        rows.append(
            (
                "broker memory bounded while 5 GiB pass through",
                text,
                "met" if bounded and soak.get("gib", 0) >= 5 else "not met",
            )
        )
    return rows


def _verdict(value: float | None, target: Target) -> str:
    if value is None:
        return "not measured"
    ok = value >= target.bound if target.at_least else value <= target.bound
    return "met" if ok else "not met"


def targets_table(run: Mapping[str, Any]) -> str:
    """Markdown table of :func:`target_rows`."""
    lines = ["| target | reached | verdict |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in target_rows(run)]
    return "\n".join(lines)
