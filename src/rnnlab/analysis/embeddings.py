"""What a network's input layer learnt about each symbol, as one vector per symbol: the tables TensorBoard's
projector shows (PCA, t-SNE, nearest neighbours by label).

- Characters read through an embedding: its rows. Characters read one-hot: the column of the first layer's input
  weights that ``U x_t`` picks for each character (for a gated cell, every gate's column, stacked).
- Words: the rows of the word embedding, for the most frequent training words (rare words' rows barely move from
  their initialisation, and a projector of 20,000 points hides the ones a learner would look for).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from rnnlab.models import RecurrentBackbone
from rnnlab.models.generators import SymbolEncoder
from rnnlab.models.word_encoder import WordEncoder

# Characters that would break the projector's one-label-per-line metadata file, or be invisible in it.
VISIBLE = {"\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "␣"}


@dataclass(frozen=True)
class EmbeddingTable:
    tag: str  # the projector's name for it
    vectors: Tensor  # (N, D), detached, on the CPU
    labels: list[str]  # one per row


def visible(symbol: str) -> str:
    return "".join(VISIBLE.get(char, char) for char in symbol) or "''"


def first_input_weights(backbone: RecurrentBackbone) -> Tensor:
    """The first layer's (forward direction's) input weights, (gates × H, input_size): U of the Elman cell."""
    if backbone.impl == "fused":
        return backbone.rnn.weight_ih_l0
    cell = backbone.layers[0][0]
    return cell.U if hasattr(cell, "U") else cell.weight_ih


def character_table(encoder: SymbolEncoder, backbone: RecurrentBackbone, symbols: list[str]) -> EmbeddingTable:
    """One row per symbol: its embedding, or, for one-hot input, the input weights' column it selects."""
    if encoder.embedding is not None:
        return EmbeddingTable(
            "characters/embedding", encoder.embedding.weight.detach().cpu(), list(map(visible, symbols))
        )
    weights = first_input_weights(backbone).detach().cpu().T  # row i: the column U x_t picks for symbol i
    return EmbeddingTable("characters/input_weights", weights[: len(symbols)], list(map(visible, symbols)))


def word_table(encoder: WordEncoder, words: list[str], counts: list[int], max_words: int) -> EmbeddingTable:
    """The ``max_words`` most frequent training words' embeddings (ties in vocabulary order)."""
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    seen = [i for i, count in enumerate(counts) if count > 0]  # the reserved <pad>, <unk> have no count
    chosen = sorted(seen, key=lambda i: -counts[i])[:max_words]
    vectors = encoder.words.weight.detach().cpu()[chosen]
    return EmbeddingTable("words/embedding", vectors, [visible(words[i]) for i in chosen])
