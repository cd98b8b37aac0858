"""The hidden states of validation sequences over time, projected to 2-D by PCA, as TensorBoard's
``val/state_trajectories`` (:mod:`rnnlab.analysis.trajectories`). For the bit and cue tasks, whose inputs are
numbers held in memory; off unless ``enabled``."""

from __future__ import annotations

import lightning as L

from rnnlab.analysis.trajectories import hidden_states, trajectory_figure
from rnnlab.callbacks.writers import tensorboard_writers
from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.lit import SequenceClassifier
from rnnlab.lit.data import task_data
from rnnlab.models.modes import evaluating


class StateTrajectories(L.Callback):
    def __init__(self, enabled: bool = False, every_n_epochs: int = 1, n: int = 32) -> None:
        """Every ``every_n_epochs`` validation epochs, the first ``n`` validation sequences."""
        self.enabled, self.every_n_epochs, self.n = enabled, every_n_epochs, n

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.enabled or trainer.sanity_checking or self.every_n_epochs < 1:
            return
        if trainer.current_epoch % self.every_n_epochs or not isinstance(pl_module, SequenceClassifier):
            return
        datamodule, writers = task_data(trainer), tensorboard_writers(trainer)
        if pl_module.net.encoder is not None or not isinstance(datamodule, InMemoryDataModule) or not writers:
            return
        split = datamodule.split("val")
        x = split["input"][: self.n]
        if x.size(1) < 2 or "lengths" in split:  # one step, or padded sequences: no common time axis to draw
            return
        with evaluating(pl_module):
            states = hidden_states(pl_module.net, x.to(pl_module.device))
        target = split["target"][: self.n]
        # One output bit per step (problems 3 and 4) colours the states; otherwise the time step does.
        per_step_bits = target.shape == x.shape[:2] and bool(((target == 0) | (target == 1)).all())
        bits = target if per_step_bits else None
        title = f"epoch {trainer.current_epoch}: hidden states of {len(x)} validation sequences"
        figure = trajectory_figure(states.cpu(), bits, title)
        for writer in writers:
            writer.add_figure("val/state_trajectories", figure, trainer.global_step)
