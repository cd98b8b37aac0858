"""Where a training step's time goes beyond the network: rnnlab's training path under cProfile, its time split by
the package that spends it (Lightning, torch, rnnlab, the rest), and the functions that spend the most of it.

    python scripts/profile_step.py                     # the overhead benchmark's B=32 run
    python scripts/profile_step.py --batch-size 256 --top 40

    python scripts/profile_step.py --split             # where an epoch goes, without a profiler

The run is the overhead benchmark's (:func:`rnnlab.bench.overhead.bits_config`): bit problem 3, H = 32, 8,192
sequences per epoch. Only the training epochs after the first are profiled (steady state), as the benchmark
times them.

``--split`` times the same epochs without cProfile (which slows Python code more than torch's kernels) and splits
them into rnnlab's training steps, the time between two Lightning steps, and the epoch's start, beside the
hand-written loop's epoch (:func:`rnnlab.bench.overhead.plain_run`).
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import time
from collections import defaultdict

import lightning as L

from rnnlab.bench.overhead import bits_config, plain_run, timed_train

GROUPS = (("lightning", "/lightning/"), ("torch", "/torch/"), ("rnnlab", "/rnnlab/"))


class ProfileEpochs(L.Callback):
    """Profiles every training epoch after the first, from its start to the end of its last batch (as
    :class:`~rnnlab.bench.overhead.EpochTimer` times it: the validation inside the epoch is left out)."""

    def __init__(self) -> None:
        self.profiler = cProfile.Profile()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch > 0:
            self.profiler.enable()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.profiler.disable()


def group_of(filename: str) -> str:
    return next((name for name, part in GROUPS if part in filename), "other")


def own_time_by_group(stats: pstats.Stats) -> dict[str, float]:
    """Seconds spent in each group's own code (cProfile's tottime, which counts a C function by its caller's
    package only when it is a method of a Python object: torch's C kernels appear as built-ins, under "other")."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():
        totals[group_of(filename)] += own
    return dict(totals)


def profile(batch_size: int = 32, sequences: int = 8192, epochs: int = 3, hidden_size: int = 32) -> pstats.Stats:
    profiled = f"+callbacks.profile_epochs._target_={__name__}.ProfileEpochs"
    cfg = bits_config(batch_size, sequences, epochs, hidden_size, extra=[profiled])
    _, objects = timed_train(cfg)
    (callback,) = (c for c in objects["trainer"].callbacks if isinstance(c, ProfileEpochs))
    return pstats.Stats(callback.profiler)


def report(stats: pstats.Stats, top: int = 25) -> str:
    total = sum(own for (_, _, own, _, _) in stats.stats.values())
    lines = [f"profiled: {total:.2f} s of training epochs (cProfile's own overhead included)", ""]
    lines += ["| code of | own time, s | share |", "|---|---:|---:|"]
    for group, seconds in sorted(own_time_by_group(stats).items(), key=lambda item: -item[1]):
        lines.append(f"| {group} | {seconds:.2f} | {seconds / total:.0%} |")
    lines += ["", f"The {top} functions with the most own time:", ""]
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]
    lines += ["| function | calls | own, s | with callees, s |", "|---|---:|---:|---:|"]
    for (filename, line, name), (_, calls, own, cumulative, _) in rows:
        where = filename.split("site-packages/")[-1].split("src/")[-1]
        lines.append(f"| `{name}` {where}:{line} | {calls} | {own:.3f} | {cumulative:.3f} |")
    return "\n".join(lines)


# The parts of a training epoch :class:`EpochSplit` times, in the order they come.
PARTS = {
    "start": "the epoch's start: its start hooks, the loader restarted, the first batch fetched",
    "steps": "rnnlab's training steps (a Lightning step: its batches' forward, backward, optimizer steps), with the "
    "batch hooks of the callbacks",
    "between": "between two Lightning steps: Lightning's loop, the next batch fetched",
}


class EpochSplit(L.Callback):
    """Milliseconds of each training epoch in each of :data:`PARTS`, from the epoch's start to the end of its last
    batch (as :class:`~rnnlab.bench.overhead.EpochTimer` times it). A callback's batch hooks count as the step when
    they run between this one's: the split is exact to a few microseconds per Lightning step."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def _add(self, part: str) -> None:
        now = time.perf_counter()
        self.epochs[-1][part] += (now - self.mark) * 1e3
        self.mark = now

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epochs.append(dict.fromkeys(PARTS, 0.0))
        self.mark, self.first = time.perf_counter(), True

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._add("start" if self.first else "between")
        self.first = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._add("steps")


def split(batch_size: int = 32, sequences: int = 8192, epochs: int = 4, hidden_size: int = 32) -> dict[str, float]:
    """Median milliseconds per training epoch after the first: each of :data:`PARTS`, their sum (``epoch``), and the
    hand-written loop's epoch on the same data and thread count (``loop``)."""
    timed = f"+callbacks.epoch_split._target_={__name__}.EpochSplit"
    cfg = bits_config(batch_size, sequences, epochs, hidden_size, extra=[timed])
    _, objects = timed_train(cfg)
    (callback,) = (c for c in objects["trainer"].callbacks if isinstance(c, EpochSplit))
    steady = callback.epochs[1:]
    medians = {part: statistics.median(epoch[part] for epoch in steady) for part in PARTS}
    medians["epoch"] = statistics.median(sum(epoch.values()) for epoch in steady)
    medians["loop"] = statistics.median(plain_run(cfg)[1:]) * 1e3
    return medians


def split_report(medians: dict[str, float]) -> str:
    lines = ["| part of a training epoch | ms | share |", "|---|---:|---:|"]
    for part, about in PARTS.items():
        lines.append(f"| {about} | {medians[part]:.1f} | {medians[part] / medians['epoch']:.1%} |")
    lines.append(f"| **rnnlab's epoch** | **{medians['epoch']:.1f}** | 100% |")
    lines.append(
        f"| the hand-written loop's epoch | {medians['loop']:.1f} | {medians['loop'] / medians['epoch']:.1%} |"
    )
    return "\n".join(lines)
