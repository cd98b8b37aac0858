"""Stop training at the first non-finite gradient, before it reaches the weights."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch

from rnnlab.callbacks.writers import log_straight
from rnnlab.errors import TrainingDiverged


def check_buffers(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """What :func:`all_finite` flags and scales with: a zero and a one."""
    return torch.zeros(1, device=device), torch.ones(1, device=device)


def all_finite(tensors: list[torch.Tensor], buffers: tuple[torch.Tensor, torch.Tensor] | None = None) -> bool:
    """Whether every element of ``tensors`` (on one device) is finite: the fused check behind torch.amp's
    GradScaler, unscaling by 1 (which changes no value): one kernel, where a norm and its finiteness test take
    several (docs/performance.md). ``buffers``: :func:`check_buffers` of that device, kept by a caller that checks
    every step (two new small tensors per step cost more than the check); left as they were."""
    found, one = buffers or check_buffers(tensors[0].device)
    torch._amp_foreach_non_finite_check_and_unscale_(tensors, found, one)
    finite = not bool(found)
    if not finite:
        found.zero_()
    return finite


class NonFiniteGuard(L.Callback):
    """Checks every gradient after every backward pass, before the optimizer step (and before clipping).

    A NaN or infinite loss gives non-finite gradients too, so this one check catches both. It raises
    :class:`TrainingDiverged` naming the step and the gradient's norm: the weights are left as they were after the
    last good step, and no checkpoint is written from them (checkpoints are only saved at the end of validated
    epochs). The check is one fused pass over the gradients and one device sync per step (:func:`all_finite`).
    Every ``log_every_n_steps`` it also logs the gradient's norm as ``train/grad_norm``: the gradient as the
    optimizer would see it, before clipping.

    The norms go to the loggers together: at each training epoch's last batch, before a validation, at least every
    ``write_every_s`` seconds (0: each as it is taken), and before the error. Handed to TensorBoard one at a time,
    between steps, each cost the training more than a small model's step: TensorBoard's writer thread takes
    Python's lock from the training's (``python scripts/bench.py --only overhead``).
    """

    def __init__(self, write_every_s: float = 10.0) -> None:
        self.write_every_s = write_every_s
        # Listed once per fit: walking the module tree (its metrics included) every step costs more than the norm.
        self._parameters: list[torch.nn.Parameter] | None = None
        self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None
        self._norms: list[tuple[int, float]] = []  # (step, norm) not yet written
        self._written_at = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parameters = list(pl_module.parameters())
        self._buffers = check_buffers(pl_module.device)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._write(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)  # a validation inside an epoch: its metrics after the norms of the steps before it

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)
        self._parameters = self._buffers = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._write(trainer)

    def _write(self, trainer: L.Trainer) -> None:
        for step, norm in self._norms:
            log_straight(trainer, {"train/grad_norm": norm}, step=step)
        self._norms, self._written_at = [], time.monotonic()

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        parameters = self._parameters or pl_module.parameters()
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        finite, logged = all_finite(grads, self._buffers), trainer.global_step % trainer.log_every_n_steps == 0
        if finite and not logged:
            return
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        if logged:
            self._norms.append((trainer.global_step, float(norm)))
            if time.monotonic() - self._written_at >= self.write_every_s:
                self._write(trainer)
        if finite:
            return
        checkpoint = trainer.checkpoint_callback
        last_good = (checkpoint.last_model_path or checkpoint.best_model_path) if checkpoint else ""
        kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint had been written yet"
        raise TrainingDiverged(
            f"the gradient norm became {float(norm)} at step {trainer.global_step} (epoch {trainer.current_epoch}); "
            f"{kept}. Try a lower optimizer.lr or trainer.gradient_clip_val=1.0"
        )
