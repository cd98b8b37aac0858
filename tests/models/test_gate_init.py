"""Gate initialisation: a forget bias written once (not doubled), chrono's bounds, torch's init untouched by
default, loop and fused interchangeable, and one-line errors for what cannot apply."""

from __future__ import annotations

import math

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models.backbone import RecurrentBackbone
from rnnlab.models.gate_init import check_gate_init, effective_gate_biases, gate_bias_summary, init_gates_

IMPLS = ("fused", "loop")
GATED = ("lstm", "gru")
KEEP = {"lstm": "forget", "gru": "update"}


def backbone(cell: str, impl: str, **gates) -> RecurrentBackbone:
    # Two layers, both directions: every layer and direction must be set.
    return RecurrentBackbone(3, 5, num_layers=2, bidirectional=True, cell=cell, impl=impl, **gates)


def keys(cell: str) -> set[str]:
    gates = ("input", "forget") if cell == "lstm" else ("update",)
    return {f"l{k}.{d}.{g}" for k in (0, 1) for d in ("forward", "backward") for g in gates}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", GATED)
def test_the_forget_bias_is_the_effective_bias_of_every_layer_and_direction_not_doubled(cell, impl):
    biases = effective_gate_biases(backbone(cell, impl, forget_bias=1.5))
    assert set(biases) == keys(cell)
    for key, value in biases.items():
        if key.endswith(KEEP[cell]):
            torch.testing.assert_close(value, torch.full((5,), 1.5))
    assert gate_bias_summary(backbone(cell, impl, forget_bias=1.5))[KEEP[cell]] == pytest.approx(1.5)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", GATED)
def test_the_forget_bias_leaves_every_other_parameter_as_torch_drew_it(cell, impl):
    torch.manual_seed(0)
    plain = backbone(cell, impl).state_dict()
    torch.manual_seed(0)
    gated = backbone(cell, impl, forget_bias=1.0).state_dict()
    keep_rows = slice(5, 10)  # block 1 of H = 5 rows: the forget gate of (i, f, g, o), the update gate of (r, z, n)
    for name, value in gated.items():
        expected = plain[name].clone()
        if "bias" in name:
            expected[keep_rows] = value[keep_rows]
        assert torch.equal(value, expected), name


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", ("rnn", *GATED))
def test_default_gate_init_keeps_torchs_weights_and_random_stream(cell, impl):
    torch.manual_seed(0)
    plain = backbone(cell, impl).state_dict()
    after_plain = torch.rand(1)
    torch.manual_seed(0)
    default = backbone(cell, impl, forget_bias=None, gate_init="default", chrono_tmax=None).state_dict()
    assert torch.equal(torch.rand(1), after_plain)
    assert plain.keys() == default.keys()
    assert all(torch.equal(plain[k], default[k]) for k in plain)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", GATED)
def test_chrono_draws_the_keep_bias_in_log_1_to_tmax_minus_1_and_the_lstm_input_bias_its_negative(cell, impl):
    tmax = 50
    net = backbone(cell, impl)
    init_gates_(net, gate_init="chrono", chrono_tmax=tmax, generator=torch.Generator().manual_seed(0))
    biases = effective_gate_biases(net)
    keep = torch.cat([v for k, v in biases.items() if k.endswith(KEEP[cell])])
    assert (keep > 0).all() and (keep <= math.log(tmax - 1)).all()
    assert keep.unique().numel() == keep.numel()  # drawn per unit, not one value
    if cell == "lstm":
        for key, value in biases.items():
            if key.endswith("forget"):
                torch.testing.assert_close(biases[key.replace("forget", "input")], -value)


@pytest.mark.parametrize("cell", GATED)
def test_chrono_with_equal_generators_gives_fused_and_loop_equal_biases(cell):
    nets = [backbone(cell, impl) for impl in IMPLS]
    for net in nets:
        init_gates_(net, gate_init="chrono", chrono_tmax=20, generator=torch.Generator().manual_seed(3))
    fused, loop = (effective_gate_biases(net) for net in nets)
    assert all(torch.equal(fused[k], loop[k]) for k in fused)


@pytest.mark.parametrize("gates", [{"forget_bias": 2.0}, {"gate_init": "chrono", "chrono_tmax": 30}])
@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize(("source", "target"), [("fused", "loop"), ("loop", "fused")])
def test_a_gate_initialised_net_loads_into_the_other_implementation_with_equal_outputs(cell, source, target, gates):
    torch.manual_seed(0)
    trained = backbone(cell, source, **gates)
    twin = backbone(cell, target)
    twin.load_state_dict(trained.state_dict())
    x = torch.randn(4, 7, 3)
    torch.testing.assert_close(twin(x)[0], trained(x)[0])
    assert gate_bias_summary(twin) == pytest.approx(gate_bias_summary(trained))


def test_the_vanilla_cell_has_no_gate_biases_to_report():
    net = RecurrentBackbone(3, 5)
    assert effective_gate_biases(net) == {} and gate_bias_summary(net) == {}


@pytest.mark.parametrize(
    ("cell", "forget_bias", "gate_init", "chrono_tmax", "message"),
    [
        ("rnn", None, "chrono", 10, r"model.gate_init=chrono applies to gated cells \(lstm, gru\); model.cell=rnn "),
        ("rnn", 1.0, "default", None, r"model.forget_bias=1.0 applies to gated cells \(lstm, gru\); model.cell=rnn"),
        ("lstm", None, "chrono", -3, r"model.chrono_tmax=-3 must be > 2"),
        ("gru", None, "chrono", 2, r"model.chrono_tmax=2 must be > 2"),
        ("lstm", None, "orthogonal", None, r"model.gate_init='orthogonal' is not one of default, chrono"),
        ("lstm", 1.0, "chrono", 10, r"model.forget_bias=1.0 with model.gate_init=chrono: chrono sets the forget"),
        ("lstm", None, "default", 10, r"model.chrono_tmax=10 is read by model.gate_init=chrono only"),
        ("gru", float("nan"), "default", None, r"model.forget_bias=nan must be a finite number"),
    ],
)
def test_gate_inits_that_cannot_apply_are_refused_naming_the_key(cell, forget_bias, gate_init, chrono_tmax, message):
    with pytest.raises(ConfigError, match=message):
        check_gate_init(cell, forget_bias, gate_init, chrono_tmax)
    with pytest.raises(ValueError, match=message):  # the backbone refuses them too
        RecurrentBackbone(3, 5, cell=cell, forget_bias=forget_bias, gate_init=gate_init, chrono_tmax=chrono_tmax)


def test_chrono_without_tmax_passes_the_config_check_but_not_the_backbone():
    check_gate_init("lstm", None, "chrono", None)  # null: the run layer derives it from the sequence length
    with pytest.raises(ValueError, match="gate_init='chrono' needs chrono_tmax"):
        RecurrentBackbone(3, 5, cell="lstm", gate_init="chrono")
