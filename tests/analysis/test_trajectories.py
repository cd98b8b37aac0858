"""Hidden-state trajectories: PCA against numpy, the two-state oscillator of problem 4 seen on its principal plane,
the figure, the unroll command's picture of a trained flip_if_same model and the optional training callback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import QUIET, compose_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnnlab.analysis.trajectories import hidden_states, principal_plane, separation, trajectory_figure
from rnnlab.models import RecurrentBackbone, RecurrentNet
from rnnlab.run.train import train
from rnnlab.run.unroll import load_net, state_trajectories


def test_the_principal_plane_is_numpys_pca():
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(40, 6, generator=generator, dtype=torch.float64) * torch.tensor([5.0, 3, 1, 0.5, 0.2, 0.1])
    projection = principal_plane(states)
    centred = states.numpy() - states.numpy().mean(0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(projection.explained.numpy(), singular[:2] ** 2 / (singular**2).sum(), rtol=1e-10)
    for k in range(2):  # the same axes, up to the sign rnnlab fixes (largest loading positive)
        np.testing.assert_allclose(np.abs(projection.components[:, k].numpy()), np.abs(vt[k]), atol=1e-10)
        assert projection.components[:, k].abs().argmax() == projection.components[:, k].argmax()
    np.testing.assert_allclose(projection(states).numpy(), centred @ projection.components.numpy(), atol=1e-10)


def test_an_oscillator_between_two_states_is_split_by_the_first_component():
    # The closed form of problem 4: o_t alternates 1, 0, 1, …; an ideal network jumps between two states.
    generator = torch.Generator().manual_seed(1)
    a, b = torch.tensor([0.9, -0.8, 0.7]), torch.tensor([-0.6, 0.9, -0.9])
    steps = torch.arange(10)
    targets = ((steps + 1) % 2).expand(16, 10)
    states = torch.where(targets.unsqueeze(-1) == 1, a, b) + 0.01 * torch.randn(16, 10, 3, generator=generator)
    projection = principal_plane(states)
    assert projection.explained[0] > 0.99
    assert separation(projection(states), targets) == 1.0
    assert separation(projection(states), 1 - targets) == 1.0  # whichever side each bit lies on
    shuffled = targets.flatten()[torch.randperm(160, generator=generator)].view(16, 10)
    assert separation(projection(states), shuffled) < 0.75


def test_the_figure_draws_every_state_and_the_initial_one():
    net = RecurrentNet(RecurrentBackbone(1, 5), head="many_to_many", num_classes=2)
    x = torch.randint(0, 2, (7, 10, 1)).float()
    states = hidden_states(net, x)
    assert states.shape == (7, 10, 5)
    torch.testing.assert_close(states, net.backbone(x)[0].detach())
    figure = trajectory_figure(states, (torch.arange(10) % 2).expand(7, 10))
    ax = figure.axes[0]
    assert len(ax.lines) == 7  # one path per sequence
    sizes = sorted(len(collection.get_offsets()) for collection in ax.collections)
    assert sizes == [1, 35, 35]  # s_0, then the 70 states split by their target bit


@pytest.fixture(scope="module")
def flip_if_same_run(tmp_path_factory) -> Path:
    """problem 4 trained to a solution, with the trajectory callback on (the only thing that differs from default)."""
    run_dir = tmp_path_factory.mktemp("flip_if_same") / "run"
    overrides = [
        "task=flip_if_same",
        "model=rnn",
        "trainer.accelerator=cpu",
        "~callbacks.rich_progress_bar",
        "+trainer.enable_progress_bar=false",
        "+trainer.enable_model_summary=false",
        "callbacks.state_trajectories.enabled=true",
        "test=false",
    ]
    train(compose_config("train", overrides, run_dir))
    return run_dir


def test_a_trained_flip_if_same_model_oscillates_between_two_states(flip_if_same_run, tmp_path):
    checkpoint = flip_if_same_run / "checkpoints" / "last.ckpt"
    cfg = compose_config("unroll", ["task=flip_if_same", "model=rnn", f"ckpt_path={checkpoint}"], tmp_path)
    figure, said = state_trajectories(cfg, load_net(cfg), 64)
    assert "component 1 alone puts 100.0 % of the states on their target bit's side" in said
    assert len(figure.axes[0].lines) == 64
    events = EventAccumulator(str(flip_if_same_run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert "val/state_trajectories" in events.Tags()["images"]


def test_it_is_off_by_default_and_a_one_step_task_has_no_trajectory():
    assert not compose_config("train").callbacks.state_trajectories.enabled
    assert compose_config("unroll").trajectories == 64
    assert state_trajectories(compose_config("unroll", ["task=flip_bit", "ckpt_path=x"]), None, 8) is None


def test_unroll_refuses_a_negative_number_of_trajectories():
    import importlib.util

    from rnnlab.errors import ConfigError
    from rnnlab.run.config import CONFIG_DIR

    spec = importlib.util.spec_from_file_location("unroll_script", CONFIG_DIR.parent / "scripts" / "unroll.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(ConfigError, match="trajectories=-1 must be a number of test sequences"):
        script.check_settings(compose_config("unroll", ["ckpt_path=x", "trajectories=-1"]))


def test_quiet_runs_need_no_logger_for_the_callback(tmp_path):
    # QUIET removes the logger: the callback must then do nothing, not fail.
    cfg = compose_config(
        "train",
        [
            "task=flip_if_same",
            "trainer.max_epochs=1",
            "callbacks.state_trajectories.enabled=true",
            *QUIET,
            "test=false",
        ],
        tmp_path,
    )
    train(cfg)
    assert not (tmp_path / "tensorboard").exists()
