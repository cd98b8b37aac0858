"""A text coloured by a hidden unit's activation after each character, as Karpathy et al. (2015) show cells:
red where the unit is positive, blue where it is negative, paler towards 0. Each unit is scaled by its own
largest |activation| over the text, so a cell state c_t (unbounded) and a tanh output (in [−1, 1]) both use the
whole colour range; the page and the picture say the scale.

- :func:`html_page`: every character a ``<span>`` with its background colour and, on hover, its value.
- :func:`text_figure`: the same as a matplotlib figure (Agg canvas, no pyplot), a panel per unit, lines wrapped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from torch import Tensor

# White at 0, saturated at ±1: blue negative, red positive (the paper's colours).
COLOURS = LinearSegmentedColormap.from_list("unit", ["#2166ac", "#ffffff", "#b2182b"], N=255)  # odd: 0 is white
NEWLINE = "↵"  # what a newline looks like in the coloured text (it ends the line after it)


@dataclass(frozen=True)
class UnitTrace:
    """One unit's activation after each character of a text, and what the pictures say about it."""

    unit: int
    values: Tensor  # (T,)
    caption: str  # e.g. "unit 17 of c_t: r = +0.62 with inside_quotes"

    @property
    def scale(self) -> float:
        return max(float(self.values.abs().max()), 1e-12)


def _rgb(value: float, scale: float) -> str:
    r, g, b, _ = COLOURS(0.5 + 0.5 * max(-1.0, min(1.0, value / scale)))
    return f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}"


def _span(char: str, value: float, scale: float) -> str:
    shown = NEWLINE + "\n" if char == "\n" else html.escape(char)
    return f'<span style="background:{_rgb(value, scale)}" title="{value:+.3f}">{shown}</span>'


def html_page(text: str, traces: list[UnitTrace], title: str) -> str:
    """A self-contained HTML page: the title, then for each unit its caption and the coloured text."""
    sections = []
    for trace in traces:
        spans = "".join(_span(c, float(v), trace.scale) for c, v in zip(text, trace.values.tolist(), strict=True))
        sections.append(
            f"<h2>{html.escape(trace.caption)}</h2>\n"
            f"<p>red &gt; 0 &gt; blue; full colour at |activation| = {trace.scale:.3g}; hover for the value</p>\n"
            f"<pre>{spans}</pre>"
        )
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:sans-serif;margin:2em}pre{font-size:14px;line-height:1.35;white-space:pre-wrap}"
        "pre span{font-family:monospace}</style>\n"
        f"</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def wrap(text: str, width: int) -> list[list[int]]:
    """The positions of ``text`` on each displayed line: a newline ends its line (shown as its last character),
    and lines longer than ``width`` continue on the next."""
    lines, current = [], []
    for i, char in enumerate(text):
        current.append(i)
        if char == "\n" or len(current) == width:
            lines.append(current)
            current = []
    if current:
        lines.append(current)
    return lines


def text_figure(text: str, traces: list[UnitTrace], title: str, width: int = 80) -> Figure:
    """A panel per unit: the text in a monospace grid of ``width`` columns, each cell coloured by the unit."""
    lines = wrap(text, width)
    rows, columns = len(lines), max(len(line) for line in lines)
    panel_height = 0.19 * rows + 0.45
    fig = Figure(figsize=(0.11 * columns + 0.6, panel_height * len(traces) + 0.5))
    FigureCanvasAgg(fig)
    for k, trace in enumerate(traces):
        ax = fig.add_subplot(len(traces), 1, k + 1)
        grid = np.full((rows, columns), np.nan)
        for row, positions in enumerate(lines):
            for column, i in enumerate(positions):
                grid[row, column] = float(trace.values[i]) / trace.scale
                char = NEWLINE if text[i] == "\n" else text[i]
                ax.text(column, row, char, ha="center", va="center", family="monospace", fontsize=8)
        ax.imshow(grid, cmap=COLOURS, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{trace.caption}   (full colour at |a| = {trace.scale:.3g})", fontsize=9, loc="left")
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))  # the top 0.3 inch for the title
    return fig
