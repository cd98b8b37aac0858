"""Interpretable units of a character language model, after Karpathy, Johnson & Fei-Fei (2015), "Visualizing
and Understanding Recurrent Networks": read a text one character at a time, record one layer's hidden units,
and ask which unit tracks a simple property of the text.

- :func:`unit_activations`: the units after each character, ``(T, H)``: the state ``s_t`` of a vanilla RNN (the
  output ``h_t`` of an LSTM or GRU), or an LSTM's cell ``c_t``.
- :func:`text_property`: a number per character for a named property (:data:`PROPERTIES`), measured after that
  character is read, as the unit is.
- :func:`correlations`: each unit's Pearson correlation with a property over the text; :func:`rank_units` orders
  the units by its size.

Rendering the text coloured by a unit is in :mod:`rnnlab.analysis.coloured_text`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnnlab.models.generators import CharRNN

STATES = ("output", "cell")
OPENING, CLOSING = "([{", ")]}"


def _word_char(char: str) -> bool:
    # An apostrophe inside a word ("don't", "'tis") does not start a new word after it.
    return char.isalnum() or char == "'"


def inside_quotes(text: str) -> list[float]:
    """1 from an opening double quote (``"`` or ``“``) up to the character before the closing one, else 0."""
    inside, values = False, []
    for char in text:
        if char == '"':
            inside = not inside
        elif char == "“":
            inside = True
        elif char == "”":
            inside = False
        values.append(float(inside))
    return values


def inside_brackets(text: str) -> list[float]:
    """1 from an opening bracket (``(``, ``[``, ``{``) up to the character before its closing one, nested or
    not, else 0; a closing bracket without an opening one is ignored."""
    depth, values = 0, []
    for char in text:
        if char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth = max(depth - 1, 0)
        values.append(float(depth > 0))
    return values


def line_position(text: str) -> list[float]:
    """How many characters of the current line have been read: 1 for a line's first character, 0 for a newline
    (after it, a new line has begun)."""
    position, values = 0, []
    for char in text:
        position = 0 if char == "\n" else position + 1
        values.append(float(position))
    return values


def word_start(text: str) -> list[float]:
    """1 for a letter or digit that begins a word (the character before it is neither a letter, a digit nor an
    apostrophe), else 0."""
    return [float(char.isalnum() and (i == 0 or not _word_char(text[i - 1]))) for i, char in enumerate(text)]


def upper_case(text: str) -> list[float]:
    """1 for an upper-case letter, else 0."""
    return [float(char.isupper()) for char in text]


PROPERTIES: dict[str, Callable[[str], list[float]]] = {
    "inside_quotes": inside_quotes,
    "inside_brackets": inside_brackets,
    "line_position": line_position,
    "word_start": word_start,
    "upper_case": upper_case,
}


def text_property(text: str, name: str) -> Tensor:
    """(T,) float64: property ``name`` of :data:`PROPERTIES` after each character of ``text``."""
    if name not in PROPERTIES:
        raise ValueError(f"unknown property {name!r}; choose from {', '.join(PROPERTIES)}")
    return torch.tensor(PROPERTIES[name](text), dtype=torch.float64)


@torch.no_grad()
def unit_activations(net: CharRNN, ids: Tensor, state: str = "output", layer: int | None = None) -> Tensor:
    """(T, H): the hidden units of ``layer`` (0-based; None: the top layer) after each of ``ids`` (T,), read from
    the zero state one character at a time. ``state``: ``output`` (s_t, or h_t of a gated cell) or ``cell``
    (an LSTM's c_t). Stepping the backbone itself works for the fused kernel too, which keeps c_t inside."""
    backbone = net.backbone
    if state not in STATES:
        raise ValueError(f"state must be one of {list(STATES)}, got {state!r}")
    if state == "cell" and backbone.cell != "lstm":
        raise ValueError(f"state='cell' is an LSTM's c_t; a {backbone.cell} has only its output state")
    layer = backbone.num_layers - 1 if layer is None else layer
    if not 0 <= layer < backbone.num_layers:
        raise ValueError(f"layer {layer} is out of range for {backbone.num_layers} layer(s)")
    x = net.encoder(ids.view(1, -1).to(net.output.V.device))
    carried, rows = None, []
    for x_t in x.split(1, dim=1):
        _, carried = backbone(x_t, state=carried)
        if isinstance(carried, tuple):  # an LSTM's (h, c), each (layers, 1, H)
            rows.append(carried[STATES.index(state)][layer, 0])
        else:
            rows.append(carried[layer, 0])
    return torch.stack(rows).double().cpu()


def correlations(activations: Tensor, values: Tensor) -> Tensor:
    """(H,): Pearson's r between each column of ``activations`` (T, H) and ``values`` (T,), in float64. A unit
    that never changes over the text has r = 0; a property that never changes is a ValueError (nothing to track)."""
    activations, values = activations.double(), values.double()
    if bool(values.max() == values.min()):
        raise ValueError("the property has the same value at every character: no unit can track it")
    a, v = activations - activations.mean(0), values - values.mean()
    # Compared exactly, not by spread: subtracting the mean leaves float rounding in a constant column.
    constant = activations.amax(0) == activations.amin(0)
    r = (a.T @ v) / (a.norm(dim=0) * v.norm()).masked_fill(constant, 1.0)
    return r.masked_fill(constant, 0.0)


def rank_units(r: Tensor, top: int) -> list[tuple[int, float]]:
    """The ``top`` units with the largest |r|, largest first, as (unit, r)."""
    order = r.abs().argsort(descending=True, stable=True)[:top]
    return [(int(unit), float(r[unit])) for unit in order]
