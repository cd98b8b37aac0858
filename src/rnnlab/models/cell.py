"""Recurrent cells written as the lecture's equations, one time step each.

The Elman cell is the slide, line by line::

    a_t = b + W s_{t-1} + U x_t
    s_t = tanh(a_t)

with U (hidden × input), W (hidden × hidden) and b (hidden). The output layer ``o_t = c + V s_t`` lives in
the head (:mod:`rnnlab.models.heads`). LSTM and GRU cells follow ``torch.nn.LSTM``/``torch.nn.GRU`` exactly
(same parameter names and gate order) so the loop backbone can load fused weights and vice versa.

Every cell maps ``(x_t, state) -> (output_t, new_state)``; ``state`` is a tensor, or a tuple for the LSTM.
The part of a step that reads only the input (``U x_t + b``) does not depend on the state, so a whole sequence
computes it at once (``input_part``, one large matrix product) and the loop over time does only the rest
(``step``): ``forward(x_t, state) == step(input_part(x_t), state)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def _plus_product(base: Tensor, x: Tensor, weight: Tensor) -> Tensor:
    """``base + x @ weight.T``, fused into one kernel for a batch of rows; a single state (1-D) works too."""
    return torch.addmm(base, x, weight.T) if x.dim() == 2 else base + x @ weight.T


def _uniform_(params: list[Tensor], hidden_size: int) -> None:
    # torch.nn.RNN's initialisation, so loop and fused models start from the same distribution.
    bound = 1.0 / math.sqrt(hidden_size)
    for p in params:
        nn.init.uniform_(p, -bound, bound)


class ElmanCell(nn.Module):
    """One step of the vanilla (Elman) RNN: ``s_t = f(b + W s_{t-1} + U x_t)``."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        self.U = nn.Parameter(torch.empty(hidden_size, input_size))
        self.W = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(hidden_size))
        _uniform_([self.U, self.W, self.b], hidden_size)

    def initial_state(self, batch_size: int, like: Tensor) -> Tensor:
        return like.new_zeros(batch_size, self.hidden_size)

    def forward(self, x_t: Tensor, s_prev: Tensor) -> tuple[Tensor, Tensor]:
        return self.step(self.input_part(x_t), s_prev)

    def input_part(self, x: Tensor) -> Tensor:
        """``b + U x_t`` for every step of ``x`` (..., input_size) at once."""
        return nn.functional.linear(x, self.U, self.b)

    def step(self, input_part: Tensor, s_prev: Tensor) -> tuple[Tensor, Tensor]:
        a_t = _plus_product(input_part, s_prev, self.W)  # b + U x_t + W s_{t-1}
        s_t = NONLINEARITIES[self.nonlinearity](a_t)
        return s_t, s_t


class LSTMCell(nn.Module):
    """One LSTM step with ``torch.nn.LSTM``'s parameters and gate order (input, forget, cell, output)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        _uniform_(list(self.parameters()), hidden_size)

    def initial_state(self, batch_size: int, like: Tensor) -> tuple[Tensor, Tensor]:
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def forward(self, x_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        return self.step(self.input_part(x_t), state)

    def input_part(self, x: Tensor) -> Tensor:
        """The gates' input terms, both biases included, for every step of ``x`` at once."""
        return nn.functional.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def step(self, input_part: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h_prev, c_prev = state
        gates = _plus_product(input_part, h_prev, self.weight_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        c_t = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h_t = torch.sigmoid(o) * torch.tanh(c_t)
        return h_t, (h_t, c_t)


class GRUCell(nn.Module):
    """One GRU step with ``torch.nn.GRU``'s parameters and gate order (reset, update, new)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        _uniform_(list(self.parameters()), hidden_size)

    def initial_state(self, batch_size: int, like: Tensor) -> Tensor:
        return like.new_zeros(batch_size, self.hidden_size)

    def forward(self, x_t: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor]:
        return self.step(self.input_part(x_t), h_prev)

    def input_part(self, x: Tensor) -> Tensor:
        """The gates' input terms for every step of ``x`` at once."""
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def step(self, input_part: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor]:
        x_r, x_z, x_n = input_part.chunk(3, dim=-1)
        h_r, h_z, h_n = nn.functional.linear(h_prev, self.weight_hh, self.bias_hh).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h_t = (1 - z) * n + z * h_prev
        return h_t, h_t


def make_cell(cell: str, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> nn.Module:
    if cell == "rnn":
        return ElmanCell(input_size, hidden_size, nonlinearity)
    if cell == "lstm":
        return LSTMCell(input_size, hidden_size)
    if cell == "gru":
        return GRUCell(input_size, hidden_size)
    raise ValueError(f"cell must be one of ['gru', 'lstm', 'rnn'], got {cell!r}")
