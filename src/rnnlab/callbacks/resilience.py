"""Surviving interruptions: random-number state in every checkpoint, and a clean stop on SIGTERM or Ctrl-C.

Lightning's checkpoints restore weights, optimizer, schedulers, loops and callbacks, but not the random-number
generators. rnnlab's data order is already a pure function of (seed, epoch); what remains random is dropout and
sampling, drawn from the global generators, which :class:`RngState` saves and restores. A run resumed from an
end-of-epoch checkpoint (``last.ckpt``) therefore replays the following epochs exactly: killed at any point and
resumed, it ends with the weights of a run never interrupted (tested on CPU). Checkpoint files are written
atomically (Lightning writes through an fsspec transaction: a temporary file moved into place), so a kill during a
save leaves the previous ``last.ckpt`` intact.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from rnnlab.runs import log


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
    (the weights at that moment, for eval/predict) and says how to resume exactly: from ``last.ckpt``, the last
    checkpoint of a finished epoch, whose following epochs replay bit for bit."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        checkpoint = trainer.checkpoint_callback
        folder = Path(checkpoint.dirpath) if checkpoint and checkpoint.dirpath else Path(trainer.default_root_dir)
        interrupted = folder / "interrupted.ckpt"
        trainer.save_checkpoint(interrupted, weights_only=False)
        last = checkpoint.last_model_path if checkpoint else ""
        signal = "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C"
        resume = (
            f"resume exactly with the same command plus ckpt_path={last} (or ckpt_path=last)"
            if last
            else "no epoch had finished, so there is nothing to resume from: start again"
        )
        log.warning(
            "%s at epoch %d, step %d: saved %s (weights for eval/predict); %s",
            signal,
            trainer.current_epoch,
            trainer.global_step,
            interrupted,
            resume,
        )
