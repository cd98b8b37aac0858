"""Generated examples as JSON lines, so a learner sees exactly what a task asks."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from omegaconf import DictConfig
from torch import Tensor

from rnnlab.errors import ConfigError
from rnnlab.run.build import build_datamodule


def _plain(value: Tensor) -> list | int | float:
    """Drop singleton axes (T = 1 or one bit per step) so a stream reads as a flat list of bits."""
    value = value.squeeze()
    if value.dtype.is_floating_point and bool((value == value.round()).all()):
        value = value.long()
    return value.tolist()


def example_records(cfg: DictConfig) -> list[dict]:
    if cfg.n < 0:
        raise ConfigError(f"n={cfg.n} must be zero or more")
    datamodule = build_datamodule(cfg)
    data = datamodule.split(cfg.split)
    count = min(cfg.n, len(data["target"]))
    keys = [k for k in ("input", "target", "mask") if k in data]
    return [{k: _plain(data[k][i]) for k in keys} for i in range(count)]


def print_examples(cfg: DictConfig, out: TextIO = sys.stdout) -> None:
    for record in example_records(cfg):
        out.write(json.dumps(record) + "\n")
