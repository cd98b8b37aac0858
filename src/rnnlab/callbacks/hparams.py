"""TensorBoard's HPARAMS tab: one session per training job, with the same hyper-parameter keys for every task
and two metrics filled as the run goes, so a sweep's jobs line up in its table and parallel-coordinates view."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.tensorboard.summary import hparams

from rnnlab.callbacks.writers import tensorboard_writers
from rnnlab.models import RecurrentBackbone
from rnnlab.models.gate_init import KEEP_GATE, gate_bias_summary

VAL_BEST, TEST = "hp/val_best", "hp/test"
MISSING = "none"  # TensorBoard's hparams hold numbers, strings and booleans only: no None, and NaN breaks the plots


def flat_hparams(
    config: dict,
    monitor: str,
    scheduler: str = MISSING,
    keep_gate_bias: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """The hyper-parameters a sweep varies, flattened; the same keys for every task (absent ones: "none").
    ``keep_gate_bias``: the effective bias (b_ih + b_hh) of the gate that keeps memory, the LSTM's forget gate or
    the GRU's update gate, averaged over units: what ``model.forget_bias`` or ``model.gate_init`` made of it.
    ``threads``: torch's intra-op threads the run trained with (what ``threads=auto`` chose)."""
    task, model, optimizer = config["task"], config["model"], config["optimizer"]
    values = {
        "task": task["name"],
        "monitor": monitor,
        "model/cell": model.get("cell"),
        "model/impl": model.get("impl"),
        "model/hidden_size": model.get("hidden_size"),
        "model/num_layers": model.get("num_layers"),
        "model/bidirectional": model.get("bidirectional"),
        "model/dropout": model.get("dropout"),
        "model/gate_init": model.get("gate_init"),
        "model/keep_gate_bias": keep_gate_bias,
        "optimizer/name": optimizer["_target_"].rsplit(".", 1)[-1],
        "optimizer/lr": optimizer.get("lr"),
        "optimizer/weight_decay": optimizer.get("weight_decay"),
        "scheduler": scheduler,
        "data/batch_size": (task.get("data") or {}).get("batch_size"),
        "task/seq_len": task.get("seq_len"),
        "seed": config.get("seed"),
        "threads": threads,
    }
    # Booleans as words: torch's hparams summary would store them as the numbers 0 and 1.
    return {
        key: MISSING if value is None else str(value).lower() if isinstance(value, bool) else value
        for key, value in values.items()
    }


class HParamsSession(L.Callback):
    """At fit start, writes the run's hyper-parameters (:func:`flat_hparams` of the module's ``config``) as one
    HPARAMS session declaring two metrics:

    - ``hp/val_best``: the best validation ``monitor`` so far (``mode`` min or max; the value that picks the best
      checkpoint), written after every validation epoch of the fit;
    - ``hp/test``: the test value of the same metric (``test/<name>``), written after the test of that fit.

    Lightning's own hparams logging is off (``save_hyperparameters(logger=False)``), so the test call does not
    start a second, empty session.
    """

    def __init__(self, monitor: str = "val/loss", mode: str = "min") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None
        self.session = False

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writers = tensorboard_writers(trainer)
        config = pl_module.hparams.get("config")
        if not writers or config is None:
            return
        schedulers = trainer.lr_scheduler_configs
        scheduler = type(schedulers[0].scheduler).__name__ if schedulers else MISSING
        backbone = _backbone(pl_module)
        keep_gate_bias = gate_bias_summary(backbone).get(KEEP_GATE.get(backbone.cell))
        values = flat_hparams(config, self.monitor, scheduler, keep_gate_bias, torch.get_num_threads())
        summaries = hparams(values, {VAL_BEST: 0.0, TEST: 0.0})
        for writer in writers:
            # Into the run's own event file; SummaryWriter.add_hparams would open a sub-run per call.
            for summary in summaries[:2]:  # experiment (the declared metrics) and session start
                writer._get_file_writer().add_summary(summary)
        self.session = True
        self._session_end = summaries[2]

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Here callback_metrics hold this validation's values (see SolveTracker).
        if not self.session or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)  # one sync per validation epoch
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best = value
        self._write(trainer, VAL_BEST, self.best)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.session:
            for writer in tensorboard_writers(trainer):
                writer._get_file_writer().add_summary(self._session_end)
                writer.flush()

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        name = "test/" + self.monitor.split("/", 1)[-1]
        if self.session and (value := trainer.callback_metrics.get(name)) is not None:
            self._write(trainer, TEST, float(value))

    @staticmethod
    def _write(trainer: L.Trainer, tag: str, value: float) -> None:
        for writer in tensorboard_writers(trainer):
            writer.add_scalar(tag, value, trainer.global_step)
            writer.flush()

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict["best"]


def _backbone(pl_module: L.LightningModule) -> RecurrentBackbone:
    """The network's first recurrent backbone (a generator's encoder, where it has one)."""
    return next(m for m in pl_module.modules() if isinstance(m, RecurrentBackbone))
