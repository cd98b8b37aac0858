"""Attention over the encoder's states: at each output step the decoder asks which source positions to read.

For a query ``q`` (the decoder's latest hidden state) and the encoder's states ``h_1 … h_S``, each position gets a
score ``e_j``; the weights are ``α = softmax(e)`` over the valid positions only (padding gets exactly 0, since its
score is −∞), and the context the decoder reads is ``c = Σ_j α_j h_j``. Two scores:

- ``additive`` (Bahdanau, Cho & Bengio 2015): ``e_j = vᵀ tanh(W_q q + W_k h_j)``, a one-layer network;
- ``dot`` (Luong, Pham & Manning 2015, multiplicative): ``e_j = qᵀ W h_j``. Luong's plain ``qᵀ h_j`` needs the
  encoder and decoder states to have one size; ``W`` (his "general" score) also maps a bidirectional encoder's
  ``2H`` states onto the decoder's ``H``.

The keys ``W_k h_j`` (or ``W h_j``) do not depend on the step, so they are computed once per source
(:meth:`Attention.keys`) and every step only scores them against its query.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ATTENTIONS = ("none", "additive", "dot")


def valid_positions(lengths: Tensor | None, size: int, batch: int, device: torch.device) -> Tensor:
    """(N, S) bool: True at each source position before the sequence's length (everywhere without lengths)."""
    if lengths is None:
        return torch.ones(batch, size, dtype=torch.bool, device=device)
    return torch.arange(size, device=device) < lengths.to(device).unsqueeze(1)


class Attention(nn.Module):
    def __init__(self, kind: str, query_size: int, state_size: int, size: int | None = None) -> None:
        """``kind``: additive or dot; ``query_size``: the decoder's hidden size; ``state_size``: the size of an
        encoder state; ``size``: the additive score's hidden layer (default: ``query_size``)."""
        super().__init__()
        if kind not in ATTENTIONS[1:]:
            raise ValueError(f"attention must be one of {list(ATTENTIONS[1:])}, got {kind!r}")
        self.kind = kind
        if kind == "additive":
            size = size or query_size
            self.key = nn.Linear(state_size, size)
            self.query = nn.Linear(query_size, size, bias=False)
            self.score = nn.Linear(size, 1, bias=False)  # v
        else:
            self.key = nn.Linear(state_size, query_size, bias=False)  # W

    def keys(self, states: Tensor) -> Tensor:
        """The part of the scores that depends on the source only: ``W_k h_j`` (N, S, size)."""
        return self.key(states)

    def forward(self, query: Tensor, keys: Tensor, states: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``query`` (N, Q), or (N, T, Q) for T steps at once; ``keys`` (N, S, size) from :meth:`keys`, ``states``
        (N, S, E), ``mask`` (N, S) True at valid positions → the context (N, [T,] E) and the weights (N, [T,] S):
        ≥ 0, summing to 1, 0 on padding."""
        one_step = query.dim() == 2
        if one_step:
            query = query.unsqueeze(1)
        if self.kind == "additive":
            scores = self.score(torch.tanh(keys.unsqueeze(1) + self.query(query).unsqueeze(2))).squeeze(-1)
        else:
            scores = query @ keys.transpose(1, 2)
        weights = scores.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(-1)  # (N, T, S)
        context = weights @ states
        return (context.squeeze(1), weights.squeeze(1)) if one_step else (context, weights)
