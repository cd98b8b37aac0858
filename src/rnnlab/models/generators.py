"""Networks that generate symbols one at a time, each fed back as the next input.

- :class:`CharRNN` — the causal many-to-many network: symbol ids in, next-symbol scores out, the state passed
  in and out so a language model can carry it across batches. It is the character LM, and the decoder below.
- :class:`ConditionalGenerator` — an encoder turns a source into a feature vector, a :class:`Bridge` turns
  that into the decoder's initial state, and a :class:`CharRNN` decoder writes the output: one-to-many with
  an :class:`ImageEncoder` (captioning), unaligned many-to-many with a :class:`SequenceEncoder` (translation).

Training feeds the decoder the true previous symbol (teacher forcing); :meth:`CharRNN.generate` feeds back its
own choice, greedy (argmax) or sampled from ``softmax(o / temperature)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.models.backbone import RecurrentBackbone, State
from rnnlab.models.heads import OutputLayer

ENCODINGS = ("onehot", "embedding")


class SymbolEncoder(nn.Module):
    """Symbol ids → input vectors ``x_t``: one-hot (the lecture's [h, e, l, o] example; ``U x_t`` then picks a
    column of U) or a learned embedding of ``dim`` (for larger alphabets)."""

    def __init__(self, num_symbols: int, encoding: str = "onehot", dim: int | None = None) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {list(ENCODINGS)}, got {encoding!r}")
        self.num_symbols, self.encoding = num_symbols, encoding
        self.embedding = nn.Embedding(num_symbols, dim) if encoding == "embedding" else None
        self.output_size = dim if encoding == "embedding" else num_symbols

    def forward(self, ids: Tensor) -> Tensor:
        if self.embedding is None:
            return F.one_hot(ids, self.num_symbols).float()
        return self.embedding(ids)


def detach_state(state: State) -> State:
    """The same state cut from the graph that produced it (truncated BPTT's chunk boundary)."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def move_state(state: State, device: torch.device) -> State:
    return tuple(s.to(device) for s in state) if isinstance(state, tuple) else state.to(device)


class CharRNN(nn.Module):
    """``context_size`` > 0: every step also reads a fixed context vector beside the symbol (a decoder that
    sees the source summary at each step, as in Cho et al. 2014); the backbone's input size must include it."""

    def __init__(
        self, encoder: SymbolEncoder, backbone: RecurrentBackbone, dropout: float = 0.0, context_size: int = 0
    ) -> None:
        super().__init__()
        if backbone.bidirectional:
            raise ValueError("a generator reads only the past: its backbone must be unidirectional")
        if backbone.input_size != encoder.output_size + context_size:
            raise ValueError("the backbone reads the symbol vector and the context: input_size must be their sum")
        self.encoder, self.backbone, self.context_size = encoder, backbone, context_size
        self.dropout = nn.Dropout(dropout)
        self.output = OutputLayer(backbone.output_size, encoder.num_symbols)

    def forward(self, ids: Tensor, state: State | None = None, context: Tensor | None = None) -> tuple[Tensor, State]:
        """Scores (N, T, symbols) for the symbol after each of ``ids`` (N, T), and the state after the last."""
        x = self.encoder(ids)
        if self.context_size:
            x = torch.cat([x, context.unsqueeze(1).expand(-1, x.size(1), -1)], dim=-1)
        outputs, state = self.backbone(x, state=state)
        return self.output(self.dropout(outputs)), state

    @torch.no_grad()
    def generate(
        self,
        prime: Tensor,
        steps: int,
        state: State | None = None,
        temperature: float | None = None,
        end: int | None = None,
        generator: torch.Generator | None = None,
        context: Tensor | None = None,
    ) -> Tensor:
        """(N, steps) symbols following ``prime`` (N, P ≥ 1), each fed back as the next input: greedy when
        ``temperature`` is None, else sampled from softmax(o / temperature). After ``end``, only ``end``."""
        if temperature is not None and temperature <= 0:
            raise ValueError(f"temperature must be > 0 (or None for greedy decoding), got {temperature}")
        logits, state = self(prime, state, context)
        logits = logits[:, -1]
        done = torch.zeros(len(prime), dtype=torch.bool, device=prime.device)
        out = []
        for step in range(steps):
            if temperature is None:
                symbol = logits.argmax(-1)
            else:
                probabilities = (logits / temperature).softmax(-1)
                symbol = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)
            if end is not None:
                symbol = symbol.masked_fill(done, end)
                done |= symbol == end
            out.append(symbol)
            if step + 1 < steps:
                logits, state = self(symbol.unsqueeze(1), state, context)
                logits = logits[:, -1]
        return torch.stack(out, dim=1)


class Bridge(nn.Module):
    """A feature vector → the decoder's initial state: ``s_0 = tanh(W f + b)`` for every layer (an LSTM's cell
    state starts at zero)."""

    def __init__(self, in_features: int, backbone: RecurrentBackbone) -> None:
        super().__init__()
        self.num_layers, self.hidden_size, self.lstm = (
            backbone.num_layers,
            backbone.hidden_size,
            backbone.cell == "lstm",
        )
        self.linear = nn.Linear(in_features, self.num_layers * self.hidden_size)

    def forward(self, features: Tensor) -> State:
        h = torch.tanh(self.linear(features)).view(len(features), self.num_layers, self.hidden_size)
        h = h.transpose(0, 1).contiguous()  # (layers, N, H): torch.nn.RNN's layout
        return (h, torch.zeros_like(h)) if self.lstm else h


class ImageEncoder(nn.Module):
    """Flattened pixels → features, one tanh layer."""

    def __init__(self, in_features: int, features: int) -> None:
        super().__init__()
        self.linear, self.output_size = nn.Linear(in_features, features), features

    def forward(self, images: Tensor, lengths: Tensor | None = None) -> Tensor:
        return torch.tanh(self.linear(images.flatten(1)))


class SequenceEncoder(nn.Module):
    """Symbol ids → the backbone's final state(s) (both directions' for a bidirectional one), as features."""

    def __init__(self, symbols: SymbolEncoder, backbone: RecurrentBackbone) -> None:
        super().__init__()
        self.symbols, self.backbone, self.output_size = symbols, backbone, backbone.output_size

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        _, final = self.backbone(self.symbols(ids), lengths)
        return self.backbone.final_features(final)


class ConditionalGenerator(nn.Module):
    """The source's features set the decoder's initial state (through the :class:`Bridge`) and, when the decoder
    has a context, are read again at every step."""

    def __init__(self, encoder: nn.Module, decoder: CharRNN, dropout: float = 0.0) -> None:
        super().__init__()
        if decoder.context_size not in (0, encoder.output_size):
            raise ValueError("a decoder's context is the encoder's features: context_size must match")
        self.encoder, self.decoder = encoder, decoder
        self.dropout = nn.Dropout(dropout)
        self.bridge = Bridge(encoder.output_size, decoder.backbone)

    def condition(self, source: Tensor, lengths: Tensor | None = None) -> tuple[State, Tensor | None]:
        """The decoder's initial state and its per-step context (None without one)."""
        features = self.dropout(self.encoder(source, lengths))
        return self.bridge(features), features if self.decoder.context_size else None

    def forward(self, source: Tensor, decoder_input: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Teacher forcing: scores (N, T, symbols) of each next symbol given the true previous ones."""
        state, context = self.condition(source, lengths)
        logits, _ = self.decoder(decoder_input, state, context)
        return logits

    @torch.no_grad()
    def generate(
        self, source: Tensor, start: int, end: int, steps: int, lengths: Tensor | None = None, **sampling
    ) -> Tensor:
        """(N, steps) symbols written from START until END (then END repeated); see :meth:`CharRNN.generate`."""
        prime = torch.full((len(source), 1), start, dtype=torch.long, device=source.device)
        state, context = self.condition(source, lengths)
        return self.decoder.generate(prime, steps, state, end=end, context=context, **sampling)
