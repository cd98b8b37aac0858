"""The unrolled network computes the RNN's outputs with the RNN's own (shared) weights; scripts/unroll.py
draws it and logs it from a trained checkpoint."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import torch
from helpers import QUIET, REPO_ROOT, compose_config
from matplotlib.text import Text

from rnnlab.analysis.render import draw_unrolled, save_figure
from rnnlab.analysis.unroll import unroll
from rnnlab.errors import ConfigError
from rnnlab.models import RecurrentBackbone, RecurrentNet
from rnnlab.run.unroll import load_net

STEPS = 5
LAYOUTS = {"uni": (1, False), "bi": (1, True), "deep": (2, False), "deep_bi": (2, True)}


def make_net(cell="rnn", layout="uni", head="many_to_many", impl="fused") -> RecurrentNet:
    """A small untrained net: input size 3, hidden size 4, two classes."""
    num_layers, bidirectional = LAYOUTS[layout]
    backbone = RecurrentBackbone(3, 4, num_layers, bidirectional, cell=cell, impl=impl)
    return RecurrentNet(backbone, head, num_classes=2).eval()


@pytest.mark.parametrize("impl", ["fused", "loop"])
@pytest.mark.parametrize("head", ["many_to_many", "many_to_one"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_unrolled_network_computes_the_rnns_outputs(cell, layout, head, impl):
    torch.manual_seed(0)
    net, x = make_net(cell, layout, head, impl), torch.randn(6, STEPS, 3)
    # Same sums in another order: equal up to rounding, in single and in double precision.
    for dtype, atol in [(torch.float32, 1e-6), (torch.float64, 1e-12)]:
        net, x = net.to(dtype), x.to(dtype)
        with torch.no_grad():
            torch.testing.assert_close(unroll(net, STEPS)(x), net(x), atol=atol, rtol=0)


def test_every_time_step_shares_the_trained_parameters():
    torch.manual_seed(0)
    net, x = make_net("lstm", "deep_bi", impl="loop"), torch.randn(2, STEPS, 3)
    unrolled = unroll(net, STEPS)
    assert unrolled.output is net.output
    for layer, cells in zip(unrolled.chains, net.backbone.layers, strict=True):
        for chain, cell in zip(layer, cells, strict=True):
            assert len(chain) == STEPS
            for step in chain:
                for mine, theirs in zip(step.cell.parameters(), cell.parameters(), strict=True):
                    assert mine is theirs and mine.data_ptr() == theirs.data_ptr()
    # One set of weights however long the unrolling: changing it at one step changes every step and the RNN.
    assert sum(p.numel() for p in unrolled.parameters()) == sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        before = net(x)
        unrolled.chains[1][0][2].cell.weight_hh.mul_(2.0)
        assert not torch.allclose(net(x), before)
        torch.testing.assert_close(unrolled(x), net(x), atol=1e-6, rtol=0)


def test_a_fused_net_is_unrolled_from_its_loop_twin():
    net = make_net("rnn", "bi", impl="fused")
    chain = unroll(net, STEPS).chains[0][1]
    assert len({step.cell.W.data_ptr() for step in chain}) == 1
    assert torch.equal(chain[0].cell.W, net.backbone.rnn.weight_hh_l0_reverse)


@pytest.mark.parametrize("steps", [0, -1])
def test_steps_must_be_positive(steps):
    with pytest.raises(ValueError, match=f"steps must be a positive integer .* got {steps}"):
        unroll(make_net(), steps)


def test_the_input_must_have_the_unrolled_length():
    with pytest.raises(ValueError, match=r"expected input \(N, 5, input_size\), got \(2, 4, 3\)"):
        unroll(make_net(), STEPS)(torch.zeros(2, 4, 3))


def _labels(fig) -> set[str]:
    """The figure's texts as written without mathtext markup: "$x_{1}$" → "x_1"."""
    return {text.get_text().strip("$").replace("{", "").replace("}", "") for text in fig.findobj(Text)}


@pytest.mark.parametrize(
    ("cell", "layout", "head", "expected"),
    [
        ("rnn", "uni", "many_to_many", {"x_1", "s_0", "s_1", "o_1", "s_3", "o_3", "U", "W", "V"}),
        ("lstm", "deep_bi", "many_to_one", {"x_1", "s^(1)_0", "s^(2)_3", "o", "U^(1)", "W^(2)", "V"}),
    ],
)
def test_drawing_labels_nodes_and_arrows_like_the_slide(cell, layout, head, expected):
    fig = draw_unrolled(unroll(make_net(cell, layout, head), 3))
    assert expected <= _labels(fig)
    title = fig.axes[0].get_title()
    assert {"rnn": "Elman RNN", "lstm": "LSTM"}[cell] in title and "hidden size 4" in title


def test_drawing_is_saved_as_png_and_svg(tmp_path):
    paths = save_figure(draw_unrolled(unroll(make_net(), 3)), tmp_path / "unrolled", ["png", "svg"])
    assert [p.name for p in paths] == ["unrolled.png", "unrolled.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert "<svg" in paths[1].read_text()


@pytest.fixture(scope="module")
def stream_checkpoint(tmp_path_factory) -> str:
    """A vanilla RNN trained for one epoch on problem 3 (flip_stream), quietly and in-process."""
    from rnnlab.run.train import train

    output_dir = tmp_path_factory.mktemp("stream")
    overrides = ["task=flip_stream", "model=rnn", *QUIET, "trainer.min_epochs=1", "trainer.max_epochs=1"]
    train(compose_config("train", overrides, output_dir))
    return str(output_dir / "checkpoints" / "last.ckpt")


def run_script(*overrides: str, log_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "RNNLAB_LOG_DIR": str(log_dir)}
    command = [sys.executable, "scripts/unroll.py", "task=flip_stream", "model=rnn", *overrides]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_script_draws_checks_and_logs_a_trained_checkpoint(stream_checkpoint, tmp_path):
    result = run_script(f"ckpt_path={stream_checkpoint}", "steps=4", log_dir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "flip_stream" / "unroll").iterdir()
    for picture in (run_dir / "unrolled.png", run_dir / "unrolled.svg", run_dir / "trajectories.png"):
        assert picture.stat().st_size > 0
        assert str(picture) in result.stdout
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert "reproduces the RNN's outputs on the first 8 test sequences, first 4 steps" in result.stdout
    assert "Trajectories: the first two principal components hold" in result.stdout  # 64 test streams, by PCA


def test_script_refuses_bad_steps_in_one_line(tmp_path):
    result = run_script("ckpt_path=any.ckpt", "steps=0", log_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: steps=0 must be a positive integer, e.g. steps=4\n"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["ckpt_path=missing.ckpt"], "ckpt_path=missing.ckpt does not exist"),
        (["model=lstm"], "was trained with model.cell=rnn, but this config has model.cell=lstm"),
    ],
)
def test_a_missing_or_foreign_checkpoint_is_refused(stream_checkpoint, tmp_path, overrides, message):
    overrides = ["task=flip_stream", "model=rnn", f"ckpt_path={stream_checkpoint}", *overrides]
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_net(compose_config("unroll", overrides, tmp_path))
