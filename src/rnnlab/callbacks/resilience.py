"""Surviving interruptions: random-number state in every checkpoint, and a clean stop on SIGTERM or Ctrl-C.

Lightning's checkpoints restore weights, optimizer, schedulers, loops, callbacks and (through
:class:`~rnnlab.data.batches.ResumableLoader`) the position inside the epoch, but not the random-number
generators. rnnlab's data order is a pure function of (seed, epoch); what remains random is dropout and sampling,
drawn from the global generators, which :class:`RngState` saves and restores. A run resumed from any checkpoint
it wrote (``last.ckpt`` at each validation, ``interrupted.ckpt`` on SIGTERM/Ctrl-C) therefore replays the rest
exactly: killed at any point and resumed, it ends with the weights of a run never interrupted (tested on CPU).
Checkpoint files are written atomically (Lightning writes through an fsspec transaction: a temporary file moved
into place), so a kill during a save leaves the previous ``last.ckpt`` intact.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

log = logging.getLogger("rnnlab")


class RngState(L.Callback):
    """Saves the global torch, Python and NumPy generator states with every checkpoint; restores them on resume."""

    def state_dict(self) -> dict[str, Any]:
        numpy_state = np.random.get_state()
        return {
            "torch": torch.get_rng_state(),
            "python": list(random.getstate()[1]),
            "python_version": random.getstate()[0],
            "python_gauss": random.getstate()[2],
            "numpy_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "numpy_pos": int(numpy_state[2]),
            "numpy_gauss": [int(numpy_state[3]), float(numpy_state[4])],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        random.setstate((state["python_version"], tuple(state["python"]), state["python_gauss"]))
        has_gauss, gauss = state["numpy_gauss"]
        keys = state["numpy_keys"].numpy().astype(np.uint32)
        np.random.set_state(("MT19937", keys, state["numpy_pos"], has_gauss, gauss))


class InterruptHandler(L.Callback):
    """On SIGTERM (Lightning stops after the current batch) or Ctrl-C: writes ``checkpoints/interrupted.ckpt``
    and says how to resume from it; the resumed run replays what the uninterrupted one would have done."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        checkpoint = trainer.checkpoint_callback
        folder = Path(checkpoint.dirpath) if checkpoint and checkpoint.dirpath else Path(trainer.default_root_dir)
        interrupted = folder / "interrupted.ckpt"
        trainer.save_checkpoint(interrupted, weights_only=False)
        signal = "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C"
        log.warning(
            "%s at epoch %d, step %d: saved %s; resume exactly with the same command plus ckpt_path=%s "
            "(or ckpt_path=last)",
            signal,
            trainer.current_epoch,
            trainer.global_step,
            interrupted,
            interrupted,
        )
