"""The gradient that reaches a sequence's first input at initialisation (rnnlab.analysis.gradient_decay), its
fitted decay per step, and scripts/gradient_at_init.py, which tabulates and draws it."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import pytest
import torch
from helpers import REPO_ROOT

from rnnlab.analysis.gradient_decay import CASES, fit_decay, input_gradient_norm, long_range_inputs
from rnnlab.models import RecurrentBackbone


def _backbone(cell: str, hidden_size: int, impl: str = "fused", input_size: int = 9) -> RecurrentBackbone:
    torch.manual_seed(0)
    return RecurrentBackbone(input_size, hidden_size, cell=cell, impl=impl).double()


def _elman_weights(backbone: RecurrentBackbone) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """U, W and the one bias b of a one-layer vanilla backbone, from either implementation."""
    if backbone.impl == "loop":
        cell = backbone.layers[0][0]
        return cell.U, cell.W, cell.b
    rnn = backbone.rnn
    return rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0


@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_norm_is_the_hand_backpropagated_gradient_at_the_first_input(impl):
    backbone, seq_len, batch = _backbone("rnn", 4, impl, input_size=3), 4, 5
    measured = input_gradient_norm(backbone, seq_len, batch=batch, generator=torch.Generator().manual_seed(7))

    # The same draws, in the same order: the readout w, then the inputs.
    generator = torch.Generator().manual_seed(7)
    w = torch.randn(4, generator=generator, dtype=torch.float64)
    w = w / w.norm()
    x = long_range_inputs(seq_len, 3, batch, generator).double()
    U, W, b = (p.detach() for p in _elman_weights(backbone))
    with torch.no_grad():
        states, s = [], torch.zeros(batch, 4, dtype=torch.float64)
        for t in range(seq_len):
            s = torch.tanh(b + s @ W.T + x[:, t] @ U.T)
            states.append(s)
        # Backward by hand: ∂L/∂s_T = w; through tanh, then W back one step; at step 0 through U to x_0.
        grad_s = w.expand(batch, 4)
        for t in range(seq_len - 1, -1, -1):
            grad_a = grad_s * (1 - states[t] ** 2)
            grad_s = grad_a @ W
        grad_x0 = grad_a @ U
    assert x[:, 0, :2].sum(-1).eq(1).all() and x[:, -1, 2].eq(1).all()  # a cue symbol first, the query last
    assert measured == pytest.approx(float(grad_x0.norm(dim=-1).mean()), rel=1e-12)


def test_small_weights_vanish_geometrically_at_the_fitted_rate():
    backbone = _backbone("rnn", 16)
    with torch.no_grad():
        backbone.rnn.weight_hh_l0.mul_(0.6 / torch.linalg.matrix_norm(backbone.rnn.weight_hh_l0, ord=2))
    lengths = [5, 10, 15, 20, 25, 30]
    rows = [
        {"case": "small", "T": t, "seed": seed, "grad_norm": input_gradient_norm(backbone, t, generator=generator)}
        for seed in (0, 1)
        for t in lengths
        for generator in [torch.Generator().manual_seed(seed)]
    ]
    fit = fit_decay(rows)["small"]
    norms = {t: [row["grad_norm"] for row in rows if row["T"] == t] for t in lengths}
    two_point = (sum(norms[30]) / sum(norms[5])) ** (1 / 25)
    assert fit["rho"] < 0.6  # σ_max(W) = 0.6 bounds every step's factor (tanh' <= 1)
    assert fit["rho"] == pytest.approx(two_point, abs=0.02)
    assert fit["steps_per_decade"] == pytest.approx(math.log(10) / -math.log(fit["rho"]))
    # Geometric: the norm falls by about the same factor every 5 steps.
    ratios = [sum(norms[t + 5]) / sum(norms[t]) for t in lengths[:-1]]
    assert max(ratios) / min(ratios) < 1.5


def test_a_factor_that_does_not_shrink_never_loses_a_decade():
    rows = [{"case": "flat", "T": t, "seed": 0, "grad_norm": 0.5} for t in (10, 20)]
    assert fit_decay(rows)["flat"]["steps_per_decade"] == math.inf


def test_an_open_forget_gate_keeps_far_more_gradient_than_a_closed_one():
    """A behavioural check of the measured quantity: the forget-gate bias is set here by hand, at T = 50."""
    norms = {}
    for forget_bias in (3.0, -3.0):
        backbone = _backbone("lstm", 32)
        with torch.no_grad():
            backbone.rnn.bias_ih_l0[32:64] = forget_bias  # torch's gate order: input, forget, cell, output
            backbone.rnn.bias_hh_l0[32:64] = 0.0
        norms[forget_bias] = input_gradient_norm(backbone, 50, generator=torch.Generator().manual_seed(0))
    assert norms[3.0] > 1e6 * norms[-3.0]


def run_script(tmp_path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RNNLAB_LOG_DIR": str(tmp_path / "logs")}
    return subprocess.run(
        [sys.executable, "scripts/gradient_at_init.py", *overrides],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_script_writes_the_table_the_rows_and_the_picture(tmp_path):
    out = tmp_path / "out"
    result = run_script(tmp_path, "lengths=[5,10]", "seeds=[0]", "batch=4", f"out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    with (out / "gradient_at_init.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert {(row["case"], row["T"], row["seed"]) for row in rows} == {
        (case, t, "0") for case in CASES for t in ("5", "10")
    }
    assert all(float(row["grad_norm"]) > 0 for row in rows)
    table = (out / "gradient_at_init.md").read_text()
    assert "Command: `python scripts/gradient_at_init.py 'lengths=[5,10]' 'seeds=[0]' batch=4" in table
    assert "Seeds: [0]; torch threads: 1" in table
    assert all(f"| {case} |" in table for case in CASES)
    assert "| case | backbone kwargs | ρ per step | steps per ×10 |" in result.stdout
    assert (out / "gradient_at_init.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("lengths=[]", "error: lengths=[] must be at least two different sequence lengths"),
        ("lengths=[0,10]", "error: lengths=[0, 10] must be at least two different sequence lengths, each an integer"),
        ("cases=[rnn,lstn]", "error: cases=['rnn', 'lstn']: unknown ['lstn']; choose from ['rnn', 'lstm',"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_code_2(tmp_path, override, message):
    result = run_script(tmp_path, override, f"out={tmp_path / 'out'}")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(message) and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
