"""Training: compose → validate → build → fit → test on the best checkpoint → report."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from rnnlab.callbacks.resilience import InterruptHandler
from rnnlab.errors import ConfigError
from rnnlab.lit.data import LightningData
from rnnlab.run.build import build_module
from rnnlab.run.config import describe_run, validate
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.evaluate import check_compatible, load_checkpoint
from rnnlab.run.threads import apply_threads
from rnnlab.run.trainer import format_metrics, log, make_trainer, quiet_library_output, scalar_metrics, write_metrics

# What makes two runs "the same configuration" for ckpt_path=last (paths and the resume setting aside).
SAME_RUN_KEYS = ("task", "model", "optimizer", "scheduler", "trainer", "seed")


# Checkpoints a run can resume from exactly: the latest validation's, and the one written on SIGTERM/Ctrl-C.
RESUMABLE = ("last.ckpt", "interrupted.ckpt")


def find_last_checkpoint(cfg: DictConfig) -> tuple[Path, dict[str, Any]]:
    """The newest ``last.ckpt`` or ``interrupted.ckpt`` of the earlier runs of this configuration under
    ``paths.log_dir`` (where the latest of them stopped), and its contents, read and checked."""
    ours = {
        key: OmegaConf.to_container(cfg[key]) if OmegaConf.is_config(cfg[key]) else cfg[key] for key in SAME_RUN_KEYS
    }
    runs = Path(cfg.paths.log_dir) / cfg.task.name / "train"
    candidates = []
    for saved in runs.glob("*/.hydra/config.yaml"):
        run_dir, theirs = saved.parent.parent, OmegaConf.load(saved)
        same = all(
            (OmegaConf.to_container(theirs[k]) if OmegaConf.is_config(theirs.get(k)) else theirs.get(k)) == ours[k]
            for k in SAME_RUN_KEYS
        )
        if same and str(run_dir) != str(cfg.paths.output_dir):
            for name in RESUMABLE:
                if (checkpoint := run_dir / "checkpoints" / name).exists():
                    candidates.append((checkpoint.stat().st_mtime, checkpoint))
    for _, checkpoint in sorted(candidates, reverse=True):
        try:  # a file cut short (not by rnnlab: it writes atomically) or put there from another run
            check_compatible(loaded := load_checkpoint(checkpoint, cfg.get("trust_checkpoint", False)), cfg, checkpoint)
            return checkpoint, loaded
        except ConfigError as error:
            log.warning("ckpt_path=last: skipping %s: %s", checkpoint, error)
    raise ConfigError(
        f"ckpt_path=last: no earlier run of this configuration under {runs} has a usable checkpoints/last.ckpt; "
        "run without ckpt_path, or pass a checkpoint file"
    )


def _recipe_choice(cfg: DictConfig) -> str | None:
    """The recipe Hydra applied (its defaults-list choice), or, composed without Hydra's runtime (tests, notebooks),
    the task's own recipe."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get().runtime.choices.get("recipe")
    return cfg.task.name


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Run one training job; return (metrics, objects). Raises ConfigError before building anything bad."""
    validate(cfg)
    quiet_library_output()
    threads, why, sharing = apply_threads(cfg)
    for line in describe_run(cfg, _recipe_choice(cfg)):
        log.info(line)
    log.info("Threads: %d (%s)", threads, why)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule.vocab)
    served = LightningData(datamodule)
    trainer = make_trainer(cfg, extra_callbacks=[sharing])

    if cfg.train:
        resume, trust = cfg.get("ckpt_path"), cfg.get("trust_checkpoint", False)
        if resume == "last":
            resume, resumed = find_last_checkpoint(cfg)
            log.info("Resuming from %s", resume)
        elif resume:
            # A missing, unreadable, untrusted or foreign file: one line, before fitting.
            check_compatible(resumed := load_checkpoint(resume, trust), cfg, resume)
        if resume:
            stopped_at = resumed["epoch"], resumed["global_step"]  # not the whole checkpoint, held through fit
            del resumed
        try:
            trainer.fit(module, datamodule=served, ckpt_path=resume, weights_only=not trust)
        except SIGTERMException:  # InterruptHandler has saved and said how to resume; exit as killed by the signal
            ctrl_c = any(isinstance(c, InterruptHandler) and c.ctrl_c for c in trainer.callbacks)
            raise SystemExit(128 + (signal.SIGINT if ctrl_c else signal.SIGTERM)) from None
        if resume and trainer.global_step == stopped_at[1]:
            log.info(
                "Nothing left to train: %s ended its run at epoch %d, step %d%s",
                resume,
                *stopped_at,
                "; testing its best checkpoint" if cfg.test and datamodule.has_split("test") else "",
            )
    metrics = scalar_metrics(trainer.callback_metrics)

    checkpoint = trainer.checkpoint_callback
    # Read before testing, which loads the best weights into the module.
    best, last = (checkpoint.best_model_path, checkpoint.last_model_path) if checkpoint else ("", "")
    # None with Lightning's own checkpoint (callbacks=none), which monitors nothing.
    best_score = float(checkpoint.best_model_score) if best and checkpoint.best_model_score is not None else None
    testable = datamodule.has_split("test")
    if cfg.test and not testable:
        log.warning(
            "No test file (task.data.test_file=%s): not tested. Evaluate later with scripts/eval.py "
            "task=%s ckpt_path=<checkpoint> task.data.test_file=<file>",
            cfg.task.data.get("test_file"),
            cfg.task.name,
        )
    if cfg.test and testable:
        # Test the best checkpoint's state_dict, exactly what `scripts/eval.py ckpt_path=<best>` loads. Not
        # trainer.test(ckpt_path=...): with weight averaging that restores the raw weights, not the averaged
        # ones validation chose.
        if best:
            module.load_state_dict(load_checkpoint(best)["state_dict"])
        trainer.test(module, datamodule=served, verbose=False)  # the metrics are logged below
        test_metrics = scalar_metrics(trainer.callback_metrics, "test/")
        metrics.update(test_metrics)
    write_metrics(
        cfg.paths.output_dir,
        {**metrics, "threads": threads, "threads_fewest": sharing.fewest, "checkpoint": best or None},
    )

    log.info("Run directory:   %s (metrics in metrics.json)", cfg.paths.output_dir)
    if best:
        score = f"{checkpoint.monitor}={best_score:.4f}" if best_score is not None else "the last: nothing monitored"
        log.info("Best checkpoint: %s (%s)", best, score)
        if last:
            log.info("Last checkpoint: %s", last)
    if cfg.get("logger") and "tensorboard" in cfg.logger:
        log.info("TensorBoard:     tensorboard --logdir %s", cfg.paths.output_dir)
    if cfg.test and testable:
        log.info("Test metrics:    %s", format_metrics(scalar_metrics(metrics, "test/")))
    return metrics, {"cfg": cfg, "datamodule": datamodule, "module": module, "trainer": trainer}
