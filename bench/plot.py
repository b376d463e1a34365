"""The PNG of a comparison run: throughput per workload (left) and latency (right), one bar
per system, log scale, each bar labelled with its figure. Needs matplotlib (``bench`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.table import FIGURES, PEER_NAMES, figure_value

__all__ = ["plot_run"]

COLORS = {"rmq": "#d9534f", "redis": "#5b8def", "nats": "#3fb68b", "rabbitmq": "#f0ad4e"}


def _short(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value / 1000:.1f}ms" if value >= 1000 else f"{value:.0f}µs"
    return f"{value / 1000:.0f}k" if value >= 1000 else f"{value:.0f}"


def _panel(ax: Any, run: Mapping[str, Any], systems: list[str], unit: str, title: str) -> None:
    figures = [f for f in FIGURES if f.unit == unit]
    results = run.get("results", {})
    width = 0.8 / max(1, len(systems))
    for index, system in enumerate(systems):
        xs, heights = [], []
        for position, fig in enumerate(figures):
            value = figure_value(results.get(system, {}).get(fig.workload), fig.metric)
            if value is not None and value > 0:
                xs.append(position + (index - (len(systems) - 1) / 2) * width)
                heights.append(value)
        bars = ax.bar(
            xs, heights, width, label=PEER_NAMES.get(system, system), color=COLORS.get(system)
        )
        for bar, value in zip(bars, heights, strict=True):
            ax.annotate(
                _short(value, unit),
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90,
                xytext=(0, 2),
                textcoords="offset points",
            )
    heights = [bar.get_height() for bar in ax.patches if bar.get_height() > 0]
    if heights:
        ax.set_yscale("log")
        # room below the shortest bar and for the labels above the tallest one
        ax.set_ylim(bottom=min(heights) / 3, top=max(heights) * 6)
    ax.set_xticks(range(len(figures)))
    ax.set_xticklabels([f.label.replace(", ", ",\n") for f in figures], fontsize=8)
    ax.set_ylabel(unit + (" (higher is better)" if unit == "msg/s" else " (lower is better)"))
    ax.set_title(title)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", ncols=len(systems))


def plot_run(run: Mapping[str, Any], path: Path) -> Path:
    """Draw ``run`` into the PNG at ``path`` and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(run.get("systems", run.get("results", {}).keys()))
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [4, 3]})
    size = run.get("settings", {}).get("size", 1024)
    _panel(left, run, systems, "msg/s", f"Throughput, {size}-byte messages")
    _panel(right, run, systems, "µs", "Latency")
    started = run.get("started", "")
    fig.suptitle(
        f"rmq vs peers on one {run.get('host', {}).get('cpus', '?')}-core machine {started}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
