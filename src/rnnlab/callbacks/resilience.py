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
import os
import random
import signal
import threading
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
    """On SIGTERM or Ctrl-C: stops after the current Lightning step, writes ``checkpoints/interrupted.ckpt`` and
    says how to resume from it; the resumed run replays what the uninterrupted one would have done.

    SIGTERM is Lightning's: it stops after the current step. Ctrl-C would stop Python wherever it is, inside a step
    (between the backward pass and the optimizer's, say), so during a fit the first Ctrl-C is turned into the same
    stop (by sending the process SIGTERM, which Lightning handles); a second Ctrl-C stops at once, and the
    checkpoint it leaves is then written from inside a step."""

    def __init__(self) -> None:
        self.ctrl_c = False  # the stop came from Ctrl-C
        self._previous: Any = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.ctrl_c = False
        # Only where Python's own Ctrl-C handling is in place (not under a program that set its own).
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._stop_after_step)

    def _stop_after_step(self, signum: int, frame: Any) -> None:
        self._restore()
        self.ctrl_c = True
        log.warning("Ctrl-C: stopping after this step, to save a checkpoint that resumes exactly (again: at once)")
        os.kill(os.getpid(), signal.SIGTERM)

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        self._restore()
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        checkpoint = trainer.checkpoint_callback
        folder = Path(checkpoint.dirpath) if checkpoint and checkpoint.dirpath else Path(trainer.default_root_dir)
        interrupted = folder / "interrupted.ckpt"
        trainer.save_checkpoint(interrupted, weights_only=False)
        where = f"at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {interrupted}"
        if isinstance(exception, KeyboardInterrupt):
            log.warning(
                "Ctrl-C %s inside a step; resuming from it (ckpt_path=%s) may differ a little from a run never "
                "interrupted",
                where,
                interrupted,
            )
            return
        log.warning(
            "%s %s; resume exactly with the same command plus ckpt_path=%s (or ckpt_path=last)",
            "Ctrl-C" if self.ctrl_c else "SIGTERM",
            where,
            interrupted,
        )
