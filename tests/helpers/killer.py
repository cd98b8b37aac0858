"""Callbacks for the resume tests: one that kills its own process with SIGKILL at a chosen point, and one that
records the weights a fit ends with."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import lightning as L
import torch

SIGNALS = {"batch": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}


class KillAt(L.Callback):
    """``when="batch"``: after the batch that reaches optimizer step ``step``; ``when="save"``: while writing the
    first checkpoint at or after that step (the state is being dumped; the file is not yet written); ``when="term"``
    or ``"int"``: SIGTERM or SIGINT (Ctrl-C) instead of SIGKILL after that batch."""

    def __init__(self, step: int, when: str = "batch") -> None:
        self.step, self.when = step, when

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.when in SIGNALS and trainer.global_step >= self.step and not trainer.received_sigterm:
            os.kill(os.getpid(), SIGNALS[self.when])

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if self.when == "save" and trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class KillAtMoment(L.Callback):
    """SIGKILL at a moment of the run's own progress in epoch ``epoch``: ``mid_epoch`` (after the middle training
    batch), ``epoch_end`` (at the train epoch's end, after the validation that ends it wrote last.ckpt),
    ``validation`` (after the first validation batch of the epoch, before its checkpoint) or ``test`` (after
    training, during the test of the best checkpoint)."""

    MOMENTS = ("mid_epoch", "epoch_end", "validation", "test")

    def __init__(self, moment: str, epoch: int = 1) -> None:
        assert moment in self.MOMENTS, moment
        self.moment, self.epoch = moment, epoch

    def _kill(self, moment: str, trainer) -> None:
        if moment == self.moment and (moment == "test" or trainer.current_epoch == self.epoch):
            os.kill(os.getpid(), signal.SIGKILL)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx == trainer.num_training_batches // 2:
            self._kill("mid_epoch", trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._kill("epoch_end", trainer)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self._kill("validation", trainer)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._kill("test", trainer)


class FinalWeights(L.Callback):
    """Saves the module's weights as training ends (before the test loads the best checkpoint's) to ``path``; a fit
    with nothing left to train ends with the weights it resumed from."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_fit_end(self, trainer, pl_module) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(pl_module.state_dict(), self.path)


class KillDuringWrite(L.Callback):
    """SIGKILL while the first checkpoint written at or after optimizer step ``step`` is being written to disk: the
    checkpoint is padded to ~80 MB, so that a watcher thread sees its partial file grow and kills the process
    before the write ends."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.global_step < self.step:
            return
        checkpoint["padding"] = torch.zeros(20_000_000)
        folder = Path(trainer.checkpoint_callback.dirpath)

        def kill_once_writing() -> None:
            while not any(p.stat().st_size > 0 for p in folder.glob(".*.partial")):
                time.sleep(0.0005)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=kill_once_writing, daemon=True).start()
