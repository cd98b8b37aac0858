"""From word ids to word vectors: what a recurrent tagger or classifier reads at each step.

``x_t = dropout([E_word(w_t) ; E_shape(shape_t) ; charRNN(chars_t)])``, where ``charRNN`` is a bidirectional
recurrent network over the word's characters (same cell as the sentence model) whose two final states
summarise the word. The character part gives words never seen in training a meaningful vector from their
spelling (suffix "-ly", a capital, digits), which is most of the tagging errors a word-id model makes.

Word dropout trains the unknown-word vector: each training occurrence of a word seen ``c`` times in training
becomes ``UNK`` with probability ``α / (α + c)``, so rare words, like unseen ones, rely on their spelling.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.data.words import NUM_SHAPES, PAD, UNK
from rnnlab.models.backbone import RecurrentBackbone


class WordEncoder(nn.Module):
    """(N, T, 2 + C) ids ``[word, shape, chars…]`` → (N, T, output_size) features."""

    def __init__(
        self,
        word_counts: list[int],
        num_chars: int,
        cell: str = "rnn",
        word_dim: int = 100,
        shape_dim: int = 8,
        char_dim: int = 32,
        char_hidden: int = 64,
        word_dropout: float = 0.25,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.words = nn.Embedding(len(word_counts), word_dim, padding_idx=PAD)
        self.shapes = nn.Embedding(NUM_SHAPES, shape_dim, padding_idx=PAD)
        self.chars = nn.Embedding(num_chars, char_dim, padding_idx=PAD) if char_hidden else None
        self.char_rnn = RecurrentBackbone(char_dim, char_hidden, bidirectional=True, cell=cell) if char_hidden else None
        self.word_dropout = word_dropout
        # A buffer, so checkpoints carry it and predictions never need the training corpus.
        self.register_buffer("keep_probability", self._keep_probability(word_counts, word_dropout), persistent=True)
        self.dropout = nn.Dropout(dropout)
        self.output_size = word_dim + shape_dim + (2 * char_hidden if char_hidden else 0)

    @staticmethod
    def _keep_probability(word_counts: list[int], alpha: float) -> Tensor:
        counts = torch.tensor(word_counts, dtype=torch.float32)
        return counts / (counts + alpha) if alpha > 0 else torch.ones_like(counts)

    def forward(self, ids: Tensor) -> Tensor:
        words = ids[..., 0]
        if self.training and self.word_dropout > 0:
            dropped = torch.rand(words.shape, device=words.device) >= self.keep_probability[words]
            words = torch.where(dropped & (words != PAD), UNK, words)
        features = [self.words(words), self.shapes(ids[..., 1])]
        if self.char_rnn is not None:
            features.append(self.spell(ids[..., 2:]))
        return self.dropout(torch.cat(features, dim=-1))

    def spell(self, chars: Tensor) -> Tensor:
        """The character RNN's summary of each word, computed once per distinct word in the batch."""
        flat = chars.reshape(-1, chars.size(-1))
        distinct, where = torch.unique(flat, dim=0, return_inverse=True)
        lengths = (distinct != PAD).sum(dim=1).clamp(min=1)  # padding positions read one PAD character
        _, final = self.char_rnn(self.chars(distinct), lengths)
        return self.char_rnn.final_features(final)[where].view(*chars.shape[:-1], -1)
