"""Fixtures every test may use: one torch thread, and configs composed quietly into tmp_path."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from helpers import QUIET, compose_config
from helpers.corpora import write_polarity, write_treebank
from omegaconf import DictConfig


@pytest.fixture(autouse=True)
def _one_thread():
    # The tests' models are tiny: intra-op threads cost more than they save, and spin badly on a shared CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def _own_run_registry(tmp_path_factory):
    # The tests' trainings share cores only with each other, not with a user's runs on the same machine.
    folder = os.environ.get("RNNLAB_RUN_REGISTRY")
    os.environ["RNNLAB_RUN_REGISTRY"] = str(tmp_path_factory.mktemp("run_registry"))
    yield
    if folder is None:
        os.environ.pop("RNNLAB_RUN_REGISTRY")
    else:
        os.environ["RNNLAB_RUN_REGISTRY"] = folder


@pytest.fixture
def other_process():
    """A live process that is not this one, standing in for another rnnlab run (helpers.register_run)."""
    process = subprocess.Popen(["sleep", "120"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """make_cfg(task, model, *overrides, config_name="train") -> a quiet config writing to a new directory
    under tmp_path (one per call, like Hydra's one directory per job)."""
    calls = itertools.count()

    def make(task: str = "flip_stream", model: str = "rnn", *overrides: str, config_name: str = "train"):
        quiet = QUIET if config_name == "train" else ["trainer.accelerator=cpu"]
        output_dir = tmp_path / f"{config_name}_{task}_{model}_{next(calls)}"
        output_dir.mkdir(parents=True, exist_ok=True)
        return compose_config(config_name, [f"task={task}", f"model={model}", *quiet, *overrides], output_dir)

    return make


@pytest.fixture(scope="module")
def treebank(tmp_path_factory) -> Path:
    """A toy treebank's train/dev/test CoNLL-U files (helpers.corpora.write_treebank)."""
    return write_treebank(tmp_path_factory.mktemp("treebank"))


@pytest.fixture(scope="module")
def polarity(tmp_path_factory) -> Path:
    """Toy sentence-polarity files, one per label (helpers.corpora.write_polarity)."""
    return write_polarity(tmp_path_factory.mktemp("polarity"))
