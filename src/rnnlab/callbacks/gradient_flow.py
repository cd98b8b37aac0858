"""Gradient norms, and with the loop implementation the gradient flow through time, each validation epoch."""

from __future__ import annotations

import lightning as L
import torch

from rnnlab.analysis.gradient_flow import GradientFlow, measure
from rnnlab.callbacks.figure_pace import PacedFigures
from rnnlab.callbacks.writers import tensorboard_writers
from rnnlab.lit import SequenceClassifier
from rnnlab.lit.metrics import ignore_padding, masked_cross_entropy


class GradientFlowMonitor(PacedFigures):
    """Each validation epoch, on up to ``max_examples`` validation examples, logs:

    - ``grad_norm/total`` and ``grad_norm/<parameter>`` of the training loss on those examples (their histograms
      too if ``histograms``);
    - with ``model.impl=loop``, which exposes every hidden state: ``grad_flow/lag_<n>`` = ‖∂E_T/∂s_{T−n}‖ for
      lags n = 0, 1, 2, 4, 8, ..., ``grad_flow/decay_per_step`` (and ``grad_flow/recurrent_gain`` = σ_max(W)·mean
      tanh' for the vanilla cell), and a figure of the norm against the lag on a log scale in TensorBoard.
      The fused kernel keeps its states inside, so fused runs get the parameter norms only;
    - ``grad_norm/by_parameter``: a TensorBoard figure of every parameter's gradient norm (any implementation).

    The figures are drawn at most every ``figure_every_s`` seconds of a fit, and for its last validation
    (:class:`~rnnlab.callbacks.figure_pace.PacedFigures`).
    """

    def __init__(self, max_examples: int = 256, histograms: bool = False, figure_every_s: float = 10.0) -> None:
        super().__init__(figure_every_s)
        self.max_examples, self.histograms = max_examples, histograms

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Classifiers only: the gradients are those of their cross-entropy.
        if trainer.sanity_checking or not trainer.val_dataloaders or not isinstance(pl_module, SequenceClassifier):
            return
        net, batch = pl_module.net, next(iter(trainer.val_dataloaders))
        # Validation runs in inference mode; these tensors need autograd. cuDNN's RNN has no backward pass in eval
        # mode (the network stays in it: no dropout in a measurement), so its kernels are off here.
        with torch.inference_mode(False), torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            x = batch["input"][: self.max_examples].clone().to(pl_module.device)
            target = batch["target"][: self.max_examples].clone().to(pl_module.device)
            mask, lengths = batch.get("mask"), batch.get("lengths")
            mask = None if mask is None else mask[: self.max_examples].to(pl_module.device)
            lengths = None if lengths is None else lengths[: self.max_examples]
            grads = self._parameter_gradients(net, x, target, mask, lengths)
            # The lag curve needs the states of numeric inputs of one length (the bit and cue tasks).
            traceable = net.backbone.impl == "loop" and net.encoder is None and lengths is None
            flow = measure(net, x, target) if traceable else None
        self._log(trainer, pl_module, flow, grads)

    @staticmethod
    def _parameter_gradients(net, x, target, mask, lengths) -> dict[str, torch.Tensor]:
        loss = masked_cross_entropy(net(x, lengths), ignore_padding(target, mask))
        names, params = zip(*[(n, p) for n, p in net.named_parameters() if p.requires_grad], strict=True)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return {name: g for name, g in zip(names, grads, strict=True) if g is not None}

    def _log(self, trainer, pl_module, flow: GradientFlow | None, grads: dict[str, torch.Tensor]) -> None:
        norms = {name: g.norm() for name, g in grads.items()}
        values = {"grad_norm/total": torch.linalg.vector_norm(torch.stack(list(norms.values())))}
        values.update({f"grad_norm/{name}": n for name, n in norms.items()})
        if flow is not None:
            values.update(self._flow_scalars(flow))
        pl_module.log_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in values.items()})
        writers, step = tensorboard_writers(trainer), trainer.global_step
        if self.histograms:
            for writer in writers:
                for name, g in grads.items():
                    writer.add_histogram(f"grad/{name}", g, step)

        def draw() -> None:
            for writer in writers:
                writer.add_figure("grad_norm/by_parameter", self.norms_figure(norms), step)
                if flow is not None:
                    writer.add_figure("grad_flow/norm_vs_lag", self.figure(flow), step)

        if writers:
            self.draw_figure(draw)

    @staticmethod
    def _flow_scalars(flow: GradientFlow) -> dict[str, float | torch.Tensor]:
        values: dict[str, float | torch.Tensor] = {}
        T, lag = len(flow.norms), 0
        while lag < T:  # lags 0, 1, 2, 4, 8, ...: a handful of curves whatever T is
            values[f"grad_flow/lag_{lag}"] = flow.norms[T - 1 - lag]
            lag = 1 if lag == 0 else 2 * lag
        if flow.decay_per_step is not None:
            values["grad_flow/decay_per_step"] = flow.decay_per_step
        if flow.recurrent_gain is not None:
            values["grad_flow/recurrent_gain"] = flow.recurrent_gain
        return values

    @staticmethod
    def norms_figure(norms: dict[str, torch.Tensor]):
        """One horizontal bar per parameter, log scale: which layers the gradient reaches."""
        from matplotlib.figure import Figure

        names = list(norms)
        fig = Figure(figsize=(6, 0.8 + 0.28 * len(names)))
        ax = fig.add_subplot()
        ax.barh(range(len(names)), [max(float(norms[n]), 1e-38) for n in names])
        ax.set_xscale("log")
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("‖∂loss/∂θ‖ on validation examples")
        ax.set_title("gradient norm per parameter", fontsize=10)
        fig.tight_layout()
        return fig

    @staticmethod
    def figure(flow: GradientFlow):
        # A bare Figure, like rnnlab's other plots: no pyplot state, no global backend switch.
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 3.2))
        ax = fig.add_subplot()
        ax.semilogy(flow.lags.numpy(), flow.norms.clamp_min(1e-38).numpy(), marker="o", markersize=3)
        ax.set_xlabel("lag T − k (steps back from the last output)")
        ax.set_ylabel("‖∂E_T/∂s_k‖")
        title = "gradient reaching back in time"
        if flow.decay_per_step is not None:
            title += f": ×{flow.decay_per_step:.3g} per step"
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        return fig
