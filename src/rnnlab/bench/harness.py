"""Interleaved repetitions, and the JSON + markdown report the suite writes.

A benchmark is a set of variants timed under the same conditions. :func:`interleave` runs them in turn, one
repetition of each per round, so drift on a shared machine (another process, frequency scaling) lands on every
variant; a :class:`Result` keeps every repetition and reports median, min and max.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch


@dataclass
class Result:
    benchmark: str  # e.g. "overhead"
    case: str  # the shape or setting, e.g. "B=32"
    variant: str  # e.g. "rnnlab", "plain"
    unit: str  # what the values measure, e.g. "sequences/s"
    values: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # anything else worth keeping (peak memory, FLOPs, …)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def summary(self) -> dict:
        return {**asdict(self), "median": self.median, "min": min(self.values), "max": max(self.values)}


def interleave(variants: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each variant ``repeats`` times, A B A B …; a variant returns its measurement."""
    values: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, measure in variants.items():
            values[name].append(measure())
    return values


def comparison(
    benchmark: str,
    case: str,
    ratio: str,
    value: float,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    unit: str = "",
    goal: str | None = None,
    met: bool | None = None,
) -> dict:
    """One row of the report's comparisons: ``ratio`` (what is compared) measured at ``value``. Its goal is
    ``at_least`` or ``at_most`` a bound (in ``unit``), or any ``goal`` text with its own ``met``; with none, the row
    is context."""
    if at_least is not None:
        goal, met = f"≥ {at_least:g}{unit}", value >= at_least
    elif at_most is not None:
        goal, met = f"≤ {at_most:g}{unit}", value <= at_most
    return {"benchmark": benchmark, "case": case, "ratio": ratio, "value": value, "goal": goal, "met": met}


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _fmt(value: float) -> str:
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def markdown(results: list[Result], comparisons: list[dict], info: dict) -> str:
    """The report: the machine, each measurement (median, min, max) and each comparison against its goal."""
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}"
        + (f", GPU {info['gpu']}" if "gpu" in info else ""),
        "",
        "| benchmark | case | variant | unit | median | min | max | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.benchmark} | {r.case} | {r.variant} | {r.unit} | {_fmt(r.median)} | {_fmt(min(r.values))} "
            f"| {_fmt(max(r.values))} | {len(r.values)} |"
        )
    if comparisons:
        lines += ["", "| benchmark | case | ratio | measured | goal | met |", "|---|---|---|---|---|---|"]
        for c in comparisons:
            goal = c.get("goal") or ""
            met = "" if c.get("met") is None else ("yes" if c["met"] else "**no**")
            lines.append(f"| {c['benchmark']} | {c['case']} | {c['ratio']} | {_fmt(c['value'])} | {goal} | {met} |")
    return "\n".join(lines) + "\n"


def write_report(out: Path, results: list[Result], comparisons: list[dict], info: dict, command: str) -> Path:
    """``<out>/bench.json`` (every repetition) and ``<out>/bench.md`` (the tables); returns the markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": command,
        "machine": info,
        "results": [r.summary() for r in results],
        "comparisons": comparisons,
    }
    (out / "bench.json").write_text(json.dumps(payload, indent=2) + "\n")
    path = out / "bench.md"
    path.write_text(f"`{command}`\n\n" + markdown(results, comparisons, info))
    return path
