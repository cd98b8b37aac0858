"""task=adding, the regression family end to end: it composes into a SequenceRegressor with its own metrics, chrono
spans the task's length, and a gated network learns the sum (slow)."""

from __future__ import annotations

import math

import pytest

from rnnlab.data import ADDING_BASELINE_MSE
from rnnlab.lit import SequenceRegressor
from rnnlab.models.gate_init import effective_gate_biases
from rnnlab.run.build import build_module
from rnnlab.run.config import logged_metrics, metric_direction, validate
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.train import train

TINY = ["task.seq_len=10", "task.data.sizes={train: 200, val: 100, test: 100}", "trainer.max_steps=8"]


def test_the_adding_task_builds_a_regressor_with_its_own_metrics(make_cfg):
    cfg = make_cfg("adding", "lstm", *TINY)
    validate(cfg)
    module = build_module(cfg)
    assert isinstance(module, SequenceRegressor)
    batch = next(iter(build_datamodule(cfg).train_dataloader()))[0]
    assert module(batch["input"]).shape == batch["target"].shape == (50,)
    assert logged_metrics(cfg) == ["train/mse", "val/mse", "test/mse", "val/mse_best"]
    assert metric_direction(cfg, "val/mse_best") == "minimize"


def test_chrono_spans_the_tasks_sequence_length(make_cfg):
    module = build_module(make_cfg("adding", "lstm_chrono", "task.seq_len=40"))
    biases = effective_gate_biases(module.net.backbone)
    forget, input_ = biases["l0.forward.forget"], biases["l0.forward.input"]
    assert forget.min() >= 0 and forget.max() <= math.log(40 - 1) and (forget == -input_).all()


def test_a_short_run_reports_its_mse_beside_the_baseline(make_cfg):
    metrics, _ = train(make_cfg("adding", "rnn", *TINY))
    assert {"train/mse", "val/mse", "val/mse_best", "test/mse"} <= set(metrics)
    # An untrained network is no better than predicting the mean; 8 steps cannot make it much worse either.
    assert ADDING_BASELINE_MSE / 3 < metrics["test/mse"] < 10 * ADDING_BASELINE_MSE


@pytest.mark.slow
def test_a_chrono_lstm_solves_the_adding_problem_at_length_20(make_cfg):
    metrics, _ = train(make_cfg("adding", "lstm_chrono", "task.seq_len=20"))
    assert metrics["test/mse"] < 0.01  # solved: well below the 1/6 of predicting the mean
