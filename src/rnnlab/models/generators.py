"""Networks that generate symbols one at a time, each fed back as the next input.

- :class:`CharRNN` — the causal many-to-many network: symbol ids in, next-symbol scores out, the state passed
  in and out so a language model can carry it across batches. It is the character LM, and the decoder below.
- :class:`ConditionalGenerator` — an encoder turns a source into a feature vector, a :class:`Bridge` turns
  that into the decoder's initial state, and a :class:`CharRNN` decoder writes the output: one-to-many with
  an :class:`ImageEncoder` (captioning), unaligned many-to-many with a :class:`SequenceEncoder` (translation).
  With attention (:mod:`rnnlab.models.attention`), a translation decoder reads at every step a mix of all the
  encoder's states, weighted by how well each matches its state: Bahdanau's wiring (``additive``) or Luong's
  (``dot``), see :class:`ConditionalGenerator`.

Training feeds the decoder the true previous symbol (teacher forcing); :meth:`CharRNN.generate` and
:meth:`ConditionalGenerator.generate` feed back their own choice, greedy (argmax) or sampled from
``softmax(o / temperature)``; :meth:`ConditionalGenerator.generate` also searches with a beam
(:mod:`rnnlab.models.beam_search`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.models.attention import Attention, valid_positions
from rnnlab.models.backbone import RecurrentBackbone, State, map_state
from rnnlab.models.beam_search import beam_search
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
    return map_state(Tensor.detach, state)


def move_state(state: State, device: torch.device) -> State:
    return map_state(lambda s: s.to(device), state)


def choose(logits: Tensor, temperature: float | None, generator: torch.Generator | None = None) -> Tensor:
    """The next symbol of each row of ``logits`` (N, V): the argmax when ``temperature`` is None, else drawn from
    softmax(logits / temperature)."""
    if temperature is None:
        return logits.argmax(-1)
    probabilities = (logits / temperature).softmax(-1)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(1)


def feed_back(
    advance: Callable[[Tensor], Tensor],
    logits: Tensor,
    steps: int,
    temperature: float | None,
    generator: torch.Generator | None,
    end: int | None,
) -> Tensor:
    """(N, steps) symbols, the first chosen from ``logits`` (N, V) and each fed back through ``advance(symbol) ->
    the next logits`` (:func:`choose`: greedy or sampled); after ``end``, only ``end``."""
    done = torch.zeros(len(logits), dtype=torch.bool, device=logits.device)
    out = []
    for step in range(steps):
        symbol = choose(logits, temperature, generator)
        if end is not None:
            symbol = symbol.masked_fill(done, end)
            done |= symbol == end
        out.append(symbol)
        if step + 1 < steps:
            logits = advance(symbol)
    return torch.stack(out, dim=1)


def check_temperature(temperature: float | None) -> None:
    if temperature is not None and temperature <= 0:
        raise ValueError(f"temperature must be > 0 (or None for greedy decoding), got {temperature}")


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
        check_temperature(temperature)
        logits, state = self(prime, state, context)

        def advance(symbol: Tensor) -> Tensor:
            nonlocal state
            logits, state = self(symbol.unsqueeze(1), state, context)
            return logits[:, -1]

        return feed_back(advance, logits[:, -1], steps, temperature, generator, end)


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
        return self.encode(ids, lengths)[1]

    def encode(self, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The backbone's outputs at every position (N, S, output_size; zero on padding) and the final features."""
        states, final = self.backbone(self.symbols(ids), lengths)
        return states, self.backbone.final_features(final)


@dataclass
class SourceMemory:
    """What a decoder reads of its source at every step, one row per example: the fixed ``context`` (N, E) of a
    decoder with one, or for attention the encoder's ``states`` (N, S, E), their ``keys`` (N, S, A) and ``mask``
    (N, S), True at valid positions."""

    context: Tensor | None = None
    states: Tensor | None = None
    keys: Tensor | None = None
    mask: Tensor | None = None

    def select(self, rows: Tensor) -> SourceMemory:
        """The memory of the examples ``rows`` (repeated ones for the beams of beam search)."""
        picked = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(self, **{name: value.index_select(0, rows) for name, value in picked.items()})


def top_hidden(state: State) -> Tensor:
    """The last layer's hidden state (N, H) of a unidirectional decoder: what attention asks with."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


class ConditionalGenerator(nn.Module):
    """The source's features set the decoder's initial state (through the :class:`Bridge`) and, when the decoder
    has a context, are read again at every step.

    With ``attention`` (a :class:`SequenceEncoder` only), each step reads the attention's mix ``c_t`` of the
    encoder's states instead, wired as in the paper of its score:

    - ``additive`` (Bahdanau et al. 2015): the state before the step asks, ``c_t`` joins the step's input beside
      the previous symbol (the decoder has a context of the encoder's size), ``o_t`` reads the new state. Each
      step needs the one before: the decoder runs one step at a time, also in training.
    - ``dot`` (Luong et al. 2015, global attention without input feeding): the step runs first, its new state
      ``s_t`` asks, and the output reads ``h̃_t = tanh(W_c [c_t; s_t])`` (the decoder has no context input). In
      training every ``s_t`` is known at once, so the decoder runs all steps in one call.
    """

    def __init__(self, encoder: nn.Module, decoder: CharRNN, dropout: float = 0.0, attention: str = "none") -> None:
        super().__init__()
        if decoder.context_size not in (0, encoder.output_size):
            raise ValueError("a decoder's context is the encoder's features: context_size must match")
        if attention != "none" and not isinstance(encoder, SequenceEncoder):
            raise ValueError("attention reads the states of a sequence encoder")
        if attention == "additive" and not decoder.context_size:
            raise ValueError("additive (Bahdanau) attention feeds its context to the decoder: it needs a context")
        if attention == "dot" and decoder.context_size:
            raise ValueError("dot (Luong) attention reads its context after the step: the decoder takes none")
        self.encoder, self.decoder = encoder, decoder
        self.dropout = nn.Dropout(dropout)
        self.bridge = Bridge(encoder.output_size, decoder.backbone)
        # Built last: without attention, the other parameters draw exactly what they drew before it existed.
        hidden = decoder.backbone.hidden_size
        self.attention = None if attention == "none" else Attention(attention, hidden, encoder.output_size)
        self.combine = nn.Linear(encoder.output_size + hidden, hidden) if attention == "dot" else None  # W_c

    def condition(self, source: Tensor, lengths: Tensor | None = None) -> tuple[State, SourceMemory]:
        """The decoder's initial state and what it reads of the source at every step."""
        if self.attention is None:
            features = self.dropout(self.encoder(source, lengths))
            return self.bridge(features), SourceMemory(context=features if self.decoder.context_size else None)
        states, features = self.encoder.encode(source, lengths)
        states, features = self.dropout(states), self.dropout(features)
        mask = valid_positions(lengths, states.size(1), len(states), states.device)
        return self.bridge(features), SourceMemory(states=states, keys=self.attention.keys(states), mask=mask)

    def step(self, symbol: Tensor, state: State, memory: SourceMemory) -> tuple[Tensor, State, Tensor | None]:
        """One decoder step: scores (N, symbols) of the symbol after ``symbol`` (N,), the new state, and the
        attention weights (N, S) the step read the source with (None without attention)."""
        logits, state, weights = self.decode(symbol.unsqueeze(1), state, memory)
        return logits[:, -1], state, None if weights is None else weights[:, -1]

    def decode(self, ids: Tensor, state: State, memory: SourceMemory) -> tuple[Tensor, State, Tensor | None]:
        """The decoder fed ``ids`` (N, T) from ``state``: scores (N, T, symbols), the state after the last, and the
        attention weights (N, T, S) of each step (None without attention)."""
        if self.attention is None:
            # The whole sequence in one call: the fused kernel runs every step at once.
            logits, state = self.decoder(ids, state, memory.context)
            return logits, state, None
        if self.combine is not None:
            # Luong: the steps first (all at once), then each new state s_t asks, and h̃_t feeds the output layer.
            states, state = self.decoder.backbone(self.decoder.encoder(ids), state=state)
            context, weights = self.attention(states, memory.keys, memory.states, memory.mask)
            attentional = torch.tanh(self.combine(torch.cat([context, states], dim=-1)))
            return self.decoder.output(self.decoder.dropout(attentional)), state, weights
        # Bahdanau: the state before each step asks, so each step's input waits for the step before.
        steps, weights = [], []
        for symbol in ids.unbind(1):
            context, attended = self.attention(top_hidden(state), memory.keys, memory.states, memory.mask)
            logits, state = self.decoder(symbol.unsqueeze(1), state, context)
            steps.append(logits[:, -1])
            weights.append(attended)
        return torch.stack(steps, dim=1), state, torch.stack(weights, dim=1)

    def forward(self, source: Tensor, decoder_input: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Teacher forcing: scores (N, T, symbols) of each next symbol given the true previous ones."""
        return self.teacher_forced(source, decoder_input, lengths)[0]

    def teacher_forced(
        self, source: Tensor, decoder_input: Tensor, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """The scores (N, T, symbols) and, with attention, the weights (N, T, S) each step read the source with."""
        state, memory = self.condition(source, lengths)
        logits, _, weights = self.decode(decoder_input, state, memory)
        return logits, weights

    @torch.no_grad()
    def generate(
        self,
        source: Tensor,
        start: int,
        end: int,
        steps: int,
        lengths: Tensor | None = None,
        temperature: float | None = None,
        generator: torch.Generator | None = None,
        beam_size: int | None = None,
        length_penalty: float = 0.0,
    ) -> Tensor:
        """(N, steps) symbols written from START until END (then END repeated), each fed back as the next input:
        greedy when ``temperature`` is None, else sampled from softmax(o / temperature); with ``beam_size``, the
        best output beam search finds (:func:`~rnnlab.models.beam_search.beam_search`, ranked by log P / L^α with
        α = ``length_penalty``)."""
        check_temperature(temperature)
        state, memory = self.condition(source, lengths)
        if beam_size is not None:
            beams = torch.arange(len(source), device=source.device).repeat_interleave(beam_size)
            memory = memory.select(beams)

            def step(symbols: Tensor, state: State) -> tuple[Tensor, State]:
                logits, state, _ = self.step(symbols, state, memory)
                return logits, state

            state = map_state(lambda s: s.index_select(1, beams), state)
            return beam_search(step, state, len(source), start, end, steps, beam_size, length_penalty)[0]

        def advance(symbol: Tensor) -> Tensor:
            nonlocal state
            logits, state, _ = self.step(symbol, state, memory)
            return logits

        first = advance(torch.full((len(source),), start, dtype=torch.long, device=source.device))
        return feed_back(advance, first, steps, temperature, generator, end)
