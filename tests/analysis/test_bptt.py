"""BPTT by hand against autograd, finite differences and the slides' decompositions, all in float64."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from helpers.bptt import INPUT, SHAPES, H, K, T, assert_rel_close, make_net
from torch import Tensor
from torch.autograd.functional import jacobian

from rnnlab.analysis import bptt_terms, bptt_trace, manual_bptt, manual_bptt_stacked, per_step_grads, state_jacobian
from rnnlab.analysis.bptt import DIRECTIONS
from rnnlab.lit.manual_bptt import params_from_net
from rnnlab.models import RecurrentNet


def sequence() -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(T, INPUT, generator=generator, dtype=torch.float64), torch.randint(K, (T,), generator=generator)


def initial_state() -> Tensor:
    return torch.randn(H, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def single_layer(params: dict) -> dict[str, Tensor]:
    """The flat {U, W, b, V, c} of a one-layer unidirectional net's nested parameters (or gradients)."""
    return {**params["layers"][0]["forward"], "V": params["V"], "c": params["c"]}


def slide_rnn(nonlinearity="tanh"):
    """The slides' one-layer RNN as a loop net, its flat parameters, a sequence and a nonzero s_{−1}."""
    net = make_net(nonlinearity=nonlinearity)
    return net, single_layer(params_from_net(net)), *sequence(), initial_state()


def autograd_loss(net: RecurrentNet, x: Tensor, targets: Tensor, s0: Tensor | None = None) -> Tensor:
    """E = Σ_t E_t of one sequence through the project's network."""
    state = None if s0 is None else s0.view(1, 1, H)
    outputs, _ = net.backbone(x.unsqueeze(0), state=state)
    return F.cross_entropy(net.output(outputs)[0], targets, reduction="sum")


def autograd_grads(net: RecurrentNet) -> dict:
    """A loop net's .grad, nested like params_from_net's output."""
    layers = [
        {DIRECTIONS[d]: {p: getattr(cell, p).grad for p in "UWb"} for d, cell in enumerate(layer)}
        for layer in net.backbone.layers
    ]
    return {"layers": layers, "V": net.output.V.grad, "c": net.output.c.grad}


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("with_s0", [False, True], ids=["s0=0", "s0!=0"])
def test_manual_bptt_equals_autograd_on_the_projects_cell(with_s0, nonlinearity):
    net, params, x, targets, s0 = slide_rnn(nonlinearity)
    s0 = s0 if with_s0 else None
    loss, grads = manual_bptt(params, x, targets, s0, nonlinearity=nonlinearity)
    expected_loss = autograd_loss(net, x, targets, s0)
    expected_loss.backward()
    assert_rel_close(loss, expected_loss.detach(), "loss")
    assert_rel_close(grads, single_layer(autograd_grads(net)), "grads")


@pytest.mark.parametrize("shape", SHAPES)
def test_manual_bptt_stacked_equals_autograd(shape):
    net, (x, targets) = make_net(shape), sequence()
    loss, grads = manual_bptt_stacked(params_from_net(net), x, targets)
    expected_loss = autograd_loss(net, x, targets)
    expected_loss.backward()
    assert_rel_close(loss, expected_loss.detach(), "loss")
    assert_rel_close(grads, autograd_grads(net), "grads")


def central_difference(loss_of, leaf: Tensor, index: int, eps: float = 1e-6) -> float:
    """(E(θ + ε) − E(θ − ε)) / 2ε for one entry of a parameter, changed in place and then restored."""
    entry = leaf.view(-1)
    original = entry[index].item()
    entry[index] = original + eps
    plus = loss_of()
    entry[index] = original - eps
    minus = loss_of()
    entry[index] = original
    return (plus - minus).item() / (2 * eps)


def at(tree, path: tuple):
    for key in path:
        tree = tree[key]
    return tree


STACKED_PATHS = [("layers", 0, "forward", "U"), ("layers", 0, "backward", "W"), ("layers", 1, "backward", "b")]


@pytest.mark.parametrize("case", ["single layer, s0!=0", "deep bidirectional"])
def test_gradient_entries_match_central_differences(case):
    x, targets = sequence()
    if case == "deep bidirectional":
        params, paths = params_from_net(make_net("deep-bi")), [*STACKED_PATHS, ("V",), ("c",)]
        run = functools.partial(manual_bptt_stacked, params, x, targets)
    else:
        _, params, _, _, s0 = slide_rnn()
        paths = [("U",), ("W",), ("b",), ("V",), ("c",)]
        run = functools.partial(manual_bptt, params, x, targets, s0)
    _, grads = run()
    for path in paths:
        leaf, grad = at(params, path), at(grads, path).reshape(-1)
        for index in (0, leaf.numel() // 2, leaf.numel() - 1):
            numeric = central_difference(lambda: run()[0], leaf, index)
            assert numeric == pytest.approx(grad[index].item(), rel=1e-6, abs=1e-8), (path, index)


def test_the_gradient_is_the_sum_over_time_of_the_per_step_gradients():
    _, params, x, targets, s0 = slide_rnn()
    per_step = per_step_grads(params, x, targets, s0)
    assert per_step["W"].shape == (T, H, H)
    assert_rel_close(
        {name: grads.sum(dim=0) for name, grads in per_step.items()}, manual_bptt(params, x, targets, s0)[1]
    )


@pytest.mark.parametrize("t", [0, 3, T - 1])
def test_dEt_dW_is_the_slides_sum_over_k_of_the_paths_through_s_k(t):
    net, params, x, targets, s0 = slide_rnn()
    terms = bptt_terms(params, x, targets, t, s0)
    outputs, _ = net.backbone(x.unsqueeze(0), state=s0.view(1, 1, H))
    E_t = F.cross_entropy(net.output(outputs)[0, t], targets[t])
    (expected,) = torch.autograd.grad(E_t, net.backbone.layers[0][0].W)
    assert terms.shape == (t + 1, H, H)
    assert_rel_close(terms.sum(dim=0), expected, "Σ_k terms")
    assert_rel_close(per_step_grads(params, x, targets, s0)["W"][t], expected, "per_step_grads")
    # From s_{−1} = 0, W's use at step 0 multiplies a zero state: the k = 0 path adds nothing.
    assert torch.all(bptt_terms(params, x, targets, t)[0] == 0)


def test_dE_ds_states_and_probs_match_a_hand_forward_with_the_projects_cell():
    net, params, x, targets, s0 = slide_rnn()
    cell, s, states = net.backbone.layers[0][0], s0, []
    for x_t in x:
        s, _ = cell(x_t, s)
        s.retain_grad()
        states.append(s)
    logits = net.output(torch.stack(states))
    F.cross_entropy(logits, targets, reduction="sum").backward()
    trace = bptt_trace(params, x, targets, s0)
    assert_rel_close(trace.states, torch.stack(states).detach(), "states")
    assert_rel_close(trace.probs, logits.softmax(dim=-1).detach(), "probs")
    assert_rel_close(trace.dE_ds, torch.stack([s.grad for s in states]), "dE_ds")


@pytest.mark.parametrize("t, k", [(4, 1), (T - 1, 0), (3, 3)])
def test_state_jacobian_matches_autograd_functional_jacobian(t, k):
    net, params, x, targets, s0 = slide_rnn()
    cell, states = net.backbone.layers[0][0], bptt_trace(params, x, targets, s0).states

    def s_t_from_s_k(s_k):
        for j in range(k + 1, t + 1):
            s_k, _ = cell(x[j], s_k)
        return s_k

    assert_rel_close(state_jacobian(params, states, t, k), jacobian(s_t_from_s_k, states[k]))
