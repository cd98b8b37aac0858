"""Where a training step's time goes beyond the network: rnnlab's training path under cProfile, its time split by
the package that spends it (Lightning, torch, rnnlab, the rest), and the functions that spend the most of it.

    python scripts/profile_step.py                     # the overhead benchmark's B=32 run
    python scripts/profile_step.py --batch-size 256 --top 40

The run is the overhead benchmark's (:func:`rnnlab.bench.overhead.bits_config`): bit problem 3, H = 32, 8,192
sequences per epoch. Only the training epochs after the first are profiled (steady state), as the benchmark
times them.
"""

from __future__ import annotations

import cProfile
import pstats
from collections import defaultdict

import lightning as L

from rnnlab.bench.overhead import bits_config, timed_train

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
