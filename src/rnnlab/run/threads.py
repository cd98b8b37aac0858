"""How many intra-op threads a run's torch uses: the ``threads`` setting.

torch starts one intra-op (OpenMP) thread per core in every process. Two such processes on one machine, or a
sweep's parallel jobs, oversubscribe the cores, and OpenMP threads that spin-wait on each other then make each
process tens of times slower. ``threads=auto`` (the default) therefore gives each process its share of the cores
(the cores divided by a multirun launcher's parallel jobs), and a recurrent model too small to gain from a second
thread only one: its steps are chains of small matrix products, where a thread's wake-up costs as much as it saves.
While it runs, an auto run keeps to its share beside the other rnnlab runs on the machine, whenever they start
(:class:`~rnnlab.callbacks.thread_share.ThreadShare`). ``threads=<n>`` sets it outright; with ``threads=auto`` an
``OMP_NUM_THREADS`` set in the environment wins, as torch's own default does.

``python scripts/bench.py --only threads`` measures the gain of a second thread per model size, which
:data:`SMALL_WORK` is read from.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError
from rnnlab.machine import RunRegistry, cores, share

if TYPE_CHECKING:
    from rnnlab.callbacks.thread_share import ThreadShare

# Below this many multiply-adds per time step in the recurrent layers (batch × hidden × gate rows, summed over
# layers and directions), a second thread gained < 10 % in `scripts/bench.py --only threads` on 2 cores.
SMALL_WORK = 200_000
GATE_ROWS = {"rnn": 1, "gru": 3, "lstm": 4}


def parallel_jobs() -> int:
    """How many jobs a multirun launcher runs at once beside this one (1 outside a parallel multirun)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return 1
    jobs = OmegaConf.select(HydraConfig.get(), "launcher.n_jobs")
    if not isinstance(jobs, int) or jobs == 0:
        return 1
    return cores() if jobs < 0 else jobs  # joblib: -1 is one job per core


def recurrent_work(cfg: DictConfig) -> int:
    """Multiply-adds per time step of the recurrent layers' state updates: batch × hidden × (gate rows × hidden),
    per layer and direction."""
    model = cfg.model
    batch = OmegaConf.select(cfg, "task.data.batch_size") or 1
    directions = 2 if model.get("bidirectional") else 1
    rows = GATE_ROWS.get(model.cell, 1) * model.hidden_size
    return batch * model.hidden_size * rows * model.num_layers * directions


def is_small(cfg: DictConfig) -> bool:
    """Whether ``cfg``'s recurrent layers do too little work per time step to gain 10 % from a second thread."""
    return recurrent_work(cfg) < SMALL_WORK


class ThreadChoice(NamedTuple):
    """A run's thread count, why, and whether it keeps to its share beside other rnnlab runs (``auto``, unless
    ``OMP_NUM_THREADS`` decided)."""

    count: int
    why: str
    shares: bool = False


def resolve_threads(cfg: DictConfig) -> ThreadChoice:
    """The thread count for ``cfg`` and why, e.g. ``(1, "auto: small model", True)``."""
    setting = cfg.get("threads", "auto")
    if setting != "auto":
        if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
            raise ConfigError(f"threads={setting!r} must be auto or a positive integer, e.g. threads=1")
        return ThreadChoice(setting, "threads")
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return ThreadChoice(int(os.environ["OMP_NUM_THREADS"]), "auto: OMP_NUM_THREADS")
    jobs = parallel_jobs()
    per_job = max(1, cores() // jobs)
    if per_job > 1 and is_small(cfg):
        return ThreadChoice(1, "auto: a small recurrent model gains < 10 % from a second thread", shares=True)
    why = f"auto: {cores()} core(s)" + (f" / {jobs} parallel jobs" if jobs > 1 else "")
    return ThreadChoice(per_job, why, shares=True)


def apply_threads(cfg: DictConfig) -> tuple[int, str, ThreadShare]:
    """Set torch's intra-op threads for ``cfg`` (:func:`resolve_threads`; an auto run's share beside the rnnlab runs
    already on the machine); returns the count, the reason, and the callback that registers the run and keeps an
    auto run to its share."""
    import torch

    from rnnlab.callbacks.thread_share import ThreadShare  # Lightning: imported by the runs that train only

    ceiling, why, shares = resolve_threads(cfg)
    registry = RunRegistry()
    others = registry.others() if shares else 0
    threads = share(ceiling, others) if shares else ceiling
    if threads < ceiling:
        why = f"{why}, shared with {others} other rnnlab run(s)"
    torch.set_num_threads(threads)
    return threads, why, ThreadShare(ceiling, shares, registry)
