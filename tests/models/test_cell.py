"""The recurrent cells: the Elman cell is the lecture's slide, the LSTM/GRU cells are torch's own cells."""

from __future__ import annotations

import re

import pytest
import torch

from rnnlab.models.backbone import RecurrentBackbone
from rnnlab.models.cell import ElmanCell, GRUCell, LSTMCell, make_cell

N, F, H = 3, 4, 5


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64)


def test_elman_cell_parameters_are_the_slides_U_W_b():
    cell = ElmanCell(F, H)
    shapes = {name: tuple(p.shape) for name, p in cell.named_parameters()}
    assert shapes == {"U": (H, F), "W": (H, H), "b": (H,)}


@pytest.mark.parametrize("nonlinearity, f", [("tanh", torch.tanh), ("relu", torch.relu)])
def test_elman_cell_is_the_slide_formula(nonlinearity, f):
    torch.manual_seed(0)
    cell = ElmanCell(F, H, nonlinearity).double()
    # Unroll a few steps so that W s_{t-1} acts on a non-zero state too.
    xs, s_cell = _randn(4, N, F), torch.zeros(N, H, dtype=torch.float64)
    s_hand = [torch.zeros(H, dtype=torch.float64) for _ in range(N)]
    for x_t in xs:
        out, s_cell = cell(x_t, s_cell)
        # The slide, one sequence at a time, matrix times column vector: a_t = b + W s_{t-1} + U x_t; s_t = f(a_t).
        s_hand = [f(cell.b + cell.W @ s_hand[n] + cell.U @ x_t[n]) for n in range(N)]
        torch.testing.assert_close(s_cell, torch.stack(s_hand))
        torch.testing.assert_close(out, s_cell)  # the cell's output is its state
    if nonlinearity == "relu":
        assert (s_cell >= 0).all()


@pytest.mark.parametrize("ours, reference", [(LSTMCell, torch.nn.LSTMCell), (GRUCell, torch.nn.GRUCell)])
def test_gated_cell_step_equals_torch_cell_with_copied_weights(ours, reference):
    torch.manual_seed(0)
    ref = reference(F, H).double()
    cell = ours(F, H).double()
    # Same parameter names and shapes as torch's cell: a strict load copies every weight.
    cell.load_state_dict(ref.state_dict())
    x = _randn(N, F)
    if ours is LSTMCell:
        h0, c0 = _randn(N, H), _randn(N, H)
        out, (h, c) = cell(x, (h0, c0))
        h_ref, c_ref = ref(x, (h0, c0))
        torch.testing.assert_close(c, c_ref)
    else:
        h0 = _randn(N, H)
        out, h = cell(x, h0)
        h_ref = ref(x, h0)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(out, h_ref)


@pytest.mark.parametrize("cell", [ElmanCell, LSTMCell, GRUCell])
def test_initial_state_is_zero_and_matches_input_dtype(cell):
    like = _randn(N, F)
    state = cell(F, H).initial_state(N, like)
    for s in state if isinstance(state, tuple) else (state,):
        assert s.shape == (N, H) and s.dtype == torch.float64 and not s.any()


@pytest.mark.parametrize(
    "build, allowed",
    [
        (lambda: ElmanCell(F, H, "sigmoid"), ["relu", "tanh"]),
        (lambda: make_cell("rnn", F, H, "sigmoid"), ["relu", "tanh"]),
        (lambda: make_cell("transformer", F, H), ["gru", "lstm", "rnn"]),
        (lambda: RecurrentBackbone(F, H, cell="transformer"), ["rnn", "lstm", "gru"]),
        (lambda: RecurrentBackbone(F, H, impl="jit"), ["fused", "loop"]),
    ],
    ids=["elman-nonlinearity", "make_cell-nonlinearity", "make_cell-cell", "backbone-cell", "backbone-impl"],
)
def test_bad_choice_raises_value_error_listing_the_allowed_values(build, allowed):
    with pytest.raises(ValueError, match=re.escape(str(allowed))):
        build()
