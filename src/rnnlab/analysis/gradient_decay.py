"""Gradient at initialisation: how much of a loss on the final state reaches the sequence's first input.

A long-range task fails for one of two reasons: the gradient that would teach the network to keep the cue never
arrives (it shrinks geometrically with the distance), or it arrives and the optimiser still does not use it. This
module measures the first without any training: for an untrained backbone and a sequence of length T it computes
‖∂L/∂x_0‖, the gradient that reaches the cue, and fits its per-step decay ``‖g‖ ≈ e^a · ρ^T`` over T.

:data:`CASES` lists the cells and gate initialisations compared, as ``RecurrentBackbone`` keyword arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from rnnlab.models import RecurrentBackbone

# name → RecurrentBackbone keyword arguments. A "chrono" case without chrono_tmax gets the longest T measured.
CASES: dict[str, dict[str, Any]] = {
    "rnn": {"cell": "rnn", "nonlinearity": "tanh"},
    "lstm": {"cell": "lstm"},
    "lstm_forget1": {"cell": "lstm", "forget_bias": 1.0},
    "lstm_chrono": {"cell": "lstm", "gate_init": "chrono"},
    "gru": {"cell": "gru"},
    "gru_chrono": {"cell": "gru", "gate_init": "chrono"},
}
DEFAULT_BATCH = 64


def long_range_inputs(seq_len: int, input_size: int, batch: int, generator: torch.Generator) -> Tensor:
    """One-hot inputs (batch, seq_len, input_size) laid out like task=long_range's: random symbols among the first
    ``input_size − 1`` channels at steps 0 … T − 2 (step 0 is the cue), the query marker (last channel) at T − 1."""
    if seq_len < 2 or input_size < 2:
        raise ValueError(f"need seq_len >= 2 (cue … query) and input_size >= 2, got {seq_len} and {input_size}")
    tokens = torch.randint(0, input_size - 1, (batch, seq_len), generator=generator)
    tokens[:, -1] = input_size - 1
    return torch.nn.functional.one_hot(tokens, input_size)


def input_gradient_norm(
    backbone: RecurrentBackbone, seq_len: int, *, batch: int = DEFAULT_BATCH, generator: torch.Generator
) -> float:
    """Mean over ``batch`` random sequences of ‖∂L/∂x_0‖ for L = ⟨w, h_T⟩, w a random unit vector (drawn first
    from ``generator``, so the same for every T) and h_T the last layer's final hidden state.

    Why this quantity: training can only learn to keep the cue if the loss at the end sends a signal back to step
    0. The weights that read the cue receive δ_0 x_0ᵀ, with δ_0 the gradient at step 0's pre-activations, and
    ∂L/∂x_0 = Uᵀ δ_0 is that same signal seen through the (fixed, at initialisation) input weights: where it is
    ~0, no optimiser can find the cue, however long it trains. A linear L isolates the recurrence's own factor
    from a loss function's. The computation runs in the backbone's dtype; use float64 for long sequences, where
    float32 underflows."""
    param = next(backbone.parameters())
    w = torch.randn(backbone.output_size, generator=generator, dtype=param.dtype)
    w = (w / w.norm()).to(param.device)
    x = long_range_inputs(seq_len, backbone.input_size, batch, generator).to(param)
    x.requires_grad_(True)
    _, final_state = backbone(x)
    # Summed over examples: each example's gradient is then its own ∂L/∂x_0 (the examples do not interact).
    loss = (backbone.final_features(final_state) @ w).sum()
    (grad,) = torch.autograd.grad(loss, x)
    return float(grad[:, 0].norm(dim=-1).mean())


def resolve_cases(
    cases: Sequence[str] | Mapping[str, Mapping[str, Any]], chrono_tmax: float | None
) -> dict[str, dict[str, Any]]:
    """Names from :data:`CASES` (or a name → kwargs mapping) as backbone kwargs; chrono cases without a
    ``chrono_tmax`` get the one given here."""
    if isinstance(cases, Mapping):
        table = {name: dict(kwargs) for name, kwargs in cases.items()}
    else:
        unknown = [name for name in cases if name not in CASES]
        if unknown:
            raise ValueError(f"unknown cases {unknown}; choose from {list(CASES)}")
        table = {name: dict(CASES[name]) for name in cases}
    for kwargs in table.values():
        if kwargs.get("gate_init") == "chrono" and kwargs.get("chrono_tmax") is None:
            kwargs["chrono_tmax"] = chrono_tmax
    return table


def make_backbone(kwargs: Mapping[str, Any], hidden_size: int, input_size: int, seed: int) -> RecurrentBackbone:
    """A float64 backbone initialised from ``seed``, without touching the global random stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = RecurrentBackbone(input_size, hidden_size, **kwargs)
    return backbone.double()


def measure(
    cases: Sequence[str] | Mapping[str, Mapping[str, Any]],
    lengths: Sequence[int],
    seeds: Sequence[int],
    hidden_size: int,
    input_size: int,
    *,
    batch: int = DEFAULT_BATCH,
    chrono_tmax: float | None = None,
) -> list[dict[str, Any]]:
    """One row ``{case, T, seed, grad_norm}`` per case, length and seed. A seed fixes the network (one per case and
    seed, measured at every T), the readout w and the inputs; chrono cases use ``chrono_tmax``, by default the
    longest T."""
    table = resolve_cases(cases, chrono_tmax if chrono_tmax is not None else max(lengths))
    rows = []
    for case, kwargs in table.items():
        for seed in seeds:
            backbone = make_backbone(kwargs, hidden_size, input_size, seed)
            for seq_len in lengths:
                generator = torch.Generator().manual_seed(seed)
                norm = input_gradient_norm(backbone, seq_len, batch=batch, generator=generator)
                rows.append({"case": case, "T": seq_len, "seed": seed, "grad_norm": norm})
    return rows


def steps_per_decade(rho: float) -> float:
    """The steps over which the gradient shrinks tenfold: ln 10 / (−ln ρ); inf when it does not shrink."""
    return math.log(10) / -math.log(rho) if rho < 1 else math.inf


def fit_decay(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per case, the least-squares line log‖g‖ = a + T·log ρ through every seed's points: ``{rho, intercept,
    steps_per_decade, points}``. Zero or non-finite norms (underflow, overflow) carry no slope and are left out;
    with fewer than two distinct T left, rho is nan."""
    fits = {}
    for case in dict.fromkeys(row["case"] for row in rows):
        points = [
            (float(row["T"]), math.log(row["grad_norm"]))
            for row in rows
            if row["case"] == case and 0 < row["grad_norm"] < math.inf
        ]
        t = torch.tensor([p[0] for p in points], dtype=torch.float64)
        log_g = torch.tensor([p[1] for p in points], dtype=torch.float64)
        if len(t.unique()) < 2:
            fits[case] = {"rho": math.nan, "intercept": math.nan, "steps_per_decade": math.nan, "points": len(t)}
            continue
        slope = float(((t - t.mean()) * (log_g - log_g.mean())).sum() / ((t - t.mean()) ** 2).sum())
        rho = math.exp(slope)
        fits[case] = {
            "rho": rho,
            "intercept": float(log_g.mean()) - slope * float(t.mean()),
            "steps_per_decade": steps_per_decade(rho),
            "points": len(t),
        }
    return fits
