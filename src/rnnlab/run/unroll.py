"""The unrolled network of a trained checkpoint (``scripts/unroll.py``): load the checkpoint's network, pick
inputs to compare the RNN and its unrolled feed-forward twin on (:mod:`rnnlab.analysis.unroll`), and draw its
hidden states' trajectories over the test sequences (:mod:`rnnlab.analysis.trajectories`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from omegaconf import DictConfig
from torch import Tensor

from rnnlab.models import RecurrentNet
from rnnlab.run.build import build_module
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.evaluate import check_compatible, load_checkpoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def load_net(cfg: DictConfig) -> RecurrentNet:
    """The trained network of ``cfg.ckpt_path``, refused with a ConfigError if it is not ``cfg``'s task/model."""
    checkpoint = load_checkpoint(cfg.ckpt_path, cfg.get("trust_checkpoint", False))
    check_compatible(checkpoint, cfg, cfg.ckpt_path)
    module = build_module(cfg)
    module.load_state_dict(checkpoint["state_dict"])
    return module.net.eval()


def sample_inputs(cfg: DictConfig, steps: int, count: int = 8) -> tuple[Tensor, str]:
    """Inputs of ``steps`` time steps to compare the two networks on, and where they come from.

    The first ``count`` test sequences, cut to their first ``steps`` steps, when the task's sequences are that
    long; otherwise (e.g. the T = 1 bit problems) random bits of the task's input size: the unrolled net must
    match the RNN on any input.
    """
    test = build_datamodule(cfg).split("test")["input"][:count]
    if test.size(1) >= steps:
        return test[:, :steps], f"the first {len(test)} test sequences, first {steps} steps"
    generator = torch.Generator().manual_seed(cfg.seed)
    bits = torch.randint(0, 2, (count, steps, test.size(-1)), generator=generator).float()
    return bits, f"{count} random bit sequences (the task's sequences have {test.size(1)} < {steps} steps)"


def state_trajectories(cfg: DictConfig, net: RecurrentNet, count: int) -> tuple[Figure, str] | None:
    """The top layer's states over the first ``count`` test sequences, on their two principal components, and a
    line saying what the picture shows; None where the task's sequences have one step or padding (no common time
    axis). States are coloured by the target when it is one bit per step (problems 3 and 4)."""
    from rnnlab.analysis.trajectories import hidden_states, principal_plane, separation, trajectory_figure

    test = build_datamodule(cfg).split("test")
    if not isinstance(test, dict) or "lengths" in test or test["input"].size(1) < 2:
        return None
    x, target = test["input"][:count], test["target"][:count]
    states = hidden_states(net, x)
    bits = target if target.shape == x.shape[:2] and bool(((target == 0) | (target == 1)).all()) else None
    title = f"{cfg.task.name}, {cfg.model.cell}: hidden states of {len(x)} test sequences over {x.size(1)} steps"
    projection = principal_plane(states)
    said = f"the first two principal components hold {100 * float(projection.explained.sum()):.1f} % of the variance"
    if bits is not None:
        share = separation(projection(states), bits)
        said += f"; component 1 alone puts {100 * share:.1f} % of the states on their target bit's side"
    return trajectory_figure(states, bits, title), said
