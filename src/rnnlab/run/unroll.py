"""The unrolled network of a trained checkpoint (``scripts/unroll.py``): load the checkpoint's network, and pick
inputs to compare the RNN and its unrolled feed-forward twin on (:mod:`rnnlab.analysis.unroll`)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import Tensor

from rnnlab.models import RecurrentNet
from rnnlab.run.build import build_datamodule, build_module
from rnnlab.run.evaluate import check_compatible, load_checkpoint


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
