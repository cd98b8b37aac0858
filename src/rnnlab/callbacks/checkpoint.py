"""Checkpoints a run can resume from at any moment: Lightning's ModelCheckpoint, written where the whole training
state is settled.

Lightning's ModelCheckpoint saves at the end of a training epoch when the run validates once per epoch, and after
each validation otherwise. An end-of-epoch checkpoint is written *inside* the epoch's end hooks: before Lightning
steps epoch-interval schedulers, and with the loop counters half way through the epoch's end. Resumed, such a
checkpoint either replays those hooks without the validation metrics they read (with ``trainer.max_steps``:
EarlyStopping fails on a missing ``val/*`` metric) or skips the scheduler step the uninterrupted run took.

:class:`ResumableCheckpoint` therefore always saves at the end of a validation (unless the run never validates),
after every callback that reads the validation's metrics has acted (EarlyStopping checks at validation end too,
and Lightning runs checkpoint callbacks last). The modules step their schedulers before that point
(:meth:`rnnlab.lit.base.RecurrentModule.step_scheduler`), and what happens at a train epoch's end only logs.
Resumed, Lightning continues after the validation exactly as the uninterrupted run did.

Lightning 2.6 writes ``last.ckpt`` only when a top-k checkpoint is written at the same step (when the monitored
metric improved); :class:`ResumableCheckpoint` writes it at every validation, so a killed run loses at most the
steps since its latest validation.

Files are written by :class:`AtomicCheckpointIO`: to a temporary file beside the target, synced, then renamed over
it, so a kill during a write leaves the previous ``last.ckpt`` whole. (Lightning's own writer stages the file in
the system's temporary directory; where that is another file system, its final move is a copy into place, which a
kill can cut short.)

It also keeps what a resumed run in a new directory needs to end like the uninterrupted one: the best checkpoint
so far (its score and path, even though the path lies in the earlier run's directory; Lightning only deletes files
inside the current ``dirpath``) and the early-stopping decision (``trainer.should_stop``), which Lightning does not
save.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

STOP_KEY = "rnnlab_should_stop"


class ResumableCheckpoint(ModelCheckpoint):
    """:class:`~lightning.pytorch.callbacks.ModelCheckpoint` that saves at validation end and carries the best
    checkpoint and the stop decision across a resume into a new run directory."""

    def _should_save_on_train_epoch_end(self, trainer: L.Trainer) -> bool:
        if self._save_on_train_epoch_end is not None:
            return self._save_on_train_epoch_end
        # Only a run without validation saves at the epoch's end (there is no validation end to save at).
        val_batches = trainer.num_val_batches
        return not (sum(val_batches) if isinstance(val_batches, list) else val_batches)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self._save_last_unless_saved(trainer, at_epoch_end=False)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_unless_saved(trainer, at_epoch_end=True)

    def _save_last_unless_saved(self, trainer: L.Trainer, at_epoch_end: bool) -> None:
        # Lightning skips a step it saved already (the top-k checkpoint and last.ckpt when the metric improved).
        if (
            self._should_skip_saving_checkpoint(trainer)
            or self._should_save_on_train_epoch_end(trainer) != at_epoch_end
        ):
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[STOP_KEY] = bool(trainer.should_stop)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        # trainer.fit clears should_stop before restoring: a run that had decided to stop stops again at once.
        trainer.should_stop = bool(checkpoint.get(STOP_KEY, False))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Lightning restores only best_model_path when the directory changed, so the resumed run's first validation
        # would become "best" whatever its score. Restore everything: the earlier files stay where they are.
        super().load_state_dict({**state_dict, "dirpath": self.dirpath})


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a local checkpoint to ``.<name>.<pid>.partial`` in its own directory, syncs it, and renames it over
    ``<name>``: readers see the old file or the new one, never part of one. Remote paths (``s3://``…) go through
    Lightning's writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        if "://" in str(path) or storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with open(partial, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
