"""Pieces shared by the train and eval entry points: instantiating config groups, reporting results."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import hydra
import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from rnnlab.callbacks.checkpoint import AtomicCheckpointIO
from rnnlab.lit import family_of
from rnnlab.models.backbone import resolve_impl

log = logging.getLogger("rnnlab")

# Lightning's messages that ask nothing of an rnnlab user (matched at the start of the message's text).
_NOISE = (
    "💡 Tip: For seamless cloud",  # advertises cloud services at every start
    "Trainer already configured with model summary callbacks",  # rnnlab's own summary (ParameterSummary) is on
    # The bit tasks' recipes ask for a few epochs past the solution (trainer.min_epochs) on purpose.
    "Trainer was signaled to stop but the required `min_epochs",
)


def quiet_library_output() -> None:
    """Silence warnings and messages of the libraries that ask nothing of the user, and route Lightning's log
    records to the root logger, so that under Hydra they reach the run's ``train.log`` as well as the console.
    Called when a trainer is made (not at import); repeating it changes nothing."""
    # rnnlab keeps small data sets in memory and slices batches directly; workers would only add overhead.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # Under DDP: rnnlab logs torchmetrics' compute(), which already gathers every rank's counts.
    warnings.filterwarnings("ignore", ".*when logging on epoch level in distributed setting.*")
    # Raised inside Lightning's own pytree helper with torch >= 2.10; nothing a user can act on.
    warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
    # rnnlab logs metrics once per epoch on purpose (per-step logging costs more than a small model's step).
    warnings.filterwarnings("ignore", ".*is smaller than the logging interval.*")
    # `import lightning` gives its loggers console handlers of their own and stops them propagating; under Hydra
    # the root logger prints every record and writes it to the run's log file.
    if logging.getLogger().hasHandlers():
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("lightning"):
                logger = logging.getLogger(name)
                logger.handlers.clear()
                logger.propagate = True
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if _drop_noise not in rank_zero.filters:
        rank_zero.addFilter(_drop_noise)


def _drop_noise(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_NOISE)


def instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry with a ``_target_`` of a callbacks/logger group (entries set to null are off)."""
    if not group:
        return []
    return [hydra.utils.instantiate(entry) for entry in group.values() if entry and "_target_" in entry]


def uses_gpu(trainer: DictConfig) -> bool:
    """Whether the trainer settings put the run on a GPU."""
    accelerator = trainer.get("accelerator", "auto")
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def make_deterministic(cfg: DictConfig) -> None:
    """What ``trainer.deterministic=true`` needs beyond Lightning's switch: cuBLAS's fixed workspace on GPUs (set
    before any CUDA work), and a warning where cuDNN's fused RNN kernels may still vary."""
    if not cfg.trainer.get("deterministic"):
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    on_gpu = torch.cuda.is_available() and uses_gpu(cfg.trainer)
    if on_gpu and resolve_impl(cfg.model.get("impl"), cfg.model.get("cell"), on_gpu) == "fused":
        log.warning(
            "trainer.deterministic=true on a GPU: cuDNN's fused RNN kernels are not guaranteed to repeat bit for bit "
            "on every CUDA/cuDNN version; model.impl=loop avoids them"
        )


def make_trainer(cfg: DictConfig, with_callbacks: bool = True, extra_callbacks: Sequence = ()) -> L.Trainer:
    quiet_library_output()
    make_deterministic(cfg)
    callbacks = [*instantiate_group(cfg.get("callbacks")), *extra_callbacks] if with_callbacks else []
    loggers = instantiate_group(cfg.get("logger"))
    family = family_of(cfg.task.head)
    # Families that optimize manually (several steps per Lightning step, truncated BPTT) clip with this same setting
    # themselves (RecurrentModule.optimize); Lightning refuses it in manual optimization.
    own_clipping = {"gradient_clip_val": None} if family.clips_itself else {}
    # Checkpoints are written atomically (a kill mid-write leaves the previous file whole), unless the config
    # brings its own plugins.
    plugins = {} if cfg.trainer.get("plugins") else {"plugins": [AtomicCheckpointIO()]}
    trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, **own_clipping, **plugins
    )
    if trainer.global_rank > 0:  # under DDP rank 0 reports; the others' lines would only repeat it
        log.setLevel(logging.WARNING)
    if trainer.world_size > 1 and trainer.global_rank == 0 and not family.shards_batches:
        log.warning(
            "%d DDP processes: task %s's batches are not sharded; every process trains on all of them "
            "(no faster than one process)",
            trainer.world_size,
            cfg.task.name,
        )
    return trainer


def scalar_metrics(metrics: dict, prefix: str = "") -> dict[str, float]:
    return {k: float(v) for k, v in sorted(metrics.items()) if k.startswith(prefix)}


def write_metrics(output_dir: str | Path, metrics: dict) -> Path:
    """Write a run's final metrics to ``<output_dir>/metrics.json`` (what tests and sweeps read back). Under DDP
    only rank 0 writes: the metrics are synchronised, and every rank shares the run directory."""
    path = Path(output_dir) / "metrics.json"
    if rank_zero_only.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)  # a resumed run that had finished wrote nothing else
        path.write_text(json.dumps(metrics, indent=2) + "\n")
    return path


def format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4f}" for k, v in metrics.items())
