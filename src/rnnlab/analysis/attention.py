"""Attention heat maps: which input characters each output character was written from.

One map is a matrix of attention weights, a row per output symbol (END included: where the decoder looked when it
decided to stop), a column per input character; each row sums to 1. Drawn on matplotlib's non-interactive Agg
canvas, without pyplot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

END_LABEL = "end"


@dataclass
class AttentionMap:
    """``weights`` (outputs, inputs); ``inputs``: the source's characters; ``outputs``: the symbols written, the
    end marker as it is in the alphabet (shown as ``end``)."""

    weights: Tensor
    inputs: list[str]
    outputs: list[str]


def _label(symbol: str) -> str:
    if symbol == " ":
        return "␣"
    return END_LABEL if symbol.startswith("</") else symbol


def draw_attention(ax: Axes, attention: AttentionMap) -> None:
    """One map on ``ax``: outputs down, inputs across, darker where the weight is larger (scale 0 to 1)."""
    weights = attention.weights.float().numpy()
    ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="equal", interpolation="nearest")
    ax.set_xticks(range(len(attention.inputs)), [_label(c) for c in attention.inputs], fontsize=8)
    ax.set_yticks(range(len(attention.outputs)), [_label(c) for c in attention.outputs], fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("input character", fontsize=8)
    ax.set_ylabel("output character", fontsize=8)
    text = "".join(attention.inputs)
    written = "".join(c for c in attention.outputs if not c.startswith("</"))
    ax.set_title(f'"{text}" → {written}', fontsize=9)


def attention_grid(maps: Sequence[AttentionMap], columns: int = 2) -> Figure:
    """The maps side by side, ``columns`` to a row, each as wide as its input."""
    if not maps:
        raise ValueError("attention_grid needs at least one map")
    rows = math.ceil(len(maps) / columns)
    widest = max(len(m.inputs) for m in maps)
    tallest = max(len(m.outputs) for m in maps)
    figure = Figure(figsize=(min(columns, len(maps)) * (0.22 * widest + 1.0), rows * (0.22 * tallest + 1.2)))
    FigureCanvasAgg(figure)
    for i, attention in enumerate(maps):
        draw_attention(figure.add_subplot(rows, columns, i + 1), attention)
    figure.tight_layout()
    return figure
