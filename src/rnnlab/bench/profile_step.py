"""Where a training step's time goes beyond the network: rnnlab's training path under cProfile, its time split by
the package that spends it (Lightning, torch, rnnlab, the rest), and the functions that spend the most of it.

    python scripts/profile_step.py                     # the overhead benchmark's B=32 run
    python scripts/profile_step.py --batch-size 256 --top 40

    python scripts/profile_step.py --split             # where an epoch goes, without a profiler

The run is the overhead benchmark's (:func:`rnnlab.bench.overhead.bits_config`): bit problem 3, H = 32, 8,192
sequences per epoch. Only the training epochs after the first are profiled (steady state), as the benchmark
times them.

``--split`` times the same epochs without cProfile (which slows Python code more than torch's kernels) and splits
them into their parts (:data:`PARTS`): the epoch's start, the time between two Lightning steps, and inside each
step the network's forward passes, the losses and metrics, the backward passes and optimizer steps, the callbacks'
optimizer-step hooks and the rest; beside them the hand-written loop's epoch
(:func:`rnnlab.bench.overhead.plain_run`) split the same way.
"""

from __future__ import annotations

import cProfile
import itertools
import pstats
import statistics
import time
from collections import defaultdict

import lightning as L
import torch
import torch.nn.functional as F

from rnnlab.bench.overhead import bits_config, plain_setup, timed_train

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


# The parts of a training epoch, in the order they come. rnnlab fetches its batches at the epoch's start and
# between Lightning steps; the loop before each step.
PARTS = {
    "start": "the epoch's start: its start hooks, the loader restarted, the first Lightning step's batches fetched",
    "fetch": "the batches fetched",
    "forward": "the network's forward passes",
    "loss": "the losses (rnnlab: also the module's calls of its network, and the predictions kept for the epoch's "
    "metrics)",
    "optimize": "gradients zeroed, the backward passes, the optimizer steps",
    "hooks": "the callbacks' hooks before each optimizer step (the non-finite guard's check)",
    "rest": "the rest of each Lightning step: Lightning's call of the training step, the callbacks' batch hooks",
    "between": "between two Lightning steps: Lightning's loop, the next step's batches fetched",
}
# The parts each side's epoch has.
RNNLAB_PARTS = ("start", "forward", "loss", "optimize", "hooks", "rest", "between")
LOOP_PARTS = ("fetch", "forward", "loss", "optimize")


class EpochSplit(L.Callback):
    """Milliseconds of each training epoch in each of :data:`RNNLAB_PARTS`, from the epoch's start to the end of its
    last batch (as :class:`~rnnlab.bench.overhead.EpochTimer` times it). Inside a Lightning step it times the
    module's ``step`` (forward, loss, metrics), its network's forward, its ``optimize`` and the callbacks'
    ``on_before_optimizer_step`` through wrappers set for the fit (each adds two clock readings a call); the rest of
    the step is what lies between them. A callback's batch hooks count as the step when they run between this
    one's: the split is exact to a few microseconds per Lightning step."""

    timed = ("step", "forward", "optimize", "hooks")

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self.spent = dict.fromkeys(self.timed, 0.0)

    def on_train_start(self, trainer, pl_module) -> None:
        # Before the module's own on_train_start, which collects the callbacks' optimizer-step hooks.
        self.wrapped = [
            (pl_module, "step", "step"),
            (pl_module.net, "forward", "forward"),
            (pl_module, "optimize", "optimize"),
        ]
        self.wrapped += [
            (c, "on_before_optimizer_step", "hooks")
            for c in trainer.callbacks
            if type(c).on_before_optimizer_step is not L.Callback.on_before_optimizer_step
        ]
        for owner, name, part in self.wrapped:
            owner.__dict__[name] = self._timing(getattr(owner, name), part)

    def on_train_end(self, trainer, pl_module) -> None:
        for owner, name, _ in self.wrapped:
            del owner.__dict__[name]

    def _timing(self, call, part: str):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.spent[part] += time.perf_counter() - start

        return timed

    def _add(self, part: str) -> None:
        now = time.perf_counter()
        self.epochs[-1][part] += (now - self.mark) * 1e3
        self.mark = now

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epochs.append(dict.fromkeys(RNNLAB_PARTS, 0.0))
        self.spent = dict.fromkeys(self.timed, 0.0)
        self.mark, self.first = time.perf_counter(), True

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._add("start" if self.first else "between")
        self.first = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._add("rest")
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            spent, epoch = {part: seconds * 1e3 for part, seconds in self.spent.items()}, self.epochs[-1]
            epoch |= {
                "forward": spent["forward"],
                "loss": spent["step"] - spent["forward"],
                "optimize": spent["optimize"] - spent["hooks"],
                "hooks": spent["hooks"],
            }
            epoch["rest"] -= spent["step"] + spent["optimize"]


def loop_split(cfg) -> list[dict[str, float]]:
    """:func:`~rnnlab.bench.overhead.plain_run`'s epochs in milliseconds per each of :data:`LOOP_PARTS`."""
    x_all, y_all, net, optimizer, generator = plain_setup(cfg)
    epochs = []
    for _ in range(cfg.trainer.max_epochs):
        spent = dict.fromkeys(LOOP_PARTS, 0.0)
        mark = time.perf_counter()
        for index in torch.randperm(len(x_all), generator=generator).split(cfg.task.data.batch_size):
            x, y = x_all[index], y_all[index]
            fetched = time.perf_counter()
            logits = net(x)
            forward = time.perf_counter()
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            lost = time.perf_counter()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            stepped = time.perf_counter()
            for part, (begin, end) in zip(
                LOOP_PARTS, itertools.pairwise((mark, fetched, forward, lost, stepped)), strict=True
            ):
                spent[part] += (end - begin) * 1e3
            mark = stepped
        epochs.append(spent)
    return epochs


def steady_medians(epochs: list[dict[str, float]]) -> dict[str, float]:
    """Each part's median over the epochs after the first, and the epochs' own (``epoch``)."""
    steady = epochs[1:]
    medians = {part: statistics.median(epoch[part] for epoch in steady) for part in steady[0]}
    return medians | {"epoch": statistics.median(sum(epoch.values()) for epoch in steady)}


def split(
    batch_size: int = 32, sequences: int = 8192, epochs: int = 4, hidden_size: int = 32
) -> dict[str, dict[str, float]]:
    """Median milliseconds per training epoch after the first, by part and whole (``epoch``): rnnlab's
    (:data:`RNNLAB_PARTS`) and the hand-written loop's on the same data and thread count (:data:`LOOP_PARTS`)."""
    timed = f"+callbacks.epoch_split._target_={__name__}.EpochSplit"
    cfg = bits_config(batch_size, sequences, epochs, hidden_size, extra=[timed])
    _, objects = timed_train(cfg)
    (callback,) = (c for c in objects["trainer"].callbacks if isinstance(c, EpochSplit))
    return {"rnnlab": steady_medians(callback.epochs), "loop": steady_medians(loop_split(cfg))}


def split_report(medians: dict[str, dict[str, float]]) -> str:
    rnnlab, loop = medians["rnnlab"], medians["loop"]
    lines = ["| part of a training epoch | rnnlab, ms | loop, ms |", "|---|---:|---:|"]
    for part, about in PARTS.items():
        cells = [f"{times[part]:.1f}" if part in times else "—" for times in (rnnlab, loop)]
        lines.append(f"| {about} | {cells[0]} | {cells[1]} |")
    lines.append(f"| **the epoch** | **{rnnlab['epoch']:.1f}** | **{loop['epoch']:.1f}** |")
    return "\n".join(lines)
