"""Stop training at the first non-finite gradient, before it reaches the weights."""

from __future__ import annotations

import lightning as L
import torch

from rnnlab.errors import TrainingDiverged


class NonFiniteGuard(L.Callback):
    """Checks the gradient norm after every backward pass, before the optimizer step (and before clipping).

    A NaN or infinite loss gives non-finite gradients too, so this one check catches both. It raises
    :class:`TrainingDiverged` naming the step: the weights are left as they were after the last good step,
    and no checkpoint is written from them (checkpoints are only saved at the end of validated epochs).
    It costs one reduction and one device sync per step: nothing on a CPU. Every ``log_every_n_steps`` it also
    logs that norm as ``train/grad_norm``: the gradient as the optimizer would see it, before clipping.
    """

    def __init__(self) -> None:
        # Listed once per fit: walking the module tree (its metrics included) every step costs more than the norm.
        self._parameters: list[torch.nn.Parameter] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parameters = list(pl_module.parameters())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parameters = None

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        parameters = self._parameters or pl_module.parameters()
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        if trainer.global_step % trainer.log_every_n_steps == 0:
            # Straight to the loggers: Lightning's self.log costs more than a small model's whole step.
            for logger in trainer.loggers:
                logger.log_metrics({"train/grad_norm": float(norm)}, step=trainer.global_step)
        if bool(torch.isfinite(norm)):
            return
        checkpoint = trainer.checkpoint_callback
        last_good = (checkpoint.last_model_path or checkpoint.best_model_path) if checkpoint else ""
        kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint had been written yet"
        raise TrainingDiverged(
            f"the gradient norm became {float(norm)} at step {trainer.global_step} (epoch {trainer.current_epoch}); "
            f"{kept}. Try a lower optimizer.lr or trainer.gradient_clip_val=1.0"
        )
