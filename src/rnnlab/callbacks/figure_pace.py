"""Validation figures drawn at a pace a reader can follow, not after every epoch of a fast training.

Drawing a figure and encoding it for TensorBoard takes about 0.1 s, more than a whole epoch of a bit problem, and
TensorBoard shows a new one only when it reloads (every 30 s by default). So during a fit a figure is drawn at most
once every ``figure_every_s`` seconds; the last validation's figure, if it was held back, is drawn when training
ends (or stops on an error), at the step it belongs to. The scalars are still logged after every validation.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import lightning as L


class PacedFigures(L.Callback):
    """A callback's validation figures during a fit: drawn when ``figure_every_s`` seconds have passed since the
    training started or since the last one was drawn, otherwise held until the next is due or training ends (only
    the latest is held). ``figure_every_s=0`` draws after every validation; outside a fit (``trainer.validate``,
    the test) figures are drawn at once."""

    def __init__(self, figure_every_s: float = 10.0) -> None:
        self.figure_every_s = figure_every_s
        self._last_drawn: float | None = None  # None: not inside a fit's training
        self._held: Callable[[], None] | None = None

    def draw_figure(self, draw: Callable[[], None]) -> None:
        """``draw()`` now if it is due, else when the next figure is due or training ends; ``draw`` must carry its
        own data and step, since the training goes on before it runs."""
        if self._last_drawn is None or time.perf_counter() - self._last_drawn >= self.figure_every_s:
            self._held = None
            draw()
            if self._last_drawn is not None:
                self._last_drawn = time.perf_counter()
        else:
            self._held = draw

    def _draw_held(self) -> None:
        held, self._held, self._last_drawn = self._held, None, None
        if held is not None:
            held()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_drawn, self._held = time.perf_counter(), None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._draw_held()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # The error that stopped training is the one to report, not one of drawing.
        with contextlib.suppress(Exception):
            self._draw_held()
