"""How many intra-op threads a run's torch uses: the ``threads`` setting.

torch starts one intra-op (OpenMP) thread per core in every process. Two such processes on one machine, or a
sweep's parallel jobs, oversubscribe the cores, and OpenMP threads that spin-wait on each other then make each
process tens of times slower. ``threads=auto`` (the default) therefore gives each process its share of the cores
(the cores divided by a multirun launcher's parallel jobs), and a recurrent model too small to gain from a second
thread only one: its steps are chains of small matrix products, where a thread's wake-up costs as much as it saves.
``threads=<n>`` sets it outright; with ``threads=auto`` an ``OMP_NUM_THREADS`` set in the environment wins, as
torch's own default does.

``python scripts/bench.py --only threads`` measures the gain of a second thread per model size, which
:data:`SMALL_WORK` is read from.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError

# Below this many multiply-adds per time step in the recurrent layers (batch × hidden × gate rows, summed over
# layers and directions), a second thread gained < 10 % in `scripts/bench.py --only threads` on 2 cores.
SMALL_WORK = 200_000
GATE_ROWS = {"rnn": 1, "gru": 3, "lstm": 4}


def cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. under taskset or a container's CPU set)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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


def resolve_threads(cfg: DictConfig) -> tuple[int, str]:
    """The thread count for ``cfg`` and why, e.g. ``(1, "auto: small model")``."""
    setting = cfg.get("threads", "auto")
    if setting != "auto":
        if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
            raise ConfigError(f"threads={setting!r} must be auto or a positive integer, e.g. threads=1")
        return setting, "threads"
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"]), "auto: OMP_NUM_THREADS"
    jobs = parallel_jobs()
    share = max(1, cores() // jobs)
    if share > 1 and recurrent_work(cfg) < SMALL_WORK:
        return 1, "auto: a small recurrent model gains < 10 % from a second thread"
    return share, f"auto: {cores()} core(s)" + (f" / {jobs} parallel jobs" if jobs > 1 else "")


def apply_threads(cfg: DictConfig) -> tuple[int, str]:
    """Set torch's intra-op threads for ``cfg`` (:func:`resolve_threads`); returns the count and the reason."""
    import torch

    threads, why = resolve_threads(cfg)
    torch.set_num_threads(threads)
    return threads, why
