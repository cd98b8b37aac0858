"""A callback that kills its own process with SIGKILL at a chosen point, for the resume tests."""

from __future__ import annotations

import os
import signal

import lightning as L


class KillAt(L.Callback):
    """``when="batch"``: after the batch that reaches optimizer step ``step``; ``when="save"``: while writing the
    first checkpoint at or after that step (the state is being dumped; the file is not yet written); ``when="term"``:
    SIGTERM instead of SIGKILL after that batch."""

    def __init__(self, step: int, when: str = "batch") -> None:
        self.step, self.when = step, when

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.when in ("batch", "term") and trainer.global_step >= self.step and not trainer.received_sigterm:
            os.kill(os.getpid(), signal.SIGTERM if self.when == "term" else signal.SIGKILL)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if self.when == "save" and trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)
