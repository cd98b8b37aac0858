"""Runs that share the machine: two trainings at once, and a sweep's jobs side by side.

Every run is a real ``scripts/train.py`` process, as a user starts it. The variants take turns:

- ``default``: rnnlab's settings (``threads=auto``);
- ``before``: what rnnlab did before it had ``threads``: torch's default of one thread per core in every process
  (``threads=<cores>``);
- ``before, passive``: the same with ``OMP_WAIT_POLICY=PASSIVE``, OpenMP threads that sleep rather than spin while
  they wait: the usual advice against oversubscription, measured here for what it costs a run alone.

*Pairs*: a task trained alone, then two of it at once, in each variant; each run reports training sequences per
second (the median epoch after the first, from its CSV log). The comparison is a pair member's throughput ÷ the
solo one's (2 cores: 0.5 is a fair share). *Sweep* (rnnlab's defaults): four seeds of a task as a multirun, one job
after another (Hydra's basic launcher, as sweeps ran before) and side by side (``hydra/launcher=local_parallel``);
the comparison is jobs per minute, side by side ÷ one at a time.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnlab.bench.harness import Result, comparison
from rnnlab.run.config import PROJECT_ROOT
from rnnlab.run.threads import cores

QUIET = ["~callbacks.rich_progress_bar", "logger=csv", "test=false"]
PAIR_TASKS = {
    # The default run: bit problem 3.
    "bits": [],
    # A bidirectional encoder-decoder, a few dozen batches per epoch.
    "translate": [
        "task=translate",
        "model=birnn",
        "trainer.max_epochs=3",
        "+trainer.limit_train_batches=80",
        "task.data.sizes.val=200",
    ],
}
# At gap 50 an LSTM with torch's init stays at chance (docs/long_range.md), so every job trains its whole budget
# of 3,000 steps: jobs of equal length, about 8 s each on one core, besides the 4.7 s of imports both launchers
# pay once (docs/performance.md), which bound the side-by-side gain below 2.
SWEEP_TASK = ["task=long_range", "model=lstm", "task.gap=50"]


def variants(before: bool = True) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Overrides and environment of each variant (``before=False``: rnnlab's defaults only)."""
    default = {"default": ([], {})}
    if not before:
        return default
    # Where it collapses, a run stops after 90 s: its finished epochs give its throughput.
    every_core = [f"threads={cores()}", "++trainer.max_time=00:00:01:30"]
    return {**default, "before": (every_core, {}), "before, passive": (every_core, {"OMP_WAIT_POLICY": "PASSIVE"})}


def slug(name: str) -> str:
    """A folder name Hydra reads as one value (no commas or spaces)."""
    return "".join(c if c.isalnum() else "_" for c in name)


def start(overrides: list[str], env: dict[str, str], folder: Path) -> subprocess.Popen:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    }
    return subprocess.Popen(
        [sys.executable, "scripts/train.py", *overrides, *QUIET, f"hydra.run.dir={folder}"],
        cwd=PROJECT_ROOT,
        env={**environment, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def throughput(folder: Path) -> float:
    """Median training sequences per second over the epochs after the first (CSV log of the Throughput callback)."""
    with open(folder / "csv" / "metrics.csv") as file:
        values = [float(row["train/sequences_per_s"]) for row in csv.DictReader(file) if row["train/sequences_per_s"]]
    if not values:
        raise RuntimeError(f"{folder}: no training epoch finished")
    return statistics.median(values[1:] or values)


def finish(process: subprocess.Popen) -> None:
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"training failed ({process.returncode}): {stderr[-2000:]}")


def pair_ratio(task: list[str], overrides: list[str], env: dict[str, str], folder: Path) -> tuple[float, float]:
    """(solo throughput, mean throughput of two concurrent runs ÷ solo)."""
    solo = start([*task, *overrides], env, folder / "solo")
    finish(solo)
    both = [start([*task, *overrides], env, folder / f"pair{i}") for i in (0, 1)]
    for process in both:
        finish(process)
    alone = throughput(folder / "solo")
    return alone, statistics.mean(throughput(folder / f"pair{i}") for i in (0, 1)) / alone


def sweep_minutes(task: list[str], overrides: list[str], env: dict[str, str], folder: Path, parallel: bool) -> float:
    launcher = ["hydra/launcher=local_parallel"] if parallel else []
    began = time.perf_counter()
    finish(start(["-m", *launcher, *task, *overrides, "seed=1,2,3,4", f"hydra.sweep.dir={folder}"], env, folder))
    return (time.perf_counter() - began) / 60


def run(pair_tasks=None, sweep_task=None, repeats: int = 1, before: bool = True, device: str = "cpu"):
    """``before=False``: rnnlab's defaults only (the ``before`` variant can take minutes where it collapses)."""
    pair_tasks = PAIR_TASKS if pair_tasks is None else pair_tasks
    sweep_task = SWEEP_TASK if sweep_task is None else sweep_task
    results, comparisons = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, task in pair_tasks.items():
            for variant, (overrides, env) in variants(before).items():
                ratios, solos = [], []
                for repeat in range(repeats):
                    solo, ratio = pair_ratio(task, overrides, env, Path(tmp) / slug(f"{name}_{variant}_{repeat}"))
                    solos.append(solo)
                    ratios.append(ratio)
                case = f"{name}: two at once"
                results.append(Result("concurrency", f"{name} alone", variant, "sequences/s", solos))
                results.append(Result("concurrency", case, variant, "pair ÷ solo", ratios))
                comparisons.append(
                    comparison(
                        "concurrency",
                        f"{case} ({variant})",
                        "each ÷ alone",
                        statistics.median(ratios),
                        at_least=0.45 if variant == "default" else None,
                    )
                )
        # The sweep with rnnlab's defaults only; before, sweeps ran one job at a time (the first row).
        minutes: dict[str, list[float]] = {"one at a time": [], "side by side": []}
        for repeat in range(repeats):
            for mode, values in minutes.items():
                folder = Path(tmp) / slug(f"sweep_{mode}_{repeat}")
                values.append(sweep_minutes(sweep_task, [], {}, folder, mode == "side by side"))
        for mode, values in minutes.items():
            results.append(Result("concurrency", f"4-job sweep, {mode}", "default", "minutes", values))
        speedup = statistics.median(minutes["one at a time"]) / statistics.median(minutes["side by side"])
        comparisons.append(
            comparison(
                "concurrency",
                f"4-job sweep (default, {cores()} cores)",
                "jobs/min, side by side ÷ one at a time",
                speedup,
                at_least=1.8,
            )
        )
    return results, comparisons
