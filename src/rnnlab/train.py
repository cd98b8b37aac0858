"""Training: compose → validate → build → fit → test on the best checkpoint → report."""

from __future__ import annotations

from typing import Any

import lightning as L
from omegaconf import DictConfig

from rnnlab.build import build_datamodule, build_module
from rnnlab.config import validate
from rnnlab.evaluate import load_checkpoint
from rnnlab.runs import format_metrics, log, make_trainer, scalar_metrics, write_metrics


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Run one training job; return (metrics, objects). Raises ConfigError before building anything bad."""
    validate(cfg)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule.vocab)
    trainer = make_trainer(cfg)

    if cfg.train:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = scalar_metrics(trainer.callback_metrics)

    checkpoint = trainer.checkpoint_callback
    # Read before testing, which loads the best weights into the module.
    best, last = (checkpoint.best_model_path, checkpoint.last_model_path) if checkpoint else ("", "")
    best_score = float(checkpoint.best_model_score) if best else None
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
        trainer.test(module, datamodule=datamodule)
        test_metrics = scalar_metrics(trainer.callback_metrics, "test/")
        metrics.update(test_metrics)
    write_metrics(cfg.paths.output_dir, {**metrics, "checkpoint": best or None})

    log.info("Run directory:   %s (metrics in metrics.json)", cfg.paths.output_dir)
    if best:
        log.info("Best checkpoint: %s (%s=%.4f)", best, checkpoint.monitor, best_score)
        log.info("Last checkpoint: %s", last)
    if cfg.get("logger") and "tensorboard" in cfg.logger:
        log.info("TensorBoard:     tensorboard --logdir %s", cfg.paths.output_dir)
    if cfg.test and testable:
        log.info("Test metrics:    %s", format_metrics(scalar_metrics(metrics, "test/")))
    return metrics, {"cfg": cfg, "datamodule": datamodule, "module": module, "trainer": trainer}
