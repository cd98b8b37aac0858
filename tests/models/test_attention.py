"""Attention over the encoder's states (models/attention.py) and the seq2seq decoder that reads it: the weights are
a distribution over the valid source positions with exactly 0 on padding, padding changes nothing the decoder
writes, the loop and fused encoders agree, and without attention decoding is what it was before attention existed."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models import RecurrentBackbone
from rnnlab.models.attention import Attention, valid_positions
from rnnlab.models.generators import CharRNN, ConditionalGenerator, SequenceEncoder, SymbolEncoder

KINDS = ["additive", "dot"]
SOURCE_SYMBOLS, TARGET_SYMBOLS, HIDDEN = 7, 5, 6


def seq2seq(attention: str, cell: str = "rnn", impl: str = "fused", layers: int = 1, seed: int = 0):
    """A small translation network, bidirectional encoder and unidirectional decoder of ``layers`` layers each;
    Bahdanau's decoder reads the context as input, Luong's does not."""
    torch.manual_seed(seed)
    symbols = SymbolEncoder(SOURCE_SYMBOLS, "embedding", 4)
    encoder = SequenceEncoder(symbols, RecurrentBackbone(4, HIDDEN, layers, bidirectional=True, cell=cell, impl=impl))
    context = encoder.output_size if attention == "additive" else 0
    backbone = RecurrentBackbone(TARGET_SYMBOLS + context, HIDDEN, layers, cell=cell, impl=impl)
    decoder = CharRNN(SymbolEncoder(TARGET_SYMBOLS), backbone, 0.0, context)
    return ConditionalGenerator(encoder, decoder, attention=attention).eval()


def padded_batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([5, 2, 7, 1])
    source = torch.randint(0, SOURCE_SYMBOLS, (4, 7), generator=generator)
    # Padding holds a symbol that is real elsewhere: only the mask may keep it out.
    return source.masked_fill(~valid_positions(lengths, 7, 4, source.device), 3), lengths


@pytest.mark.parametrize("kind", KINDS)
def test_weights_sum_to_one_over_valid_positions_and_padding_gets_exactly_zero(kind):
    torch.manual_seed(0)
    attention = Attention(kind, query_size=6, state_size=10)
    states, query = torch.randn(4, 7, 10), torch.randn(4, 6)
    lengths = torch.tensor([7, 3, 1, 5])
    mask = valid_positions(lengths, 7, 4, states.device)
    context, weights = attention(query, attention.keys(states), states, mask)
    assert weights.shape == (4, 7) and context.shape == (4, 10)
    assert torch.all(weights[~mask] == 0.0)
    assert torch.all(weights[mask] > 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4))
    torch.testing.assert_close(context, torch.einsum("ns,nse->ne", weights, states))
    # What lies on the padding cannot matter.
    noisy = states.masked_fill(~mask.unsqueeze(-1), 1e3)
    again, again_weights = attention(query, attention.keys(noisy), noisy, mask)
    torch.testing.assert_close(again_weights, weights)
    torch.testing.assert_close(again, context)


def test_additive_and_dot_scores_are_bahdanau_and_luong():
    torch.manual_seed(0)
    states, query = torch.randn(2, 3, 4), torch.randn(2, 5)
    mask = torch.ones(2, 3, dtype=torch.bool)
    additive = Attention("additive", 5, 4, size=8)
    scores = additive.score(torch.tanh(additive.key(states) + additive.query(query).unsqueeze(1))).squeeze(-1)
    torch.testing.assert_close(additive(query, additive.keys(states), states, mask)[1], scores.softmax(-1))
    dot = Attention("dot", 5, 4)
    scores = torch.einsum("nq,qe,nse->ns", query, dot.key.weight, states)
    torch.testing.assert_close(dot(query, dot.keys(states), states, mask)[1], scores.softmax(-1))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_decoder_reads_a_distribution_over_each_sources_own_characters(kind, cell):
    net = seq2seq(kind, cell)
    source, lengths = padded_batch()
    decoder_input = torch.randint(0, TARGET_SYMBOLS, (4, 6), generator=torch.Generator().manual_seed(2))
    logits, weights = net.teacher_forced(source, decoder_input, lengths)
    assert logits.shape == (4, 6, TARGET_SYMBOLS) and weights.shape == (4, 6, 7)
    mask = valid_positions(lengths, 7, 4, source.device).unsqueeze(1).expand_as(weights)
    assert torch.all(weights[~mask] == 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 6))
    # Each example alone, unpadded, is decoded the same: padding changes nothing the decoder writes.
    for i, length in enumerate(lengths.tolist()):
        alone, alone_weights = net.teacher_forced(
            source[i : i + 1, :length], decoder_input[i : i + 1], lengths[i : i + 1]
        )
        torch.testing.assert_close(alone, logits[i : i + 1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(alone_weights, weights[i : i + 1, :, :length], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("cell", "layers"), [("rnn", 1), ("lstm", 1), ("gru", 2)])
def test_loop_and_fused_encoders_and_decoders_attend_alike(kind, cell, layers):
    fused, loop = seq2seq(kind, cell, "fused", layers), seq2seq(kind, cell, "loop", layers, seed=5)
    loop.load_state_dict(fused.state_dict())
    source, lengths = padded_batch()
    decoder_input = torch.randint(0, TARGET_SYMBOLS, (4, 6), generator=torch.Generator().manual_seed(3))
    for a, b in zip(
        fused.teacher_forced(source, decoder_input, lengths),
        loop.teacher_forced(source, decoder_input, lengths),
        strict=True,
    ):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for options in ({}, {"beam_size": 3}):
        torch.testing.assert_close(
            fused.generate(source, 0, 1, 8, lengths, **options), loop.generate(source, 0, 1, 8, lengths, **options)
        )


@pytest.mark.parametrize("kind", KINDS)
def test_generation_reads_the_same_weights_as_teacher_forcing_on_its_own_output(kind):
    net = seq2seq(kind)
    source, lengths = padded_batch()
    generated = net.generate(source, 0, 1, 6, lengths)
    decoder_input = torch.cat([torch.zeros(4, 1, dtype=torch.long), generated[:, :-1]], dim=1)
    logits, _ = net.teacher_forced(source, decoder_input, lengths)
    # Greedy: each written symbol is the argmax of the scores teacher forcing gives at its step (until END).
    before_end = (generated == 1).cumsum(1) - (generated == 1).long() == 0
    assert torch.equal(logits.argmax(-1)[before_end], generated[before_end])


@pytest.mark.parametrize("context", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_without_attention_decoding_is_the_decoders_own_generate(context, cell):
    """ConditionalGenerator decodes step by step itself now; without attention it must write what the decoder's
    generate (the only decoding before attention) writes, greedy and sampled alike, symbol for symbol."""
    torch.manual_seed(0)
    symbols = SymbolEncoder(SOURCE_SYMBOLS, "embedding", 4)
    encoder = SequenceEncoder(symbols, RecurrentBackbone(4, HIDDEN, bidirectional=True, cell=cell))
    size = encoder.output_size if context else 0
    decoder = CharRNN(
        SymbolEncoder(TARGET_SYMBOLS), RecurrentBackbone(TARGET_SYMBOLS + size, HIDDEN, cell=cell), 0.0, size
    )
    net = ConditionalGenerator(encoder, decoder).eval()
    assert net.attention is None
    source, lengths = padded_batch()
    prime = torch.zeros(4, 1, dtype=torch.long)
    state, memory = net.condition(source, lengths)
    for temperature in (None, 1.5):
        ours = net.generate(
            source, 0, 1, 9, lengths, temperature=temperature, generator=torch.Generator().manual_seed(4)
        )
        before = decoder.generate(
            prime, 9, state, temperature, 1, torch.Generator().manual_seed(4), context=memory.context
        )
        assert torch.equal(ours, before)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_teacher_forcing_decodes_as_step_after_step(kind, cell):
    """Luong's decoder runs all steps in one call in training; Bahdanau's one at a time. Either way the scores and
    weights are those of the steps generation takes one by one."""
    net = seq2seq(kind, cell)
    source, lengths = padded_batch()
    decoder_input = torch.randint(0, TARGET_SYMBOLS, (4, 6), generator=torch.Generator().manual_seed(6))
    logits, weights = net.teacher_forced(source, decoder_input, lengths)
    state, memory = net.condition(source, lengths)
    for t, symbol in enumerate(decoder_input.unbind(1)):
        step_logits, state, step_weights = net.step(symbol, state, memory)
        torch.testing.assert_close(step_logits, logits[:, t], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(step_weights, weights[:, t], atol=1e-5, rtol=1e-5)


def test_bahdanau_asks_with_the_state_before_the_step_and_luong_with_the_state_after_it():
    source, lengths = padded_batch()
    symbol = torch.tensor([2, 3, 4, 2])
    for kind, asks_before in (("additive", True), ("dot", False)):
        net = seq2seq(kind)
        state, memory = net.condition(source, lengths)
        _, after, weights = net.step(symbol, state, memory)
        query = (state if asks_before else after)[-1]
        torch.testing.assert_close(net.attention(query, memory.keys, memory.states, memory.mask)[1], weights)


def test_attention_is_wired_to_a_sequence_encoder_as_its_paper_wires_it():
    net, luong = seq2seq("additive"), seq2seq("dot")
    assert luong.combine is not None and net.combine is None
    assert luong.decoder.context_size == 0 and net.decoder.context_size == net.encoder.output_size
    with pytest.raises(ValueError, match="needs a context"):
        ConditionalGenerator(net.encoder, luong.decoder, attention="additive")
    with pytest.raises(ValueError, match="the decoder takes none"):
        ConditionalGenerator(net.encoder, net.decoder, attention="dot")
    with pytest.raises(ValueError, match="attention must be one of"):
        Attention("cosine", 4, 4)
