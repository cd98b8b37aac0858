"""The threads setting: what auto chooses and why, that a run applies it, and that it is logged and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import compose_config

from rnnlab.errors import ConfigError
from rnnlab.run import threads as threads_module
from rnnlab.run.threads import SMALL_WORK, recurrent_work, resolve_threads
from rnnlab.run.train import train


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "cores", lambda: 2)


@pytest.mark.parametrize(
    ("overrides", "jobs", "expected"),
    [
        pytest.param([], 1, (1, "auto: a small recurrent model gains < 10 % from a second thread"), id="small"),
        pytest.param(["task=pos", "model=bilstm"], 1, (2, "auto: 2 core(s)"), id="large"),
        pytest.param(["task=pos", "model=bilstm"], 2, (1, "auto: 2 core(s) / 2 parallel jobs"), id="large-in-sweep"),
        pytest.param(["threads=3"], 1, (3, "threads"), id="explicit"),
    ],
)
def test_auto_gives_small_models_one_thread_and_large_ones_their_share(
    two_cores, monkeypatch, overrides, jobs, expected
):
    monkeypatch.setattr(threads_module, "parallel_jobs", lambda: jobs)
    assert resolve_threads(compose_config("train", overrides)) == expected


def test_the_work_estimate_puts_the_default_bit_task_below_and_the_pos_recipe_above_the_line():
    assert recurrent_work(compose_config("train")) < SMALL_WORK
    # POS recipe: 32 sentences × 200 units × 4·200 gate rows × 2 layers × 2 directions.
    assert recurrent_work(compose_config("train", ["task=pos", "model=bilstm"])) == 32 * 200 * 800 * 2 * 2


def test_omp_num_threads_wins_over_auto(two_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resolve_threads(compose_config("train", ["task=pos", "model=bilstm"])) == (1, "auto: OMP_NUM_THREADS")


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_thread_count_is_one_line(value):
    with pytest.raises(ConfigError, match=f"threads={value!r}|threads={value}"):
        resolve_threads(compose_config("train", [f"threads={value}"]))


def test_a_run_applies_logs_and_records_its_threads(make_cfg, caplog):
    cfg = make_cfg("flip_stream", "rnn", "threads=2", "trainer.max_epochs=1", "trainer.min_epochs=1", "test=false")
    with caplog.at_level("INFO", logger="rnnlab"):
        train(cfg)
    assert torch.get_num_threads() == 2
    assert "Threads: 2 (threads)" in caplog.messages
    assert json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())["threads"] == 2
