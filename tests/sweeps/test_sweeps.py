"""Hydra multiruns of scripts/train.py: failed jobs recorded, optimized_metric checked, Optuna, launchers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import CONFIG_DIR, REPO_ROOT, compose_config
from hydra import compose, initialize_config_dir
from hydra.core.utils import JobReturn, JobStatus

from rnnlab.errors import ConfigError
from rnnlab.run.config import check_optimized_metric, logged_metrics, metric_direction
from rnnlab.run.train import train
from rnnlab.sweeps import summary as sweep
from rnnlab.sweeps.jobs import NanTrialFails

# Tiny jobs of bit problem 3: one epoch of two batches.
TINY = ["trainer.max_epochs=1", "task.data.sizes.train=64", "~callbacks.rich_progress_bar"]
HPARAMS_SEARCHES = sorted(p.stem for p in (CONFIG_DIR / "hparams_search").glob("*.yaml"))


def multirun(log_dir: Path, *overrides: str) -> tuple[subprocess.CompletedProcess, Path | None]:
    """Run ``scripts/train.py -m`` with runs under ``log_dir``; return the result and the sweep's directory."""
    result = subprocess.run(
        [sys.executable, "scripts/train.py", "-m", *overrides],
        cwd=REPO_ROOT,
        env={**os.environ, "RNNLAB_LOG_DIR": str(log_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    sweeps = list((log_dir / "multirun" / "train").glob("*"))
    return result, sweeps[0] if sweeps else None


def test_a_failing_job_is_recorded_and_the_others_finish_and_are_summarized(tmp_path):
    # A negative learning rate is refused before training (rnnlab.run.schema): job 0 fails, job 1 runs after it.
    result, sweep_dir = multirun(tmp_path, "optimizer.lr=-1,0.01", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    failure = json.loads((sweep_dir / "0" / "failed.json").read_text())
    refused = "optimizer.lr=-1 must be a number > 0, e.g. optimizer.lr=0.01"
    assert (failure["error"], failure["message"]) == ("ConfigError", refused)
    assert refused in (sweep_dir / "0" / "train.log").read_text()  # with its traceback
    assert not (sweep_dir / "0" / "metrics.json").exists()
    assert "test/acc" in json.loads((sweep_dir / "1" / "metrics.json").read_text())
    # TensorBoard's run of job 1 is named by what sets it apart: 1/tensorboard/optimizer.lr=0.01.
    assert list((sweep_dir / "1" / "tensorboard" / "optimizer.lr=0.01").glob("events.out.tfevents.*"))

    summary = subprocess.run(
        [sys.executable, "scripts/summarize.py", str(sweep_dir), "--metric", "val/acc_best"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert summary.returncode == 0, summary.stderr
    assert "job 0 (model=rnn, task=flip_stream, optimizer.lr=-1, " in summary.stdout
    assert f": ConfigError: {refused}" in summary.stdout
    rows = (sweep_dir / "summary_groups.csv").read_text().splitlines()
    assert len(rows) == 3  # a header and the two learning rates
    jobs = {job.name: job for job in sweep.read_sweep(sweep_dir)}
    assert (jobs["0"].status, jobs["1"].status) == ("failed", "finished")


def test_a_wrong_optimized_metric_stops_the_multirun_before_any_job_trains(tmp_path):
    result, sweep_dir = multirun(tmp_path, "optimized_metric=val/accc", "seed=1,2", *TINY)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: optimized_metric='val/accc' is not logged by task=flip_stream (head many_to_many); it logs: "
        "train/loss, train/acc, train/seq_acc, val/loss,"
    )
    assert not list(sweep_dir.glob("*/metrics.json")) and not list(sweep_dir.glob("*/failed.json"))


@pytest.mark.parametrize(
    ("task", "overrides"),
    [
        ("flip_stream", ["task.data.sizes.train=64"]),
        ("char_lm", []),
        ("adding", ["task.seq_len=10", "task.data.sizes={train: 100, val: 50, test: 50}"]),
        ("translate", ["task.data.sizes={train: 64, val: 32, test: 32}"]),
    ],
)
def test_the_metrics_a_task_is_said_to_log_are_in_its_metrics_json(make_cfg, task, overrides):
    cfg = make_cfg(task, "rnn", "trainer.max_epochs=1", *overrides)
    check_optimized_metric(cfg)  # each task's own optimized_metric is one of them
    metrics, _ = train(cfg)
    expected = set(logged_metrics(cfg)) - {"val/steps_to_solve"}  # logged only once solved
    assert expected <= set(metrics), expected - set(metrics)


def test_per_class_tasks_add_f1_and_a_typo_is_named_with_what_the_task_logs():
    assert "val/f1" in logged_metrics(compose_config("train", ["task=pos"]))
    with pytest.raises(
        ConfigError, match=r"optimized_metric='val/seq_acc_best' is not logged by task=char_lm .*val/bpc"
    ):
        check_optimized_metric(compose_config("train", ["task=char_lm", "optimized_metric=val/seq_acc_best"]))


@pytest.mark.parametrize("search", HPARAMS_SEARCHES)
def test_each_optuna_search_optimises_a_logged_metric_in_its_direction(search):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", [f"hparams_search={search}"], return_hydra_config=True)
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert cfg.task.name == search.removesuffix("_optuna")
    check_optimized_metric(cfg)
    assert cfg.hydra.sweeper.direction == metric_direction(cfg, cfg.optimized_metric)
    assert cfg.hydra.sweeper.sampler.seed is not None and cfg.hydra.sweeper.params


def test_an_optuna_search_runs_its_trials_records_a_failed_one_and_writes_the_best(tmp_path):
    # Trial 0 gets lr = 0 - 0.99 (refused before training: NaN, a failed trial), trial 1 gets lr = 1 - 0.99.
    lr = "optimizer.lr='${add:${hydra:job.num},-0.99}'"
    result, sweep_dir = multirun(tmp_path, "hparams_search=flip_stream_optuna", "hydra.sweeper.n_trials=2", lr, *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    message = json.loads((sweep_dir / "0" / "failed.json").read_text())["message"]
    assert message.startswith("optimizer.lr=-0.99 must be a number > 0") and "${add:${hydra:job.num},-0.99}" in message
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    trial_1 = json.loads((sweep_dir / "1" / "metrics.json").read_text())
    assert best["best_value"] == pytest.approx(trial_1["val/seq_acc_best"])
    assert set(best["best_params"]) == {"model", "model.hidden_size"}


def test_a_nan_trial_becomes_a_failed_job_for_the_sweeper():
    nan, value = JobReturn(status=JobStatus.COMPLETED), JobReturn(status=JobStatus.COMPLETED)
    nan.return_value, value.return_value = math.nan, 0.5
    for job_return in (nan, value):
        NanTrialFails().on_job_end(config={"optimized_metric": "val/acc_best"}, job_return=job_return)
    assert (nan.status, value.status, value.return_value) == (JobStatus.FAILED, JobStatus.COMPLETED, 0.5)
    with pytest.raises(RuntimeError, match="val/acc_best is NaN: the job failed"):
        _ = nan.return_value


@pytest.mark.slow
def test_the_joblib_launcher_runs_jobs_side_by_side_in_their_own_directories(tmp_path):
    result, sweep_dir = multirun(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.parent.name for p in sweep_dir.glob("*/metrics.json")) == ["0", "1"]
    assert [job.settings["seed"] for job in sweep.read_sweep(sweep_dir)] == ["1", "2"]


def test_local_parallel_runs_jobs_in_forked_workers_and_records_a_failed_one(tmp_path):
    # Job 0 is refused before training; the two workers run all three jobs and the sweep goes on.
    result, sweep_dir = multirun(
        tmp_path, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", "optimizer.lr=-1,0.01,0.02", *TINY
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Launching 3 jobs, 2 at a time" in result.stdout + result.stderr
    assert (sweep_dir / "0" / "failed.json").exists()
    assert sorted(p.parent.name for p in sweep_dir.glob("*/metrics.json")) == ["1", "2"]
    for job in ("1", "2"):  # each job's share: 2 cores ÷ 2 jobs, and the model is small anyway
        assert json.loads((sweep_dir / job / "metrics.json").read_text())["threads"] == 1
    assert [job.settings["optimizer.lr"] for job in sweep.read_sweep(sweep_dir)] == ["-1", "0.01", "0.02"]


def test_the_slurm_launcher_composes_with_a_gpu_a_time_limit_and_a_partition_to_fill_in():
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", ["hydra/launcher=slurm", "hydra.launcher.partition=gpu"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("gpu", 1, 240)
