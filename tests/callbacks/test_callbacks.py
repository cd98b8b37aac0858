"""Gradient flow through time, the non-finite guard, the progress bar, manual-gradient training and the exploding-W
init."""

from __future__ import annotations

import math

import pytest
import torch
from lightning import Callback
from lightning.pytorch.callbacks import RichProgressBar
from omegaconf import OmegaConf, open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnnlab.analysis.gradient_flow import decay_per_step, state_gradient_norms
from rnnlab.callbacks import TrainingDiverged
from rnnlab.callbacks.figure_pace import PacedFigures
from rnnlab.callbacks.nonfinite_guard import all_finite, check_buffers
from rnnlab.lit.data import LightningData
from rnnlab.models import RecurrentBackbone, RecurrentNet
from rnnlab.run.build import build_module, build_net
from rnnlab.run.cli import exit_on_user_error
from rnnlab.run.config import CONFIG_DIR, ConfigError, validate
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.train import train
from rnnlab.run.trainer import make_trainer


def test_state_gradients_follow_the_bptt_recurrence():
    # Many-to-one: only s_T feeds the loss, so ∂E/∂s_k = Wᵀ diag(1 − s_{k+1}²) ∂E/∂s_{k+1} exactly.
    torch.manual_seed(0)
    net = RecurrentNet(RecurrentBackbone(3, 5, impl="loop"), head="many_to_one", num_classes=4).double()
    x, target = torch.randn(2, 6, 3, dtype=torch.float64), torch.tensor([1, 3])
    _, _, states = net.backbone.trace(x)
    loss = torch.nn.functional.cross_entropy(net.output(states[0][0][-1]), target, reduction="sum")
    grads = torch.autograd.grad(loss, states[0][0])
    W = net.backbone.layers[0][0].W
    for k in range(5):
        expected = (grads[k + 1] * (1 - states[0][0][k + 1] ** 2)) @ W
        assert torch.allclose(grads[k], expected, atol=1e-12)
    norms, _ = state_gradient_norms(net, x, target)
    assert torch.allclose(norms, torch.stack([g.norm(dim=-1).mean() for g in grads]))


def test_decay_per_step_recovers_a_geometric_rate():
    lags = torch.arange(9, -1, -1, dtype=torch.float64)
    assert decay_per_step(0.5**lags) == pytest.approx(0.5)
    assert decay_per_step(torch.tensor([1.0])) is None


def test_fused_backbone_cannot_be_traced():
    with pytest.raises(ValueError, match="trace needs impl='loop'"):
        RecurrentBackbone(1, 4).trace(torch.zeros(1, 3, 1))


def test_gradient_flow_is_logged_as_scalars_and_a_figure(make_cfg):
    cfg = make_cfg("flip_stream", "rnn", "model.impl=loop", "task.seq_len=12")
    with open_dict(cfg):  # the quiet test configs drop the logger group
        cfg.logger = OmegaConf.load(CONFIG_DIR / "logger" / "tensorboard.yaml")
    metrics, _ = train(cfg)
    assert {"grad_flow/lag_0", "grad_flow/lag_8", "grad_flow/decay_per_step", "grad_flow/recurrent_gain"} <= set(
        metrics
    )
    assert {"grad_norm/total", "grad_norm/backbone.layers.0.0.W", "grad_norm/output.V"} <= set(metrics)
    events = EventAccumulator(f"{cfg.paths.output_dir}/tensorboard", size_guidance={"images": 0})
    events.Reload()
    assert "grad_flow/norm_vs_lag" in events.Tags()["images"]


@pytest.mark.parametrize("figure_every_s", [0, 1e9])
def test_validation_figures_are_drawn_at_their_pace_and_for_the_last_validation(make_cfg, figure_every_s):
    paced = [f"callbacks.{name}.figure_every_s={figure_every_s}" for name in ("gradient_flow", "hidden_states")]
    three_epochs = ["trainer.max_epochs=3", "trainer.min_epochs=3", "~callbacks.early_stopping", "test=false"]
    cfg = make_cfg("flip_stream", "rnn", "model.impl=loop", *three_epochs, *paced)
    with open_dict(cfg):
        cfg.logger = OmegaConf.load(CONFIG_DIR / "logger" / "tensorboard.yaml")
    _, objects = train(cfg)
    events = EventAccumulator(f"{cfg.paths.output_dir}/tensorboard", size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    # Three validations, each at the end of an epoch of the same number of steps; the last at the run's last step.
    last = objects["trainer"].global_step
    every_validation = [last // 3, 2 * last // 3, last]
    # 0: a figure after every validation; a pace longer than the run: the last validation's only, at its step.
    expected = every_validation if figure_every_s == 0 else [last]
    for tag in ("grad_flow/norm_vs_lag", "grad_norm/by_parameter", "val/hidden_states"):
        assert [image.step for image in events.Images(tag)] == expected, tag
    # The scalars do not wait for the figures.
    assert len(events.Scalars("grad_flow/lag_0")) == 3


def test_a_held_figure_is_drawn_when_training_stops_on_an_error():
    pace, drawn = PacedFigures(figure_every_s=1e9), []
    pace.on_train_start(None, None)
    for epoch in range(3):
        pace.draw_figure(lambda epoch=epoch: drawn.append(epoch))
    assert drawn == []
    pace.on_exception(None, None, RuntimeError("stopped"))
    assert drawn == [2]
    pace.draw_figure(lambda: drawn.append("outside a fit"))
    assert drawn == [2, "outside a fit"]


def test_fused_runs_log_parameter_gradient_norms_only(make_cfg):
    metrics, _ = train(make_cfg("flip_stream", "gru"))
    assert "grad_norm/total" in metrics
    assert not any(key.startswith("grad_flow/") for key in metrics)


def test_nonfinite_gradients_stop_training_naming_the_step_and_the_last_good_checkpoint(make_cfg):
    cfg = make_cfg("flip_stream", "rnn", "~callbacks.early_stopping", "trainer.max_epochs=3")
    datamodule, module = build_datamodule(cfg), build_module(cfg)
    trainer = make_trainer(cfg)

    class PoisonSecondEpoch(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                datamodule.split("train")["input"][:] = float("nan")

    trainer.callbacks.append(PoisonSecondEpoch())
    with pytest.raises(TrainingDiverged) as error:
        trainer.fit(module, datamodule=LightningData(datamodule))
    message = str(error.value)
    steps_per_epoch = math.ceil(len(datamodule.split("train")["target"]) / cfg.task.data.batch_size)
    assert f"the gradient norm became nan at step {steps_per_epoch} (epoch 1)" in message
    assert "last.ckpt" in message and "optimizer.lr" in message
    last = message.split("the last good checkpoint is ")[1].split(".ckpt")[0] + ".ckpt"
    weights = torch.load(last, weights_only=True)["state_dict"]
    assert all(torch.isfinite(w).all() for w in weights.values())


@pytest.mark.parametrize("diverges", [False, True])
def test_the_gradient_norm_reaches_tensorboard_every_log_every_n_steps_also_when_training_diverges(make_cfg, diverges):
    # 640 sequences in batches of 32: 20 steps per epoch, two epochs; diverging, the first step of the second.
    cfg = make_cfg(
        "flip_stream", "rnn", "task.data.sizes.train=640", "trainer.max_epochs=2", "~callbacks.early_stopping"
    )
    with open_dict(cfg):
        cfg.logger = OmegaConf.load(CONFIG_DIR / "logger" / "tensorboard.yaml")
    datamodule, module, trainer = build_datamodule(cfg), build_module(cfg), make_trainer(cfg)

    class PoisonSecondEpoch(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if diverges and trainer.current_epoch == 1:
                datamodule.split("train")["input"][:] = float("nan")

    trainer.callbacks.append(PoisonSecondEpoch())
    if diverges:
        with pytest.raises(TrainingDiverged, match="at step 20"):
            trainer.fit(module, datamodule=LightningData(datamodule))
    else:
        trainer.fit(module, datamodule=LightningData(datamodule))
    events = EventAccumulator(f"{cfg.paths.output_dir}/tensorboard")
    events.Reload()
    norms = {event.step: event.value for event in events.Scalars("train/grad_norm")}
    assert list(norms) == ([0, 10, 20] if diverges else [0, 10, 20, 30])
    assert all(0 < norms[step] < math.inf for step in (0, 10))
    assert math.isnan(norms[20]) == diverges


@pytest.mark.parametrize("bad", [None, float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_the_guards_check_finds_any_nonfinite_element_and_changes_no_value(bad, dtype):
    tensors = [torch.tensor([1e30, -0.0, 3.0], dtype=dtype), torch.randn(4, 5).to(dtype)]
    if bad is not None:
        tensors[1][2, 3] = bad
    before = [t.clone() for t in tensors]
    buffers = check_buffers(tensors[0].device)  # as the guard keeps them from step to step
    assert all_finite(tensors) is all_finite(tensors, buffers) is (bad is None)
    # Bit for bit, NaN and the sign of zero included.
    assert all(torch.equal(a.view(torch.uint8), b.view(torch.uint8)) for a, b in zip(before, tensors, strict=True))
    # The kept buffers are as they were: the next step's check sees only its own gradient.
    assert buffers[0].item() == 0 and buffers[1].item() == 1
    assert all_finite([torch.ones(3, dtype=dtype)], buffers)


@pytest.mark.parametrize(("redraws_per_second", "draws"), [(1e-3, 3), (1e9, 14)])
def test_the_progress_bar_redraws_at_most_so_often_and_at_each_epochs_end(
    make_cfg, monkeypatch, redraws_per_second, draws
):
    # 7 Lightning steps per epoch, 2 epochs: a slow rate draws the run's first batch and each epoch's last.
    drawn = []

    def draw(bar, trainer, *args):
        drawn.append((trainer.current_epoch, trainer.fit_loop.epoch_loop.batch_progress.is_last_batch))

    monkeypatch.setattr(RichProgressBar, "on_train_batch_end", draw)
    bar = [
        "+callbacks.rich_progress_bar._target_=rnnlab.callbacks.ProgressBar",
        f"+callbacks.rich_progress_bar.redraws_per_second={redraws_per_second}",
        "trainer.enable_progress_bar=true",
    ]
    short = ["task.data.sizes.train=200", "task.data.batches_per_step=1", "trainer.max_epochs=2", "test=false"]
    train(make_cfg("flip_stream", "rnn", *bar, *short, "trainer.min_epochs=2", "~callbacks.early_stopping"))
    assert len(drawn) == draws
    assert [d for d in drawn if d[1]] == [(0, True), (1, True)]


def test_user_errors_exit_with_code_2_and_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info, exit_on_user_error():
        raise TrainingDiverged("the gradient norm became nan at step 3 (epoch 0)")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: the gradient norm became nan at step 3 (epoch 0)\n"


def test_training_with_manual_bptt_gradients_solves_a_bit_task(make_cfg):
    metrics, objects = train(make_cfg("flip_if_same", "rnn", "model.gradients=manual"))
    assert objects["module"].automatic_optimization is False
    assert metrics["test/seq_acc"] >= 0.99


@pytest.mark.parametrize(
    ("model", "overrides", "message"),
    [
        ("lstm", ["model.gradients=manual"], "model.gradients=manual is the vanilla RNN's BPTT"),
        ("rnn", ["model.gradients=magic"], "model.gradients='magic' is not one of autograd, manual"),
        ("rnn", ["model.recurrent_radius=-1"], "model.recurrent_radius=-1 must be positive"),
    ],
)
def test_impossible_gradient_settings_are_refused(make_cfg, model, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(make_cfg("flip_stream", model, *overrides))


@pytest.mark.parametrize("model", ["rnn", "gru"])
def test_recurrent_radius_sets_the_spectral_radius_of_every_recurrent_matrix(make_cfg, model):
    cfg = make_cfg("flip_stream", model, "model.recurrent_radius=3.0", "model.num_layers=2")
    backbone = build_net(cfg.model, cfg.task).backbone
    for name, weight in backbone.named_parameters():
        if "weight_hh" in name:
            for block in weight.split(backbone.hidden_size):
                assert torch.linalg.eigvals(block).abs().max().item() == pytest.approx(3.0, rel=1e-4)
