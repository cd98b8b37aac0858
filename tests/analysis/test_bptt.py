"""BPTT by hand against autograd, finite differences and the slides' decompositions, all in float64."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.functional import jacobian

from rnnlab.analysis import (
    bptt_terms,
    bptt_trace,
    manual_bptt,
    manual_bptt_stacked,
    manual_gradients,
    params_from_net,
    per_step_grads,
    state_jacobian,
)
from rnnlab.data import BitsDataModule
from rnnlab.lit.classifier import SequenceClassifier
from rnnlab.models import RecurrentBackbone, RecurrentNet

N, T, INPUT, H, K = 4, 6, 3, 5, 4  # batch, steps, input, hidden and class sizes
SHAPES = {"uni": (1, False), "deep": (2, False), "bi": (1, True), "deep-bi": (2, True)}
DIRECTIONS = ("forward", "backward")
TOL = 1e-10  # relative error allowed between the manual and the autograd gradients


def make_net(shape="uni", impl="loop", *, input_size=INPUT, num_classes=K, head="many_to_many", **backbone_options):
    torch.manual_seed(0)
    num_layers, bidirectional = SHAPES[shape]
    backbone = RecurrentBackbone(input_size, H, num_layers, bidirectional, impl=impl, **backbone_options)
    return RecurrentNet(backbone, head, num_classes).double()


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


def assert_rel_close(actual, expected, path="value"):
    """Same nesting and shapes, and ‖actual − expected‖ ≤ TOL ‖expected‖ for every tensor."""
    if isinstance(expected, Tensor):
        assert actual.shape == expected.shape, path
        error = (actual - expected).norm() / expected.norm()
        assert error <= TOL, f"{path}: relative error {error:.2e}"
    elif isinstance(expected, dict):
        assert actual.keys() == expected.keys(), path
        for key in expected:
            assert_rel_close(actual[key], expected[key], f"{path}[{key!r}]")
    else:
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_rel_close(a, e, f"{path}[{i}]")


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


def random_batch(masked: bool) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(3)
    batch = {
        "input": torch.randn(N, T, INPUT, generator=generator, dtype=torch.float64),
        "target": torch.randint(K, (N, T), generator=generator),
    }
    if masked:
        batch["mask"] = torch.rand(N, T, generator=generator) < 0.6
        batch["target"] = batch["target"].masked_fill(~batch["mask"], -1)  # padding carries garbage targets
    return batch


@pytest.mark.parametrize("masked", [False, True], ids=["full", "mask"])
@pytest.mark.parametrize("shape", ["uni", "deep-bi"])
@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_manual_gradients_equal_autograd_of_the_modules_loss(impl, shape, masked):
    net, batch = make_net(shape, impl), random_batch(masked)
    expected_loss = SequenceClassifier(net, optimizer=torch.optim.SGD).step(batch, "train")
    expected_loss.backward()
    loss, grads = manual_gradients(net, batch["input"], batch["target"], batch.get("mask"))
    assert_rel_close(loss, expected_loss.detach(), "loss")
    assert_rel_close(grads, {name: p.grad for name, p in net.named_parameters()}, "grads")


@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_training_with_manual_gradients_follows_autograd(impl):
    bits = BitsDataModule("flip_stream", 10, {"train": 64, "val": 16, "test": 16}).split("train")
    x, targets = bits["input"].double(), bits["target"]
    autograd_net = make_net("deep-bi", impl, input_size=1, num_classes=2)
    manual_net, start = copy.deepcopy(autograd_net), copy.deepcopy(autograd_net.state_dict())
    module = SequenceClassifier(autograd_net, optimizer=torch.optim.SGD)
    autograd_sgd = torch.optim.SGD(autograd_net.parameters(), lr=0.1)
    manual_sgd = torch.optim.SGD(manual_net.parameters(), lr=0.1)
    for _ in range(5):
        autograd_sgd.zero_grad()
        module.step({"input": x, "target": targets}, "train").backward()
        autograd_sgd.step()
        _, grads = manual_gradients(manual_net, x, targets)
        for name, p in manual_net.named_parameters():
            p.grad = grads[name]
        manual_sgd.step()
    torch.testing.assert_close(manual_net.state_dict(), autograd_net.state_dict(), rtol=0, atol=1e-10)
    assert not torch.equal(manual_net.output.V, start["output.V"])  # the weights did move


@pytest.mark.parametrize(
    "options, message",
    [
        ({"cell": "lstm"}, "cell='lstm'"),
        ({"cell": "gru"}, "cell='gru'"),
        ({"head": "many_to_one"}, "many_to_many"),
        ({"shape": "deep", "dropout": 0.5}, "dropout"),
    ],
)
def test_unsupported_nets_raise_value_error(options, message):
    net, batch = make_net(**options), random_batch(masked=False)
    with pytest.raises(ValueError, match=message):
        manual_gradients(net, batch["input"], batch["target"])
