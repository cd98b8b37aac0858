"""``hydra/launcher=local_parallel``: a multirun's jobs side by side on this machine, in worker processes forked
from the sweep's own process.

A forked worker starts with what the sweep process has imported, so torch, Lightning and rnnlab are imported once
per sweep rather than once per worker, as in the fresh interpreters of Hydra's joblib launcher: seconds per worker,
which a sweep of short jobs does not win back. The sweep process runs no torch computation before it forks (its
OpenMP threads would not survive the fork). Each job's ``threads=auto`` takes the cores divided by ``n_jobs``
(rnnlab/run/threads.py). Workers take the next job as they finish one; Hydra's per-job directories, logs and
return values are as with any launcher. Settings: conf/hydra/launcher/local_parallel.yaml.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from rnnlab.machine import cores

log = logging.getLogger(__name__)


# What the forked workers read: set by LocalParallelLauncher.launch just before it forks them. Hydra's plugin scan
# executes this module again inside a worker between two jobs (it loads plugins with load_module): keep what is set.
_sweep: dict[str, Any] = globals().get("_sweep", {})


def _run(position: int) -> JobReturn:
    """Run the sweep's job at ``position`` (in a worker)."""
    launcher, singleton_state = _sweep["launcher"], _sweep["singleton_state"]
    index, overrides = _sweep["jobs"][position]
    setup_globals()
    Singleton.set_state(singleton_state)
    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(config):
        config.hydra.job.id = f"{config.hydra.job.name}_{index}"
        config.hydra.job.num = index
    HydraConfig.instance().set_config(config)
    result = run_job(
        hydra_context=launcher.hydra_context,
        config=config,
        task_function=launcher.task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    # Back to the sweep process as plain configs: Hydra's structured nodes (its plugins' dataclasses) do not pickle.
    for name in ("cfg", "hydra_cfg"):
        if (value := getattr(result, name)) is not None:
            setattr(result, name, OmegaConf.create(OmegaConf.to_container(value, resolve=False)))
    return result


class LocalParallelLauncher(Launcher):
    def __init__(self, n_jobs: int = -1, preload: str = "") -> None:
        self.n_jobs, self.preload = n_jobs, preload
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def workers(self, jobs: int) -> int:
        return max(1, min(jobs, cores() if self.n_jobs < 0 else self.n_jobs))

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        workers = self.workers(len(job_overrides))
        log.info(f"Launching {len(job_overrides)} jobs, {workers} at a time, sweep output dir: {sweep_dir}")
        for index, overrides in enumerate(job_overrides, initial_job_idx):
            log.info(f"\t#{index} : {' '.join(filter_overrides(overrides))}")
        if self.preload:
            importlib.import_module(self.preload)
        _sweep.update(
            launcher=self,
            singleton_state=Singleton.get_state(),
            jobs=list(enumerate(job_overrides, initial_job_idx)),
        )
        try:
            # Not multiprocessing.Pool: its daemonic workers could not start processes of their own.
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(_run, range(len(job_overrides))))
        finally:
            _sweep.clear()
