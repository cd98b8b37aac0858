"""Output layers and the network that joins a backbone to one of the lecture's configurations.

``o_t = c + V s_t`` turns hidden states into class scores (``p_t = softmax(o_t)`` is left to the loss).
Which hidden states it reads is the configuration:

- ``many_to_many`` (aligned): every step's output state → one prediction per step (tagging, LM, bit streams);
- ``many_to_one``: the final state(s) → one prediction per sequence (sentiment; with T = 1 it is the
  one-to-one case of bit problems 1 and 2). A bidirectional backbone contributes both directions' final
  states: the forward one after the last valid step, the backward one after step 0.

The language model, one-to-many and the unaligned many-to-many (seq2seq) generate: their networks feed back
their own outputs (:mod:`rnnlab.models.generators`). ``TASK_HEADS`` lists every head a task may name;
:func:`rnnlab.lit.family_of` says which LightningModule trains each.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.backbone import RecurrentBackbone

HEADS = ("many_to_many", "many_to_one")
# Here, not derived from rnnlab.lit's families, so that checking a configuration does not import Lightning.
TASK_HEADS = (*HEADS, "regression", "language_model", "one_to_many", "seq2seq")


def check_task_head(head: str) -> None:
    """Raise :class:`~rnnlab.errors.ConfigError` naming the known heads if ``head`` is none of them."""
    if head not in TASK_HEADS:
        raise ConfigError(f"task.head={head!r} is not one of {', '.join(TASK_HEADS)}")


class OutputLayer(nn.Module):
    """``o = c + V s``, reshaped to (..., num_classes) or (..., num_outputs, num_classes)."""

    def __init__(self, in_features: int, num_classes: int, num_outputs: int | None = None) -> None:
        super().__init__()
        self.num_classes, self.num_outputs = num_classes, num_outputs
        out_features = num_classes * (num_outputs or 1)
        bound = 1.0 / math.sqrt(in_features)
        self.V = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.c = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, s: Tensor) -> Tensor:
        o = self.c + s @ self.V.T
        if self.num_outputs is None:
            return o
        return o.view(*o.shape[:-1], self.num_outputs, self.num_classes)


class RecurrentNet(nn.Module):
    """[Input encoder →] backbone → output layer in one configuration; ``forward`` returns class scores (logits).

    ``encoder`` turns non-numeric input (word ids) into the vectors ``x_t`` the backbone reads; ``dropout``
    acts on the states the output layer reads.
    """

    def __init__(
        self,
        backbone: RecurrentBackbone,
        head: str,
        num_classes: int,
        num_outputs: int | None = None,
        encoder: nn.Module | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {list(HEADS)}, got {head!r}")
        self.encoder, self.backbone, self.head = encoder, backbone, head
        self.dropout = nn.Dropout(dropout)
        self.output = OutputLayer(backbone.output_size, num_classes, num_outputs)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.encoder is not None:
            x = self.encoder(x)
        outputs, final_state = self.backbone(x, lengths)
        features = outputs if self.head == "many_to_many" else self.backbone.final_features(final_state)
        return self.output(self.dropout(features))
