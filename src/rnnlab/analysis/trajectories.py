"""Hidden-state trajectories: a network's states s_1 … s_T over time, for many sequences, projected to the plane of
their two principal components (PCA by SVD, in float64).

For problem 4 (``flip_if_same``) the closed form ``o_t = (t + 1 + o_{−1}) mod 2`` says the target alternates
whatever the input, so a network that solved it needs no more than a two-state oscillator: its states should
jump between two regions, one per output bit, at every step. The figure shows whether they do: each sequence is a
grey path from the initial state s_0 = 0, each state a dot coloured by the target o_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from rnnlab.models import RecurrentNet

OUTPUT_COLOURS = {0: "#2166ac", 1: "#b2182b"}
NUMBERED = 4  # steps of sequence 0 whose dots are numbered


@torch.no_grad()
def hidden_states(net: RecurrentNet, x: Tensor, lengths: Tensor | None = None) -> Tensor:
    """(N, T, directions × H): the top layer's states for inputs ``x`` (N, T, input_size)."""
    if net.encoder is not None:
        x = net.encoder(x)
    outputs, _ = net.backbone(x, lengths)
    return outputs


@dataclass(frozen=True)
class Projection:
    """The plane of the two largest principal components of a set of states."""

    mean: Tensor  # (H,)
    components: Tensor  # (H, 2), orthonormal columns
    explained: Tensor  # (2,): the share of the states' variance each component holds

    def __call__(self, states: Tensor) -> Tensor:
        """(..., H) → (..., 2)."""
        return (states.double() - self.mean) @ self.components


def principal_plane(states: Tensor) -> Projection:
    """PCA of ``states`` (M, H) by the SVD of the centred states. Each component's sign is fixed so that its
    largest loading is positive: the same states always give the same picture."""
    states = states.double().reshape(-1, states.size(-1))
    mean = states.mean(0)
    _, singular, vt = torch.linalg.svd(states - mean, full_matrices=False)
    components = vt[:2].T.clone()
    if components.size(1) < 2:  # one hidden unit: the plane's second axis holds nothing
        components = torch.cat([components, torch.zeros_like(components)], dim=1)
    signs = torch.sign(components[components.abs().argmax(0), torch.arange(2)])
    components *= torch.where(signs == 0, 1.0, signs)
    variance = singular.square()
    explained = torch.zeros(2, dtype=torch.float64)
    shares = variance[:2] / variance.sum().clamp_min(1e-300)
    explained[: len(shares)] = shares
    return Projection(mean, components, explained)


def separation(points: Tensor, targets: Tensor) -> float:
    """The share of states on their own target's side of the first component, split half-way between the two
    targets' mean positions: 1.0 when the first component alone tells o_t = 1 from o_t = 0."""
    first = points[..., 0].reshape(-1)
    targets = targets.reshape(-1)
    ones, zeros = first[targets == 1], first[targets == 0]
    if not len(ones) or not len(zeros):
        return float("nan")
    middle, ones_above = (ones.mean() + zeros.mean()) / 2, bool(ones.mean() > zeros.mean())
    right = (
        (ones > middle).sum() + (zeros <= middle).sum()
        if ones_above
        else (ones < middle).sum() + (zeros >= middle).sum()
    )
    return float(right) / len(first)


def trajectory_figure(states: Tensor, targets: Tensor | None = None, title: str = "") -> Figure:
    """``states`` (N, T, H) projected on their principal plane: a grey path per sequence from s_0 = 0, a dot per
    state coloured by its target bit (by the time step without ``targets``), the first steps of sequence 0 numbered."""
    projection = principal_plane(states)
    points = projection(states)
    start = projection(torch.zeros(states.size(-1), dtype=torch.float64))
    fig = Figure(figsize=(6.4, 5.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for path in points:
        full = torch.cat([start.unsqueeze(0), path])
        ax.plot(full[:, 0], full[:, 1], color="0.75", lw=0.6, zorder=1)
    flat = points.reshape(-1, 2)
    if targets is not None:
        bits = targets.reshape(-1).long()
        for bit, colour in OUTPUT_COLOURS.items():
            chosen = flat[bits == bit]
            ax.scatter(chosen[:, 0], chosen[:, 1], s=14, color=colour, label=f"target o_t = {bit}", zorder=2)
    else:
        steps = torch.arange(1, states.size(1) + 1).repeat(states.size(0))
        scatter = ax.scatter(flat[:, 0], flat[:, 1], c=steps, cmap="viridis", s=14, zorder=2)
        fig.colorbar(scatter, ax=ax, label="time step t")
    ax.scatter([start[0]], [start[1]], marker="*", s=160, color="black", label="s_0 = 0", zorder=3)
    # The order of one sequence's first visits (later ones land on the same spots and would overprint them).
    for t, (px, py) in enumerate(points[0, :NUMBERED].tolist(), start=1):
        ax.annotate(str(t), (px, py), textcoords="offset points", xytext=(4, 4), fontsize=7)
    first, second = (100 * projection.explained).tolist()
    ax.set_xlabel(f"principal component 1 ({first:.1f} % of the variance)")
    ax.set_ylabel(f"principal component 2 ({second:.1f} %)")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title or f"hidden states of {states.size(0)} sequences over {states.size(1)} steps", fontsize=10)
    fig.tight_layout()
    return fig
