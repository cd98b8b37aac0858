"""How far back a loss reaches: ‖∂E_T/∂s_k‖ against the lag T − k, and what bounds its decay.

For the vanilla RNN, ``∂s_t/∂s_k = Π_{j=k+1..t} diag(1 − s_j²) W``, so every step back multiplies the gradient by
a matrix whose norm is at most ``σ_max(W) · max_j(1 − s_j²)``. Where that factor stays below 1 the gradient
vanishes exponentially in the lag; where W is large it can explode. :func:`decay_per_step` measures the factor
actually seen; :func:`recurrent_gain` gives ``σ_max(W)`` times the mean tanh slope, its typical-case estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.models import RecurrentNet


@dataclass
class GradientFlow:
    """‖∂E_T/∂s_k‖ (mean over examples) for k = 0..T−1 of the last layer's forward direction."""

    norms: Tensor  # (T,), index k
    decay_per_step: float | None  # fitted factor per step back in time (< 1: vanishing, > 1: exploding)
    recurrent_gain: float | None  # σ_max(W) · mean(1 − s²) for the vanilla cell, else None

    @property
    def lags(self) -> Tensor:
        return torch.arange(len(self.norms) - 1, -1, -1)


def final_step_loss(net: RecurrentNet, logits: Tensor, target: Tensor) -> Tensor:
    """E_T: the loss at the last time step (many-to-many) or the sequence's one loss (many-to-one), summed over
    examples so that each example's gradient is its own ∂E_T/∂s_k."""
    if net.head == "many_to_many":
        logits, target = logits[:, -1], target[:, -1]
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), reduction="sum")


def state_gradient_norms(net: RecurrentNet, x: Tensor, target: Tensor) -> tuple[Tensor, list[Tensor]]:
    """``(norms, states)``: mean over examples of ‖∂E_T/∂s_k‖ for every step k (last layer, forward direction),
    and those states. ``net.backbone`` must use ``impl="loop"``; sequences must not be padded in time."""
    outputs, final, states = net.backbone.trace(x)
    features = outputs if net.head == "many_to_many" else net.backbone.final_features(final)
    loss = final_step_loss(net, net.output(features), target)
    top = states[-1][0]
    grads = torch.autograd.grad(loss, top, allow_unused=True)
    norms = [loss.new_zeros(()) if g is None else g.norm(dim=-1).mean() for g in grads]
    return torch.stack(norms).detach().cpu(), [s.detach() for s in top]


def decay_per_step(norms: Tensor, floor: float = 1e-30) -> float | None:
    """exp(slope) of a least-squares line through log‖∂E_T/∂s_k‖ against the lag; None with < 2 usable points."""
    lags = torch.arange(len(norms) - 1, -1, -1, dtype=torch.float64)
    usable = norms.double() > floor
    if int(usable.sum()) < 2:
        return None
    lag, log_norm = lags[usable], norms.double()[usable].log()
    slope = ((lag - lag.mean()) * (log_norm - log_norm.mean())).sum() / ((lag - lag.mean()) ** 2).sum()
    return math.exp(float(slope))


def recurrent_gain(net: RecurrentNet, states: list[Tensor]) -> float | None:
    """σ_max(W) · mean tanh'(a) = σ_max(W) · mean(1 − s²) for the last layer's forward vanilla cell."""
    backbone = net.backbone
    if backbone.cell != "rnn" or backbone.nonlinearity != "tanh":
        return None
    W = backbone.layers[-1][0].W.detach()
    slope = torch.stack([1 - s**2 for s in states]).mean()
    return float(torch.linalg.matrix_norm(W, ord=2) * slope)


def measure(net: RecurrentNet, x: Tensor, target: Tensor) -> GradientFlow:
    norms, states = state_gradient_norms(net, x, target)
    return GradientFlow(norms, decay_per_step(norms), recurrent_gain(net, states))
