"""What every rnnlab LightningModule shares, and what each task family declares to the run layer.

A task family is one :class:`RecurrentModule` subclass. Its class attributes and class methods are everything the
run layer needs to know about it, so that building a run, validating its config, making its trainer and predicting
with its checkpoint ask the class rather than switch on ``task.head``:

- ``heads``: the ``task.head`` values it trains;
- ``stage_metrics``, ``best_metrics``, ``lower_is_better``: what it logs per stage, which validation metrics it
  tracks best-so-far (``val/<name>_best``), and which improve downwards;
- ``vocab_type``: the vocabulary object its checkpoints carry (as a plain dict);
- ``clips_itself``, ``groups_batches``, ``shards_batches``: how it steps (manual optimization, clipping from
  ``trainer.gradient_clip_val``), whether a Lightning step may carry several batches, whether DDP can deal its
  batches out to ranks;
- :meth:`~RecurrentModule.build_net`, :meth:`~RecurrentModule.from_config`, :meth:`~RecurrentModule.predict`: how
  its network is built (also from a checkpoint's stored config), how the module is made, how it answers a request.

A new family is one module file here, registered in :mod:`rnnlab.lit`, plus its configs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import lightning as L
import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torchmetrics import Metric

from rnnlab.errors import ConfigError
from rnnlab.lit.plain_step import PlainStep

log = logging.getLogger("rnnlab")


@dataclass(frozen=True)
class TrainingSetup:
    """What every family's module takes beside its network.

    ``optimizer`` and ``scheduler`` are partials (Hydra ``_partial_: true``) completed with the parameters;
    ``config`` (the plain-dict run configuration) and ``vocab`` (plain lists) are stored in every checkpoint, so
    predictions need neither the config files nor the training data; ``monitor`` is the metric a plateau scheduler
    watches; ``gradient_clip_val``/``gradient_clip_algorithm`` are ``trainer.*``'s keys, applied by modules that
    clip themselves."""

    optimizer: Callable[..., torch.optim.Optimizer]
    scheduler: Callable[..., Any] | None = None
    config: dict | None = None
    vocab: dict | None = None
    monitor: str = "val/loss"
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"


class RecurrentModule(L.LightningModule):
    """The shared machinery: injected optimizer and scheduler, manual optimization steps with clipping, epoch-level
    metric logging and best-so-far validation metrics."""

    heads: ClassVar[tuple[str, ...]] = ()
    stage_metrics: ClassVar[dict[str, tuple[str, ...]]] = {}
    best_metrics: ClassVar[tuple[str, ...]] = ()
    lower_is_better: ClassVar[tuple[str, ...]] = ("loss",)
    vocab_type: ClassVar[type | None] = None
    clips_itself: ClassVar[bool] = True
    groups_batches: ClassVar[bool] = False
    shards_batches: ClassVar[bool] = True
    # Manual optimizer steps skip Lightning's per-step wrappers where they would do nothing (rnnlab.lit.plain_step).
    plain_steps: ClassVar[bool] = True

    def __init__(self, net: nn.Module, setup: TrainingSetup, **options: Any) -> None:
        """``options``: the family's own settings (stored in the checkpoint's hyper-parameters with ``config``,
        ``vocab`` and ``monitor``)."""
        super().__init__()
        # Not logged: the HParamsSession callback writes TensorBoard's hparams once per fit; Lightning's would reset
        # them at test.
        self.save_hyperparameters(
            {"config": setup.config, "vocab": setup.vocab, "monitor": setup.monitor, **options}, logger=False
        )
        self.net, self.training_setup = net, setup
        # Best-so-far validation metrics during fit, by name (a MaxMetric or MinMetric each; the subclass says
        # which), logged as val/<name>_best.
        self.best = nn.ModuleDict()
        # The latest epoch values of every stage, by logged name (for the epoch's log line).
        self.latest: dict[str, Tensor] = {}
        # What a checkpoint being resumed held (on_load_checkpoint), until training goes on.
        self._resumed: dict[str, Any] | None = None
        self._plain_step: PlainStep | None = None

    # --- what the family declares ------------------------------------------------------------------------------
    @classmethod
    def logged_metrics(cls, task: DictConfig) -> list[str]:
        """The final metrics a training run reports (those ``optimized_metric`` may name)."""
        names = [f"{stage}/{name}" for stage, metrics in cls.stage_metrics.items() for name in metrics]
        return names + [f"val/{name}_best" for name in cls.best_metrics]

    @classmethod
    def build_net(cls, model: DictConfig, task: DictConfig, vocab: Any = None) -> nn.Module:
        """The family's network for ``model`` and ``task``; ``vocab`` (a :attr:`vocab_type`) sizes embeddings and
        outputs. Also used to rebuild a checkpoint's network from the config stored in it."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg: DictConfig, net: nn.Module, setup: TrainingSetup) -> RecurrentModule:
        """The module of a run: the family's own options come from ``cfg``."""
        return cls(net, setup)

    @classmethod
    def vocab_from_dict(cls, data: Mapping | None) -> Any:
        """The vocabulary object a checkpoint's plain-dict ``vocab`` stands for."""
        return None if cls.vocab_type is None or data is None else cls.vocab_type.from_dict(data)

    @classmethod
    def predict(cls, net: nn.Module, vocab: Any, request: DictConfig, config: dict, test_split: Callable) -> str:
        """What ``scripts/predict.py`` prints for ``request`` (its command-line settings) with a checkpoint's
        ``net``, ``vocab`` and stored ``config``; ``test_split()`` gives the task's test examples."""
        raise ConfigError(f"task={config['task']['name']} has no predict; score it with scripts/eval.py")

    # --- the shared machinery ------------------------------------------------------------------------------------
    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor | None:
        """One batch of ``stage``: the loss (for training), and the stage's metrics updated."""
        raise NotImplementedError

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "test")

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        """The stage's metrics over the epoch (``<stage>_metrics``), which then start again."""
        metrics = getattr(self, f"{stage}_metrics")
        values = metrics.compute()
        metrics.reset()
        return values

    def _log_epoch(self, stage: str) -> dict[str, Tensor]:
        # Logged once per epoch: Lightning's per-step self.log costs more than the step itself on small models.
        values = self.epoch_values(stage)
        named = {f"{stage}/{name}": value for name, value in values.items()}
        self.log_dict(named, prog_bar=stage != "test")
        self.latest |= named
        return values

    def fitting(self) -> bool:
        """Validating inside fit, past the sanity check: a validation whose score is a result of training."""
        return self.trainer.state.fn == "fit" and not self.trainer.sanity_checking

    def on_train_start(self) -> None:
        # A module may be fitted more than once; a resumed fit keeps the best-so-far values its checkpoint held.
        if self._resumed is None:
            for best in self.best.values():
                best.reset()
        manual = not self.automatic_optimization
        plain = manual and self.plain_steps and PlainStep.applies(self.trainer)
        self._plain_step = PlainStep(self.trainer, self) if plain else None

    def on_train_end(self) -> None:
        self._plain_step = None  # it holds the trainer

    def on_train_epoch_start(self) -> None:
        # Resumed from the validation that ended an epoch, Lightning goes on with the next epoch without that
        # epoch's end hooks: the training metrics restored from the checkpoint belong to the finished epoch.
        if self._resumed is not None and self._resumed["epoch"] != self.current_epoch:
            self.train_metrics.reset()
        self._resumed = None

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")
        if self.trainer.is_global_zero:
            # One line per epoch in the run's log (console and train.log), which the progress bar overwrites.
            shown = "  ".join(f"{k}={float(v):.4f}" for k, v in sorted(self.latest.items()) if k[:4] != "test")
            log.info("Epoch %d: %s", self.current_epoch, shown)

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val")
        if self.fitting():
            for name, best in self.best.items():
                best.update(values[name])
                self.log(f"val/{name}_best", best.compute())
            self.step_scheduler(validated=True)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def step_batches(self, batch: dict[str, Tensor] | list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
        """The batches a Lightning step trains on, one optimizer step each: its batch, or its group under
        ``task.data.batches_per_step``, cut where ``trainer.max_steps`` is reached (Lightning checks the budget only
        between its steps, and would let a group run past it)."""
        batches = batch if isinstance(batch, list) else [batch]
        budget = self.trainer.max_steps
        if budget < 0 or len(batches) <= (left := max(0, budget - self.trainer.global_step)):
            return batches
        # Lightning counts the group as the epoch's step it was: a run resumed from here starts the next step.
        log.warning(
            "trainer.max_steps=%d ended inside a group of %d batches (task.data.batches_per_step): a run resumed "
            "from this run's checkpoint with a larger budget goes on after the group, without its %d untrained "
            "batches; a budget at a group's end, or task.data.batches_per_step=1, resumes exactly",
            budget,
            len(batches),
            len(batches) - left,
        )
        return batches[:left]

    def optimize(self, loss: Tensor | None = None, grads: dict[str, Tensor] | None = None) -> None:
        """One optimizer step under manual optimization: zero, backward on ``loss`` (or the given ``grads`` by
        parameter name of ``net``), step (which clips first: :meth:`on_before_optimizer_step`)."""
        plain = self._plain_step  # Lightning's path where its wrappers do something
        optimizer = plain.optimizer if plain else self.optimizers()
        optimizer.zero_grad()
        if grads is not None:
            for name, parameter in self.net.named_parameters():
                parameter.grad = grads[name]
        elif plain:
            plain.backward(loss)
        else:
            self.manual_backward(loss)
        if plain:
            plain.step()
        else:
            optimizer.step()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Gradient clipping, which Lightning leaves to the module in manual mode, from the same key as in automatic
        mode (``trainer.gradient_clip_val``). Here, not in :meth:`optimize`: Lightning calls the callbacks' hook
        first, so the non-finite guard sees (and logs) the gradient before clipping, as in automatic mode."""
        setup = self.training_setup
        if setup.gradient_clip_val:
            self.clip_gradients(optimizer, setup.gradient_clip_val, setup.gradient_clip_algorithm)

    # --- schedulers and checkpoints: everything settled before a validation's checkpoint is written -------------
    def step_scheduler(self, validated: bool) -> None:
        """Step the scheduler where a checkpoint will capture it: a plateau scheduler after each validation, on
        ``monitor`` (``validated``); any other after an epoch's last training batch, before the epoch's validation.
        For training both are where Lightning steps an epoch-interval scheduler (no optimizer step lies between),
        but a checkpoint written at the validation now holds the stepped scheduler (see
        :mod:`rnnlab.callbacks.checkpoint`)."""
        if (scheduler := self.lr_schedulers()) is None or validated != isinstance(scheduler, ReduceLROnPlateau):
            return
        if not validated:
            scheduler.step()
        elif (metric := self.trainer.callback_metrics.get(self.hparams.monitor)) is not None:
            scheduler.step(metric)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.step_scheduler(validated=False)

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        """Lightning's own stepping (automatic optimization, at a train epoch's end) is off: :meth:`step_scheduler`
        steps instead."""

    def configure_optimizers(self) -> Any:
        optimizer = self.training_setup.optimizer(params=self.parameters())
        if self.training_setup.scheduler is None:
            return optimizer
        scheduler = self.training_setup.scheduler(optimizer=optimizer)
        # Handed to Lightning so that checkpoints save it and the LR monitor sees it; stepped by step_scheduler.
        if not self.automatic_optimization:
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        config = {"scheduler": scheduler, "interval": "epoch", "monitor": self.hparams.monitor, "strict": False}
        return {"optimizer": optimizer, "lr_scheduler": config}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the running training metrics and best-so-far values (torchmetrics do not save them), and the
        metrics logged so far, so that a resumed run reports what the uninterrupted one does."""
        if hasattr(self.train_metrics, "flush"):
            self.train_metrics.flush()
        checkpoint["rnnlab_metric_states"] = {
            name: {**metric.metric_state, "_update_count": metric._update_count}
            for name, metric in self.named_modules()
            if isinstance(metric, Metric) and name.startswith(("train_metrics", "best"))
        }
        checkpoint["rnnlab_metric_epoch"] = self.current_epoch
        checkpoint["rnnlab_logged"] = {k: float(v) for k, v in self.trainer.callback_metrics.items()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("rnnlab_metric_states")
        if states is None:  # written before rnnlab saved them: the resumed run's metrics start afresh
            return
        metrics = dict(self.named_modules())
        for name, state in states.items():
            state = dict(state)
            metric, count = metrics[name], state.pop("_update_count")
            for key, value in state.items():  # a tensor, or a list of them (concatenating metrics)
                setattr(
                    metric,
                    key,
                    [v.to(self.device) for v in value] if isinstance(value, list) else value.to(self.device),
                )
            metric._update_count, metric._computed = count, None
        self._resumed = {"epoch": checkpoint["rnnlab_metric_epoch"], "logged": checkpoint["rnnlab_logged"]}

    def on_fit_end(self) -> None:
        """A resumed run with nothing left to train logged nothing: report what its checkpoint held, and the
        training metrics of the epoch it ended in (restored, complete)."""
        if self._resumed is None:
            return
        logged = self.trainer.callback_metrics
        for name, value in self._resumed["logged"].items():
            logged.setdefault(name, torch.tensor(value))
        if self._resumed["epoch"] == self.current_epoch:
            logged.update({f"train/{name}": value for name, value in self.epoch_values("train").items()})


def request_setting(request: DictConfig, config: dict, key: str) -> Any:
    """A sampling setting of a prediction request: from the command line, else the one the model was trained with
    (``task.sample``)."""
    value = request.get(key)
    return value if value is not None else (config["task"].get("sample") or {}).get(key)


def request_temperature(request: DictConfig, config: dict) -> float | None:
    """The sampling temperature a request asks for; None (greedy) with ``greedy=true``."""
    if request.get("greedy"):
        return None
    temperature = request_setting(request, config, "temperature")
    if temperature is not None and temperature <= 0:
        raise ConfigError(
            f"temperature={temperature} must be > 0 (small: nearly greedy, 1: the model's distribution); "
            "for the most likely characters pass greedy=true"
        )
    return temperature


def request_text(request: DictConfig, example: str) -> str:
    """The ``text`` a request gives to read; an error that shows an example when it is missing."""
    if request.get("text") is None or not str(request.text).strip():
        raise ConfigError(f"text is empty; pass what to read, e.g. text={example}")
    return str(request.text)
