"""Beam search: keep the ``beam_size`` most likely partial outputs of every example, not just the single best.

Greedy decoding commits to the most likely symbol at each step; a symbol that looks worse now may lead to a more
likely output overall. Beam search keeps ``K`` hypotheses per example: each step extends every one by every
symbol, scores the ``K·V`` candidates by their log-probability ``log P(y_1 … y_t | x)``, and keeps the best ``K``.
A hypothesis that has written END is finished: it stays in its beam with its score and length frozen, and competes
with the live ones until the end. The answer is the hypothesis with the best score divided by ``L^α`` (``L``:
symbols written, END included; ``α``: the length penalty, 0 for plain log-probability), the normalisation of Dive
into Deep Learning's beam-search section, which keeps long outputs from losing only because every symbol costs
probability.

Batched over examples: the ``N`` examples' ``K`` beams are ``N·K`` rows of one decoder batch. With ``K`` large
enough to keep every hypothesis (``V`` for two steps), beam search is exhaustive and finds the most likely output
(tested against brute force).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

from rnnlab.models.backbone import map_state

State = TypeVar("State")


def normalised(scores: Tensor, lengths: Tensor, length_penalty: float) -> Tensor:
    """``log P / L^α``: what beams are ranked by."""
    return scores / lengths.clamp(min=1) ** length_penalty


@torch.no_grad()
def beam_search(
    step: Callable[[Tensor, State], tuple[Tensor, State]],
    state: State,
    examples: int,
    start: int,
    end: int,
    steps: int,
    beam_size: int,
    length_penalty: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """The best output (N, steps) of each of ``examples`` = N examples (END after END), and its score (N,).

    ``step(symbols, state) -> (logits, state)`` advances the decoder by one symbol for each of N·K rows; ``state``
    holds the decoder's recurrent state (a tensor or an LSTM's (h, c), batch at dim 1) with example i's K beams in
    rows i·K … i·K + K − 1 (anything else the decoder reads per example must be repeated so already)."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    n, k = examples, beam_size
    device = next(iter(state)).device if isinstance(state, tuple) else state.device
    symbols = torch.full((n * k,), start, dtype=torch.long, device=device)
    # Every beam starts from START, so only the first may expand at step 1 (the others would be copies of it).
    scores = torch.full((n, k), float("-inf"), device=device)
    scores[:, 0] = 0.0
    lengths = torch.zeros(n, k, dtype=torch.long, device=device)
    finished = torch.zeros(n, k, dtype=torch.bool, device=device)
    tokens = torch.zeros(n, k, 0, dtype=torch.long, device=device)
    offsets = torch.arange(n, device=device).unsqueeze(1) * k
    only_end = None  # a finished beam's next log-probabilities, once the first step shows the vocabulary
    for t in range(steps):
        logits, state = step(symbols, state)
        log_probs = logits.float().log_softmax(-1).view(n, k, -1)
        vocabulary = log_probs.size(-1)
        if only_end is None:
            # A finished beam goes on only with END, at no cost: its score and length stay as they were.
            only_end = torch.full((vocabulary,), float("-inf"), device=device)
            only_end[end] = 0.0
        log_probs = torch.where(finished.unsqueeze(-1), only_end, log_probs)
        candidates = scores.unsqueeze(-1) + log_probs  # (N, K, V)
        grown = (lengths + (~finished).long()).unsqueeze(-1).expand_as(candidates)
        best = normalised(candidates, grown, length_penalty).view(n, -1).topk(k, dim=1).indices
        beam, symbol = best // vocabulary, best % vocabulary
        scores = candidates.view(n, -1).gather(1, best)
        lengths = grown.reshape(n, -1).gather(1, best)
        finished = finished.gather(1, beam) | (symbol == end)
        tokens = torch.cat([tokens.gather(1, beam.unsqueeze(-1).expand(-1, -1, t)), symbol.unsqueeze(-1)], dim=-1)
        symbols = symbol.view(-1)
        if finished.all():
            break
        kept = (beam + offsets).view(-1)
        state = map_state(lambda s, kept=kept: s.index_select(1, kept), state)
    final = normalised(scores, lengths, length_penalty)
    chosen = final.argmax(1)
    rows = torch.arange(n, device=device)
    out = torch.full((n, steps), end, dtype=torch.long, device=device)
    out[:, : tokens.size(-1)] = tokens[rows, chosen]
    return out, final[rows, chosen]
