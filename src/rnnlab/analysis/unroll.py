"""A trained RNN unrolled over T steps: the feed-forward network that computes the RNN's outputs.

Unrolling writes the recurrence out as one layer per time step::

    x_1 ─U→ s_1 ─W→ s_2 ─W→ … ─W→ s_T        s_0 = 0
             │V        │V             │V
            o_1       o_2            o_T

Every layer of a chain holds the *same* parameters (U, W, b are shared across time); a deep RNN has one chain
per layer, a bidirectional layer a second chain that runs over reversed time. The unrolled net has no
recurrence left, so it is an ordinary feed-forward graph: what backpropagation through time differentiates.
It gives the RNN's outputs up to float rounding (the fused kernel adds the same terms in another order).

Inter-layer dropout is left out: it acts only while training, and the unrolled net is for looking at a trained
model. Inputs have exactly T steps and no padding (``lengths``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.models import RecurrentBackbone, RecurrentNet
from rnnlab.models.backbone import State


class TimeStep(nn.Module):
    """The layer for time step ``t`` of one chain: the chain's cell, whose parameters every step shares."""

    def __init__(self, cell: nn.Module, t: int) -> None:
        super().__init__()
        self.cell, self.t = cell, t

    def forward(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        return self.cell(x_t, state)

    def extra_repr(self) -> str:
        return f"t={self.t}"


def _chain(cell: nn.Module, steps: int) -> nn.ModuleList:
    return nn.ModuleList(TimeStep(cell, t) for t in range(1, steps + 1))


def _run_chain(chain: nn.ModuleList, inputs: list[Tensor]) -> list[Tensor]:
    """The chain's output (hidden state) at each of its steps, from the zero initial state s_0."""
    state = chain[0].cell.initial_state(inputs[0].size(0), inputs[0])
    outputs = []
    for step, x_t in zip(chain, inputs, strict=True):
        s_t, state = step(x_t, state)
        outputs.append(s_t)
    return outputs


class UnrolledRNN(nn.Module):
    """``chains[k][d][t - 1]`` is time step t of layer k, direction d (1 = backward); ``output`` is o = c + V s.

    ``forward(x)`` takes x (N, steps, input_size) and returns what the RNN returns: logits (N, steps, ...) for
    the many-to-many head, (N, ...) from the final states for many-to-one.
    """

    def __init__(self, backbone: RecurrentBackbone, output: nn.Module, head: str, steps: int) -> None:
        super().__init__()
        if backbone.impl != "loop":
            raise ValueError("UnrolledRNN needs the loop backbone's cells; use unroll(net, steps)")
        self.steps, self.head = steps, head
        self.cell, self.nonlinearity, self.hidden_size = backbone.cell, backbone.nonlinearity, backbone.hidden_size
        self.num_layers, self.num_directions = backbone.num_layers, backbone.num_directions
        self.chains = nn.ModuleList(nn.ModuleList(_chain(cell, steps) for cell in layer) for layer in backbone.layers)
        self.output = output

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.size(1) != self.steps:
            raise ValueError(f"expected input (N, {self.steps}, input_size), got {tuple(x.shape)}")
        inputs = list(x.unbind(1))
        for layer in self.chains:
            directions = [_run_chain(layer[0], inputs)]
            if len(layer) == 2:  # the backward chain reads reversed time; its states are put back in order
                directions.append(_run_chain(layer[1], inputs[::-1])[::-1])
            inputs = [torch.cat(s_t, dim=-1) for s_t in zip(*directions, strict=True)]
        if self.head == "many_to_many":
            return torch.stack([self.output(s_t) for s_t in inputs], dim=1)
        final = directions[0][-1]
        if len(directions) == 2:  # the backward chain's final state is the one at t = 1
            final = torch.cat([final, directions[1][0]], dim=-1)
        return self.output(final)


def loop_backbone(backbone: RecurrentBackbone) -> RecurrentBackbone:
    """The backbone itself if it runs explicit cells; for a fused one, a loop twin loaded with its weights.

    The twin's parameters are copies (the Elman bias b is the sum of torch's two biases), so it does not
    follow later changes to the fused model.
    """
    if backbone.impl == "loop":
        return backbone
    like = next(backbone.parameters())
    twin = RecurrentBackbone(
        backbone.input_size,
        backbone.hidden_size,
        num_layers=backbone.num_layers,
        bidirectional=backbone.bidirectional,
        cell=backbone.cell,
        nonlinearity=backbone.nonlinearity,
        impl="loop",
    ).to(device=like.device, dtype=like.dtype)  # before loading, so float64 weights stay float64
    twin.load_state_dict(backbone.state_dict())
    return twin


def unroll(net: RecurrentNet, steps: int) -> UnrolledRNN:
    """The feed-forward network of ``net`` for sequences of ``steps`` time steps, sharing its parameters.

    For a loop net the unrolled layers hold the net's own parameters; for a fused net, those of a loop twin.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer (the number of time steps to unroll), got {steps!r}")
    return UnrolledRNN(loop_backbone(net.backbone), net.output, net.head, steps)


def max_difference(net: RecurrentNet, unrolled: UnrolledRNN, x: Tensor) -> float:
    """The largest absolute difference between the two networks' outputs on ``x``."""
    with torch.no_grad():
        return float((net(x) - unrolled(x)).abs().max())
