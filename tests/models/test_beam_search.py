"""Beam search (models/beam_search.py) against brute force on a tiny seq2seq: with beams enough to keep every
hypothesis (as wide as the vocabulary over two steps), it finds the most likely output, also under a length
penalty; a beam of one is greedy; examples decoded together are decoded as alone; a beam stops at END."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnlab.models import RecurrentBackbone
from rnnlab.models.beam_search import beam_search
from rnnlab.models.generators import CharRNN, ConditionalGenerator, SequenceEncoder, SymbolEncoder

START, END, VOCABULARY = 0, 1, 4  # START, END and two symbols: 4**3 outputs of 3 steps, few enough to list


def tiny(attention: str, seed: int, cell: str = "rnn") -> ConditionalGenerator:
    torch.manual_seed(seed)
    encoder = SequenceEncoder(SymbolEncoder(5, "embedding", 3), RecurrentBackbone(3, 4, bidirectional=True, cell=cell))
    context = 0 if attention == "dot" else 8  # Luong's decoder reads no context as input
    decoder = CharRNN(SymbolEncoder(VOCABULARY), RecurrentBackbone(VOCABULARY + context, 4, cell=cell), 0.0, context)
    net = ConditionalGenerator(encoder, decoder, attention=attention).eval()
    with torch.no_grad():
        net.decoder.output.V.mul_(4)  # sharper distributions: greedy and the best output part more often
    return net


def sources(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 5, (n, 5), generator=generator), torch.randint(1, 6, (n,), generator=generator)


@torch.no_grad()
def brute_force(
    net: ConditionalGenerator, source, lengths, steps: int, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every output of at most ``steps`` symbols (ended by END, or cut at ``steps``), scored by teacher forcing as
    log P / L^alpha; the best of each example, END-padded, and its score."""
    outputs = []
    for length in range(1, steps + 1):
        for body in itertools.product([s for s in range(VOCABULARY) if s != END], repeat=length - 1):
            outputs.append([*body, END])
            if length == steps:
                outputs.extend([*body, last] for last in range(VOCABULARY) if last != END)
    best_scores = torch.full((len(source),), float("-inf"))
    best = torch.full((len(source), steps), END)
    for output in outputs:
        ids = torch.tensor(output).expand(len(source), -1)
        decoder_input = torch.cat([torch.full((len(source), 1), START), ids[:, :-1]], dim=1)
        log_probs = net(source, decoder_input, lengths).log_softmax(-1)
        score = log_probs.gather(2, ids.unsqueeze(-1)).squeeze(-1).sum(1) / len(output) ** alpha
        better = score > best_scores
        best_scores = torch.where(better, score, best_scores)
        best[better] = torch.nn.functional.pad(torch.tensor(output), (0, steps - len(output)), value=END)
    return best, best_scores


def beam(net, source, lengths, steps, beam_size, alpha) -> tuple[torch.Tensor, torch.Tensor]:
    state, memory = net.condition(source, lengths)
    rows = torch.arange(len(source)).repeat_interleave(beam_size)
    memory = memory.select(rows)

    def step(symbols, state):
        return net.step(symbols, state, memory)[:2]

    state = (
        state.index_select(1, rows) if not isinstance(state, tuple) else tuple(s.index_select(1, rows) for s in state)
    )
    return beam_search(step, state, len(source), START, END, steps, beam_size, alpha)


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
@pytest.mark.parametrize(
    ("steps", "beam_size"),
    [
        (2, VOCABULARY),  # as wide as the vocabulary: after step 1 every symbol is a beam, step 2 ranks all V²
        (3, 1 + (VOCABULARY - 1) * VOCABULARY),  # every hypothesis alive after step 2 (one has ended)
    ],
)
@pytest.mark.parametrize("alpha", [0.0, 0.75])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_beam_that_keeps_every_hypothesis_finds_the_most_likely_output(attention, steps, beam_size, alpha, seed):
    net = tiny(attention, seed)
    source, lengths = sources()
    expected, expected_scores = brute_force(net, source, lengths, steps, alpha)
    found, scores = beam(net, source, lengths, steps, beam_size, alpha)
    assert torch.equal(found, expected)
    torch.testing.assert_close(scores, expected_scores)
    assert torch.equal(
        net.generate(source, START, END, steps, lengths, beam_size=beam_size, length_penalty=alpha), found
    )


def test_beam_search_finds_outputs_greedy_decoding_misses():
    """The brute-force test is not one greedy decoding would pass as well: on these tiny models, greedy decoding
    misses the most likely output of some examples that beam search finds."""
    missed = 0
    for seed in range(3):
        net = tiny("additive", seed)
        source, lengths = sources(32)
        best, _ = brute_force(net, source, lengths, 3, 0.0)
        missed += (net.generate(source, START, END, 3, lengths) != best).any(1).sum().item()
        assert torch.equal(net.generate(source, START, END, 3, lengths, beam_size=13), best)
    assert missed > 0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_a_beam_of_one_is_greedy_decoding(cell, alpha):
    net = tiny("dot", 3, cell)
    source, lengths = sources(16)
    greedy = net.generate(source, START, END, 7, lengths)
    assert torch.equal(net.generate(source, START, END, 7, lengths, beam_size=1, length_penalty=alpha), greedy)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_examples_decoded_together_are_decoded_as_alone(cell):
    net = tiny("additive", 4, cell)
    source, lengths = sources(5)
    together = net.generate(source, START, END, 8, lengths, beam_size=3, length_penalty=0.75)
    for i in range(len(source)):
        alone = net.generate(source[i : i + 1], START, END, 8, lengths[i : i + 1], beam_size=3, length_penalty=0.75)
        assert torch.equal(alone[0], together[i])


def test_a_finished_beam_stops_at_end_and_the_search_stops_when_every_beam_has():
    """A scripted decoder: END is certain after two symbols, so every beam ends at step 3, the output is END-padded,
    and the decoder is not run past the step where the last beam finished."""
    calls = []

    def step(symbols, state):
        calls.append(len(symbols))
        logits = torch.zeros(len(symbols), VOCABULARY)
        logits[:, END] = 50.0 if len(calls) == 3 else -50.0
        logits[:, 2] = 1.0  # symbol 2 a little more likely than 3
        return logits, state + 1

    out, scores = beam_search(step, torch.zeros(1, 2 * 3, 1), 2, START, END, 10, beam_size=3)
    assert out.tolist() == [[2, 2, END, *[END] * 7]] * 2
    assert len(calls) == 3
    assert torch.all(scores < 0)


def test_a_beam_size_below_one_is_refused():
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        beam_search(lambda s, h: (torch.zeros(len(s), 3), h), torch.zeros(1, 1, 1), 1, 0, 1, 3, beam_size=0)
