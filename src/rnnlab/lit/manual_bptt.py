"""Manual BPTT as a training method: the lecture's hand-written backward pass (:mod:`rnnlab.analysis.bptt`) run on a
:class:`~rnnlab.models.RecurrentNet`, giving gradients an optimizer can step with (``model.gradients=manual``).

The pass works on the slide's parameters U, W, b, V, c; this module maps them to and from the net's parameter names
(loop or fused backbone, every layer and direction).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.analysis.bptt import DIRECTIONS, StackedParams, stacked_pass
from rnnlab.models import RecurrentBackbone, RecurrentNet
from rnnlab.models.backbone import TORCH_PARAMS, fused_key


def _cell_names(backbone: RecurrentBackbone, layer: int, direction: int) -> dict[str, tuple[str, ...]]:
    """The net's parameter names behind the slide's U, W and b of one cell.

    torch.nn.RNN (impl="fused") has two biases, a_t = W_ih x_t + b_ih + W_hh s_{t−1} + b_hh: the slide's b is
    b_ih + b_hh, and since ∂a_t/∂b_ih = ∂a_t/∂b_hh = I, each of them gets the whole of ∂E/∂b."""
    if backbone.impl == "loop":
        return {p: (f"backbone.layers.{layer}.{direction}.{p}",) for p in ("U", "W", "b")}
    fused = {p: f"backbone.{fused_key(p, layer, direction)}" for p in TORCH_PARAMS}
    return {"U": (fused["weight_ih"],), "W": (fused["weight_hh"],), "b": (fused["bias_ih"], fused["bias_hh"])}


def _layout(net: RecurrentNet) -> list[dict[str, dict[str, tuple[str, ...]]]]:
    """Per layer and direction, the names behind U, W and b: the nesting of :data:`StackedParams`."""
    backbone = net.backbone
    return [
        {DIRECTIONS[d]: _cell_names(backbone, k, d) for d in range(backbone.num_directions)}
        for k in range(backbone.num_layers)
    ]


def _check_supported(net: RecurrentNet) -> None:
    if net.backbone.cell != "rnn":
        raise ValueError(f"manual BPTT covers the Elman RNN (cell='rnn') only, got cell={net.backbone.cell!r}")
    if net.head != "many_to_many" or net.output.num_outputs is not None:
        raise ValueError(
            f"manual BPTT needs the many_to_many head with one prediction per step, got head={net.head!r}"
            f" and num_outputs={net.output.num_outputs}"
        )


@torch.no_grad()
def params_from_net(net: RecurrentNet) -> StackedParams:
    """A copy of the slide parameters of an Elman ``many_to_many`` net (fused or loop backbone), as
    :data:`StackedParams`. Raises ValueError for other cells or heads."""
    _check_supported(net)
    named = dict(net.named_parameters())
    layers = [
        {
            direction: {p: sum(named[n].detach() for n in names) for p, names in cell.items()}
            for direction, cell in layer.items()
        }
        for layer in _layout(net)
    ]
    return {"layers": layers, "V": net.output.V.detach().clone(), "c": net.output.c.detach().clone()}


def _grads_by_name(net: RecurrentNet, grads: StackedParams) -> dict[str, Tensor]:
    by_name = {"output.V": grads["V"], "output.c": grads["c"]}
    for layer_names, layer_grads in zip(_layout(net), grads["layers"], strict=True):
        for direction, cell_names in layer_names.items():
            for p, names in cell_names.items():
                # A copy per name: an in-place change to one grad (e.g. clipping) must not touch the other.
                by_name.update({name: layer_grads[direction][p].clone() for name in names})
    return {name: by_name[name] for name, _ in net.named_parameters()}


@torch.no_grad()
def manual_gradients(
    net: RecurrentNet, x: Tensor, targets: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """The module's loss for a batch and its gradient for every parameter of ``net``, by hand.

    x (N, T, I), targets (N, T), mask (N, T) bool (False = padding). The loss is
    :class:`~rnnlab.lit.classifier.SequenceClassifier`'s: the mean cross-entropy over the valid positions. The
    sequences run their full length (there are no ``lengths``); the mask only keeps positions out of the loss.
    ``grads_by_name`` has every name of ``net.named_parameters()``, ready for ``p.grad = grads_by_name[name]``
    and an optimizer step. Raises ValueError for cells other than rnn, heads other than many_to_many, and
    dropout between layers in training mode (the manual pass has none)."""
    _check_supported(net)
    backbone = net.backbone
    dropout = backbone.rnn.dropout if backbone.impl == "fused" else backbone.inter_layer_dropout.p
    if net.training and backbone.num_layers > 1 and dropout > 0:
        raise ValueError("the manual pass has no dropout between layers: use dropout=0 or net.eval()")
    valid = torch.ones_like(targets, dtype=torch.bool) if mask is None else mask
    weights = valid.to(x.dtype) / valid.sum()  # the mean over valid positions; padding weighs nothing
    targets = targets.masked_fill(~valid, 0)  # any class will do where the weight is zero
    # Time-major columns: (N, T, I) -> (T, I, N), and (N, T) -> (T, N).
    loss, grads = stacked_pass(params_from_net(net), x.permute(1, 2, 0), targets.T, weights.T, backbone.nonlinearity)
    return loss, _grads_by_name(net, grads)
