"""How many optimizer steps a run took to solve its task: the step at which a validation metric first
reached a threshold."""

from __future__ import annotations

from typing import Any

import lightning as L

from rnnlab.errors import ConfigError

LOGGED_AS = "val/steps_to_solve"


class SolveTracker(L.Callback):
    """Remembers ``trainer.global_step`` at the first validation where ``monitor`` ≥ ``threshold``, and from
    then on logs it every epoch as ``val/steps_to_solve`` (so it reaches ``metrics.json``). Runs that never
    solve the task do not log it. The step is saved in checkpoints, so a resumed run keeps it.
    """

    def __init__(self, monitor: str = "val/acc", threshold: float = 0.95) -> None:
        self.monitor, self.threshold = monitor, threshold
        self.solved_at: int | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Here, unlike in on_validation_epoch_end (which Lightning calls on callbacks before the module's own),
        # callback_metrics already hold this validation's values.
        if trainer.sanity_checking or self.solved_at is not None:
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            raise ConfigError(
                f"SolveTracker monitors {self.monitor!r}, which this run does not log; it logs "
                f"{', '.join(sorted(metrics)) or 'nothing'}. Set e.g. callbacks.solve_tracker.monitor=val/acc"
            )
        if float(metrics[self.monitor]) >= self.threshold:
            self.solved_at = trainer.global_step

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning allows no logging in on_validation_end; an epoch's validation ends just before this hook.
        if self.solved_at is not None:
            pl_module.log(LOGGED_AS, float(self.solved_at))

    def state_dict(self) -> dict[str, Any]:
        return {"solved_at": self.solved_at}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.solved_at = state_dict["solved_at"]
