"""Interpretable units: the text properties, each unit's correlation with them (against numpy), the activations
read one character at a time (against the network's own forward pass), and the coloured text."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.analysis.coloured_text import UnitTrace, html_page, text_figure, wrap
from rnnlab.analysis.units import PROPERTIES, correlations, rank_units, text_property, unit_activations
from rnnlab.models import RecurrentBackbone
from rnnlab.models.generators import CharRNN, SymbolEncoder

TEXT = 'He said "no (or yes)" and\nleft. Don\'t!'


# Written out by hand for TEXT, character by character: H e ␣ s a i d ␣ " n o ␣ ( o r ␣ y e s ) " ␣ a n d ↵ …
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("inside_quotes", [0] * 8 + [1] * 12 + [0] * 18),
        ("inside_brackets", [0] * 12 + [1] * 7 + [0] * 19),
        ("line_position", [*range(1, 26), 0, *range(1, 13)]),
        # word_start, the two lines of TEXT: "He said \"no (or yes)\" and↵" and "left. Don't!"
        ("word_start", [int(bit) for bit in "10010000010001001000001000" + "100000100000"]),
        ("upper_case", [1] + [0] * 31 + [1] + [0] * 5),
    ],
)
def test_each_property_is_measured_after_each_character(name, expected):
    assert len(TEXT) == 38
    assert text_property(TEXT, name).tolist() == expected


def test_curly_quotes_open_and_close_and_a_stray_closing_bracket_is_ignored():
    assert text_property("a “b” c", "inside_quotes").tolist() == [0, 0, 1, 1, 0, 0, 0]
    assert text_property(")(x)", "inside_brackets").tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="unknown property 'vowels'"):
        text_property("abc", "vowels")


@pytest.mark.parametrize("name", list(PROPERTIES))
def test_the_correlation_equals_numpys(name):
    generator = torch.Generator().manual_seed(0)
    activations = torch.randn(len(TEXT), 6, generator=generator, dtype=torch.float64)
    values = text_property(TEXT, name)
    activations[:, 2] += 3 * values  # one unit that tracks the property
    activations[:, 5] = 0.7  # one that never changes: r = 0
    r = correlations(activations, values)
    reference = [np.corrcoef(activations[:, unit].numpy(), values.numpy())[0, 1] for unit in range(5)]
    np.testing.assert_allclose(r[:5].numpy(), reference, rtol=1e-12, atol=1e-12)
    assert r[5] == 0
    assert rank_units(r, 1)[0][0] == 2


def test_ranking_orders_by_size_whatever_the_sign_and_a_constant_property_is_refused():
    assert rank_units(torch.tensor([0.1, -0.9, 0.5, -0.2], dtype=torch.float64), 3) == [(1, -0.9), (2, 0.5), (3, -0.2)]
    with pytest.raises(ValueError, match="same value at every character"):
        correlations(torch.randn(4, 2), torch.ones(4))


def char_rnn(cell: str, layers: int = 1, impl: str = "fused") -> CharRNN:
    torch.manual_seed(0)
    symbols = SymbolEncoder(7, "embedding", 5)
    return CharRNN(symbols, RecurrentBackbone(5, 9, num_layers=layers, cell=cell, impl=impl)).eval()


@pytest.mark.parametrize(
    ("cell", "layers", "impl"), [("rnn", 1, "loop"), ("rnn", 2, "fused"), ("lstm", 1, "fused"), ("gru", 2, "loop")]
)
def test_the_output_units_are_the_states_the_network_computes(cell, layers, impl):
    net = char_rnn(cell, layers, impl)
    ids = torch.tensor([3, 1, 4, 1, 5, 2, 6, 0])
    with torch.no_grad():
        outputs, final = net.backbone(net.encoder(ids.unsqueeze(0)))
    top = unit_activations(net, ids)
    torch.testing.assert_close(top, outputs[0].double(), rtol=1e-5, atol=1e-6)
    h = final[0] if isinstance(final, tuple) else final
    for layer in range(layers):  # the last character's row is each layer's final state
        torch.testing.assert_close(
            unit_activations(net, ids, layer=layer)[-1], h[layer, 0].double(), rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_an_lstms_cell_units_are_its_c_t(impl):
    net = char_rnn("lstm", 2, impl)
    ids = torch.tensor([3, 1, 4, 1, 5])
    cells = unit_activations(net, ids, state="cell", layer=0)
    for t in range(1, len(ids) + 1):  # c_t is the final cell state of the first t characters
        with torch.no_grad():
            _, (_, c) = net.backbone(net.encoder(ids[:t].unsqueeze(0)))
        torch.testing.assert_close(cells[t - 1], c[0, 0].double(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="a rnn has only its output state"):
        unit_activations(char_rnn("rnn"), ids, state="cell")


def test_lines_wrap_at_newlines_and_at_the_width():
    assert wrap("abcdefg\nhi", 3) == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]


def test_the_page_colours_every_character_by_its_unit_and_escapes_the_text():
    text = "<a> b\nc"
    values = torch.tensor([1.0, -1.0, 0.0, 0.5, 0.0, 0.0, -0.25])
    page = html_page(text, [UnitTrace(4, values, "unit 4 of c_t")], "a title")
    assert page.count("<span ") == len(text)
    assert '">&lt;</span>' in page and '">&gt;</span>' in page and "<a>" not in page
    assert 'background:#b2182b" title="+1.000"' in page  # the largest positive value: full red
    assert 'background:#2166ac" title="-1.000"' in page  # the largest negative: full blue
    assert 'background:#ffffff" title="+0.000"' in page
    figure = text_figure(text, [UnitTrace(4, values, "unit 4"), UnitTrace(5, -values, "unit 5")], "a title", 4)
    assert len(figure.axes) == 2
    assert figure.axes[0].images[0].get_array().shape == (3, 4)  # "<a> " "b↵" "c"
