"""The unrolled network as the lecture draws it: x_t at the bottom, s_t in the middle, o_t on top.

Arrows carry the shared matrices: U from x_t into s_t, W from s_{t−1} to s_t (starting at the initial state
s_0), V from s_t to o_t. A deep RNN has one row of states per layer (superscript (k)). A bidirectional layer
adds a row of backward states, marked with a left arrow, whose W arrows run right to left from their own
initial state after the last step; its nodes sit a little right of the forward ones, so that no arrow has to
pass through a node. Figures are drawn on matplotlib's non-interactive Agg canvas, without pyplot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch

from rnnlab.analysis.unroll import UnrolledRNN

FORMATS = ("png", "svg", "pdf")
ROW, RADIUS = 1.2, 0.3  # distance between rows, node radius (data units)
COLUMNS = {1: 1.6, 2: 2.2}  # distance between time steps, by directions: staggered rows need more room
STAGGER = 0.4  # how far a bidirectional layer's forward/backward nodes sit left/right of their time step
# An arrow's label sits this far from the centre of the node it points at, plus half a label's width on a
# horizontal arrow (labels are wider than tall): just clear of the arrow head.
LABEL_DISTANCE, LABEL_HALF_WIDTH = 0.6, 0.25
COLOURS = {"x": "#d8ecd3", "s": "#cfe0f5", "o": "#fde3c8", "initial": "white"}
CELL_NAMES = {"rnn": "Elman RNN", "lstm": "LSTM", "gru": "GRU"}
GATES = {"lstm": "input, forget, cell, output", "gru": "reset, update, new"}


def _symbol(name: str, t: int | str | None = None, layer: int | None = None, backward: bool = False) -> str:
    """Mathtext for a node or matrix: s_t; s^{(k)}_t in a deep model; an arrow over backward quantities."""
    text = rf"\overleftarrow{{{name}}}" if backward else name
    if layer is not None:
        # After an arrow, an empty group and a thin space keep the superscript clear of the arrow head.
        text += rf"\,{{}}^{{({layer + 1})}}" if backward else f"^{{({layer + 1})}}"
    if t is not None:
        text += f"_{{{t}}}"
    return f"${text}$"


def _equations(unrolled: UnrolledRNN) -> str:
    if unrolled.cell == "rnn":
        state = rf"$s_t = \{unrolled.nonlinearity}(b + W s_{{t-1}} + U x_t)$"
    else:
        lstm_state = ",  $s_t = (h_t, c_t)$" if unrolled.cell == "lstm" else ""
        state = f"U, W: input and recurrent weights of the gates ({GATES[unrolled.cell]}){lstm_state}"
    # What the output layer reads: the top layer's states, both directions concatenated.
    top = unrolled.num_layers - 1 if unrolled.num_layers > 1 else None
    if unrolled.head == "many_to_many":
        output, read = "o_t", [_symbol("s", "t", top), _symbol("s", "t", top, backward=True)]
    else:
        output, read = "o", [_symbol("s", "T", top), _symbol("s", 1, top, backward=True)]
    states = read[0] if unrolled.num_directions == 1 else f"[{read[0]}; {read[1]}]"
    return f"{state};   ${output} = c + V$ {states}"


def _title(unrolled: UnrolledRNN) -> str:
    steps, layers = unrolled.steps, unrolled.num_layers
    lines = [
        f"{CELL_NAMES[unrolled.cell]} unrolled over T = {steps} step{'s' if steps > 1 else ''}",
        f"{layers} layer{'s' if layers > 1 else ''}, {'bi' if unrolled.num_directions == 2 else 'uni'}directional, "
        f"hidden size {unrolled.hidden_size}, {unrolled.head.replace('_', '-')}",
        _equations(unrolled),
    ]
    if layers > 1 and unrolled.num_directions == 2:
        lines.append("grey arrows: layer k reads both directions of layer k − 1, all through its U")
    return "\n".join(lines)


class _Diagram:
    """Nodes and labelled arrows of the unrolled network on one axes, placed on a grid of time steps (columns)
    and rows; nodes are keyed ("x", t), ("s", layer, direction, t) and ("o", t)."""

    def __init__(self, ax: Axes, unrolled: UnrolledRNN) -> None:
        self.ax, self.nodes = ax, {}
        self.directions, self.column = unrolled.num_directions, COLUMNS[unrolled.num_directions]

    def state_centre(self, layer: int, direction: int, t: int) -> tuple[float, float]:
        shift = (STAGGER if direction else -STAGGER) if self.directions == 2 else 0.0
        return t * self.column + shift, (1 + layer * self.directions + direction) * ROW

    def node(self, key: tuple, centre: tuple[float, float], label: str, kind: str) -> None:
        circle = Circle(centre, RADIUS, facecolor=COLOURS[kind], edgecolor="0.2", lw=1.2)
        if kind == "initial":
            circle.set_linestyle("--")
        self.ax.add_patch(circle)
        self.ax.text(*centre, label, ha="center", va="center", fontsize=12, zorder=3)
        self.nodes[key] = circle

    def edge(self, start: tuple, end: tuple, label: str | None = None, colour: str = "0.25") -> None:
        a, b = self.nodes[start], self.nodes[end]
        arrow = FancyArrowPatch(a.center, b.center, patchA=a, patchB=b, arrowstyle="-|>", mutation_scale=12)
        arrow.set(lw=1.1, color=colour)
        self.ax.add_patch(arrow)
        if label is None:
            return
        # Just before the arrow head: clear of the arrows that cross the middle of long or staggered edges.
        (x0, y0), (x1, y1) = a.center, b.center
        length = math.hypot(x1 - x0, y1 - y0)
        back = (LABEL_DISTANCE + LABEL_HALF_WIDTH * abs(x1 - x0) / length) / length
        box = {"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"}
        self.ax.text(x1 - back * (x1 - x0), y1 - back * (y1 - y0), label, ha="center", va="center", bbox=box)


def _draw_chain(diagram: _Diagram, unrolled: UnrolledRNN, layer: int, direction: int) -> None:
    """One layer's states in one direction: the initial state, s_1 … s_T, their W arrows and the U arrows in."""
    steps, backward = unrolled.steps, direction == 1
    marks = {"layer": layer if unrolled.num_layers > 1 else None, "backward": backward}
    initial = steps + 1 if backward else 0  # the backward chain starts after the last step
    for t in (initial, *range(1, steps + 1)):
        kind = "initial" if t == initial else "s"
        diagram.node(
            ("s", layer, direction, t), diagram.state_centre(layer, direction, t), _symbol("s", t, **marks), kind
        )
    for t in range(1, steps + 1):
        state = ("s", layer, direction, t)
        diagram.edge(("s", layer, direction, t + 1 if backward else t - 1), state, _symbol("W", **marks))
        if layer == 0:
            diagram.edge(("x", t), state, _symbol("U", **marks))
            continue
        for below in range(unrolled.num_directions):
            # The other direction's arrow crosses this one mid-way: grey and unlabelled (the title says why).
            crossing = below != direction
            label, colour = (None, "0.6") if crossing else (_symbol("U", **marks), "0.25")
            diagram.edge(("s", layer - 1, below, t), state, label, colour)


def _draw_outputs(diagram: _Diagram, unrolled: UnrolledRNN) -> None:
    steps, top, row = unrolled.steps, unrolled.num_layers - 1, unrolled.num_layers * unrolled.num_directions + 1
    if unrolled.head == "many_to_many":
        for t in range(1, steps + 1):
            diagram.node(("o", t), (t * diagram.column, row * ROW), _symbol("o", t), "o")
            for direction in range(unrolled.num_directions):
                diagram.edge(("s", top, direction, t), ("o", t), "$V$")
        return
    # One prediction from the final states: the forward chain's at t = T, the backward chain's at t = 1.
    diagram.node(("o",), (steps * diagram.column, row * ROW), "$o$", "o")
    diagram.edge(("s", top, 0, steps), ("o",), "$V$")
    if unrolled.num_directions == 2:
        diagram.edge(("s", top, 1, 1), ("o",), "$V$")


def draw_unrolled(unrolled: UnrolledRNN) -> Figure:
    """The unrolled network as a figure: a column per time step; rows x, s (per layer and direction), o."""
    steps, column = unrolled.steps, COLUMNS[unrolled.num_directions]
    rows = unrolled.num_layers * unrolled.num_directions + 2  # x, the states, o
    fig = Figure(figsize=(1.1 * column * (steps + 2), 1.1 * ROW * rows + 1.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.axis("off")
    diagram = _Diagram(ax, unrolled)
    for t in range(1, steps + 1):
        diagram.node(("x", t), (t * column, 0.0), _symbol("x", t), "x")
    for layer in range(unrolled.num_layers):
        for direction in range(unrolled.num_directions):
            _draw_chain(diagram, unrolled, layer, direction)
    _draw_outputs(diagram, unrolled)
    # Room for the initial states: s_0 before step 1, and the backward chain's after step T.
    last_column = steps + unrolled.num_directions - 1
    ax.set_xlim(-0.7 * column, (last_column + 0.7) * column)
    ax.set_ylim(-0.6 * ROW, (rows - 0.4) * ROW)
    ax.set_title(_title(unrolled), fontsize=11)
    return fig


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format; return the paths."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"cannot write {', '.join(unknown)}; formats must be among {', '.join(FORMATS)}")
    paths = [stem.with_suffix(f".{fmt}") for fmt in formats]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths
