"""What the recurrent layer does over time: the hidden states of one validation example as a heatmap."""

from __future__ import annotations

from typing import Any

import lightning as L
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from rnnlab.callbacks.figure_pace import PacedFigures
from rnnlab.callbacks.writers import tensorboard_writers
from rnnlab.models import RecurrentBackbone


def watched_backbone(net: nn.Module) -> RecurrentBackbone | None:
    """The recurrent layer whose states are drawn: a generator's decoder, otherwise the network's backbone."""
    backbone = getattr(getattr(net, "decoder", net), "backbone", None)
    return backbone if isinstance(backbone, RecurrentBackbone) else None


def hidden_state_figure(states: Tensor, bidirectional: bool = False) -> Figure:
    """``states`` (T, H) as an H × T image: one row per hidden unit, one column per time step."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    limit = float(states.abs().max().clamp_min(1e-6))
    image = ax.imshow(states.T.numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_xlabel("time step t")
    ax.set_ylabel("hidden unit" + (" (forward, then backward)" if bidirectional else ""))
    ax.set_title("hidden states s_t of validation example 0 (last layer)", fontsize=10)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


class HiddenStateHeatmap(PacedFigures):
    """Every ``every_n_epochs`` validation epochs, TensorBoard gets ``val/hidden_states``: the last layer's outputs
    for the first example of the first validation batch (its valid steps only), as a figure. A forward hook catches
    them during that batch, so nothing runs twice; the hook is gone after one call. The figure is drawn at most
    every ``figure_every_s`` seconds of a fit, and for its last validation
    (:class:`~rnnlab.callbacks.figure_pace.PacedFigures`)."""

    def __init__(self, every_n_epochs: int = 1, figure_every_s: float = 10.0) -> None:
        super().__init__(figure_every_s)
        self.every_n_epochs = every_n_epochs
        self._hook: RemovableHandle | None = None
        self._caught: tuple[Tensor, Tensor | None] | None = None

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        backbone = watched_backbone(getattr(pl_module, "net", None))
        if trainer.sanity_checking or backbone is None or not tensorboard_writers(trainer):
            return
        if self.every_n_epochs < 1 or trainer.current_epoch % self.every_n_epochs:
            return
        self._caught = None
        self._hook = backbone.register_forward_hook(self._catch, with_kwargs=True)

    def _catch(self, module: nn.Module, args: tuple, kwargs: dict[str, Any], output: tuple) -> None:
        lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
        self._caught = (output[0][0].detach(), None if lengths is None else lengths[0])
        self._remove()

    def _remove(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._remove()
        if self._caught is None:
            return
        states, length = self._caught
        self._caught = None
        if length is not None:
            states = states[: int(length)]
        states, bidirectional = states.float().cpu(), watched_backbone(pl_module.net).bidirectional
        writers, step = tensorboard_writers(trainer), trainer.global_step

        def draw() -> None:
            figure = hidden_state_figure(states, bidirectional)
            for writer in writers:
                writer.add_figure("val/hidden_states", figure, step)

        self.draw_figure(draw)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._remove()
        super().on_exception(trainer, pl_module, exception)
