"""The recurrent backbone and the network: fused/loop parity, padding, dropout, heads and gradients."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from rnnlab.models.backbone import CELLS, IMPLS, RecurrentBackbone, reverse_padded
from rnnlab.models.heads import RecurrentNet

N, T, F, H, K = 3, 5, 4, 6, 7
LENGTHS = torch.tensor([5, 2, 4])  # unsorted, one full-length sequence
SHAPES = {"uni": (1, False), "bi": (1, True), "deep": (2, False), "deep-bi": (2, True)}
SUFFIX = ("", "_reverse")  # torch's parameter-name suffix per direction


def make(impl: str, cell: str = "rnn", shape: str = "uni", seed: int = 0, **kwargs) -> RecurrentBackbone:
    torch.manual_seed(seed)
    num_layers, bidirectional = SHAPES[shape]
    return RecurrentBackbone(F, H, num_layers, bidirectional, cell=cell, impl=impl, **kwargs).double()


def inputs(pad_value: float | None = None) -> torch.Tensor:
    x = torch.randn(N, T, F, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    if pad_value is not None:  # garbage after each length must not leak anywhere
        x[torch.arange(T) >= LENGTHS.unsqueeze(1)] = pad_value
    return x


def select(state, i: int):
    """Sequence i of a final state (layers*directions, N, H), or of the LSTM's (h, c)."""
    return tuple(s[:, i] for s in state) if isinstance(state, tuple) else state[:, i]


@pytest.mark.parametrize("source, target", [("fused", "loop"), ("loop", "fused")])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cell", CELLS)
def test_fused_and_loop_agree_after_loading_each_others_weights(cell, shape, with_lengths, source, target):
    src, dst = make(source, cell, shape, seed=0), make(target, cell, shape, seed=1)
    dst.load_state_dict(src.state_dict())  # strict: the keys are translated on load
    x, lengths = inputs(), LENGTHS if with_lengths else None
    (out_src, final_src), (out_dst, final_dst) = src(x, lengths), dst(x, lengths)
    assert_close(out_dst, out_src, atol=1e-6, rtol=0)
    assert_close(final_dst, final_src, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_fused_and_loop_agree_from_a_given_initial_state(cell):
    fused, loop = make("fused", cell, "deep-bi"), make("loop", cell, "deep-bi", seed=1)
    loop.load_state_dict(fused.state_dict())
    state = torch.randn(4, N, H, dtype=torch.float64)  # layer-major, then direction, as in torch
    state = (state, state.flip(0)) if cell == "lstm" else state
    assert_close(loop(inputs(), LENGTHS, state), fused(inputs(), LENGTHS, state), atol=1e-6, rtol=0)


def test_loop_rnn_single_bias_is_the_sum_of_torchs_two_biases():
    fused, loop = make("fused", "rnn", "deep-bi"), make("loop", "rnn", "deep-bi", seed=1)
    loop.load_state_dict(fused.state_dict())
    for k, layer in enumerate(loop.layers):
        for d, cell in enumerate(layer):
            fused_param = lambda name, k=k, d=d: getattr(fused.rnn, f"{name}_l{k}{SUFFIX[d]}")  # noqa: E731
            assert_close(cell.U, fused_param("weight_ih"))
            assert_close(cell.W, fused_param("weight_hh"))
            assert_close(cell.b, fused_param("bias_ih") + fused_param("bias_hh"))


@pytest.mark.parametrize("shape", ["bi", "deep-bi"])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("impl", IMPLS)
def test_padded_batch_equals_each_sequence_run_alone(impl, cell, shape):
    backbone = make(impl, cell, shape)
    out, final = backbone(inputs(pad_value=100.0), LENGTHS)
    for i, n in enumerate(LENGTHS.tolist()):
        alone_out, alone_final = backbone(inputs()[i : i + 1, :n])
        assert_close(out[i, :n], alone_out[0])
        assert_close(select(final, i), select(alone_final, 0))
        assert not out[i, n:].any(), "padded positions must output zero"


def test_reverse_padded_reverses_within_length_and_keeps_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]])
    x = torch.stack([x, -x], dim=-1)  # a feature dimension travels with its time step
    expected = torch.tensor([[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]])
    assert torch.equal(reverse_padded(x, torch.tensor([3, 2, 4])), torch.stack([expected, -expected], dim=-1))
    assert torch.equal(reverse_padded(x, None), x.flip(1))


@pytest.mark.parametrize("impl", IMPLS)
def test_dropout_is_off_in_eval_mode(impl):
    backbone = make(impl, shape="deep", dropout=0.5).eval()
    assert torch.equal(backbone(inputs())[0], backbone(inputs())[0])


@pytest.mark.parametrize("impl", IMPLS)
def test_dropout_acts_between_layers_in_train_mode(impl):
    backbone = make(impl, shape="deep", dropout=0.5).train()
    (out_a, final_a), (out_b, final_b) = backbone(inputs()), backbone(inputs())
    assert not torch.allclose(out_a, out_b)
    assert torch.equal(final_a[0], final_b[0])  # the first layer reads the raw inputs: no dropout there
    assert not torch.allclose(final_a[1], final_b[1])


@pytest.mark.parametrize(
    "head, num_outputs, expected",
    [("many_to_many", None, (N, T, K)), ("many_to_one", None, (N, K)), ("many_to_many", 2, (N, T, 2, K)),
     ("many_to_one", 2, (N, 2, K))],
)  # fmt: skip
@pytest.mark.parametrize("shape", ["uni", "deep-bi"])
@pytest.mark.parametrize("impl", IMPLS)
def test_recurrent_net_output_shapes(impl, shape, head, num_outputs, expected):
    net = RecurrentNet(make(impl, "gru", shape), head, K, num_outputs).double()
    assert net(inputs(), LENGTHS).shape == expected


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("impl", IMPLS)
def test_many_to_one_reads_forward_last_valid_and_backward_step_zero(impl, cell):
    net = RecurrentNet(make(impl, cell, "deep-bi"), "many_to_one", K).double()
    out, final = net.backbone(inputs(), LENGTHS)
    features = net.backbone.final_features(final)
    assert_close(net(inputs(), LENGTHS), net.output(features))
    for i, n in enumerate(LENGTHS.tolist()):
        assert_close(features[i], torch.cat([out[i, n - 1, :H], out[i, 0, H:]]))


def test_recurrent_net_state_dict_loads_across_impls():
    # Checkpoints hold the backbone under a prefix ("backbone."); the translation must still apply.
    fused = RecurrentNet(make("fused", "lstm", "deep-bi"), "many_to_one", K).double()
    loop = RecurrentNet(make("loop", "lstm", "deep-bi", seed=1), "many_to_one", K).double()
    loop.load_state_dict(fused.state_dict())
    assert_close(loop(inputs(), LENGTHS), fused(inputs(), LENGTHS), atol=1e-6, rtol=0)


def test_invalid_head_raises_value_error():
    with pytest.raises(ValueError, match="many_to_many"):
        RecurrentNet(make("fused"), "one_to_many", K)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("impl", IMPLS)
def test_every_parameter_gets_a_finite_gradient(impl, cell):
    net = RecurrentNet(make(impl, cell, "deep-bi"), "many_to_many", K).double()
    logits = net(inputs(), LENGTHS)
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.randint(K, (N * T,))).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_loop_and_fused_gradients_agree_for_the_same_weights():
    fused, loop = make("fused", "rnn", "deep-bi"), make("loop", "rnn", "deep-bi", seed=1)
    loop.load_state_dict(fused.state_dict())
    for backbone in (fused, loop):
        out, final = backbone(inputs(), LENGTHS)
        (out.pow(2).sum() + final.sum()).backward()
    for k, layer in enumerate(loop.layers):
        for d, cell in enumerate(layer):
            grad = lambda name, k=k, d=d: getattr(fused.rnn, f"{name}_l{k}{SUFFIX[d]}").grad  # noqa: E731
            assert_close(cell.U.grad, grad("weight_ih"))
            assert_close(cell.W.grad, grad("weight_hh"))
            # b = bias_ih + bias_hh, so all three receive the same gradient.
            assert_close(cell.b.grad, grad("bias_ih"))
            assert_close(cell.b.grad, grad("bias_hh"))
