"""Steps to solve (SolveTracker) and the summary of a multirun over seeds (rnnlab.sweeps.summary, summarize.py)."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import REPO_ROOT
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rnnlab.callbacks.solve_tracker import SolveTracker
from rnnlab.errors import ConfigError
from rnnlab.sweeps import summary as sweep

BATCHES = 2  # training steps per epoch of ScriptedAccuracy


class ScriptedAccuracy(L.LightningModule):
    """Logs val/acc from a script, one value per epoch, in on_validation_epoch_end as rnnlab's module does;
    a perfect score during the sanity check, which must not count."""

    def __init__(self, accuracies: list[float]) -> None:
        super().__init__()
        self.accuracies = accuracies
        self.layer = nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).sum()

    def validation_step(self, batch, batch_idx) -> None:
        pass

    def on_validation_epoch_end(self) -> None:
        self.log("val/acc", 1.0 if self.trainer.sanity_checking else self.accuracies[self.current_epoch])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.zeros(BATCHES, 1)))

    val_dataloader = train_dataloader


def fit(tracker: SolveTracker, accuracies: list[float], **fit_kwargs) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=len(accuracies),
        callbacks=[tracker],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(ScriptedAccuracy(accuracies), **fit_kwargs)
    return trainer


def test_solve_tracker_logs_the_step_of_the_first_validation_above_the_threshold(tmp_path):
    tracker = SolveTracker(threshold=0.95)
    trainer = fit(tracker, [0.5, 0.96, 0.5])
    assert tracker.solved_at == 2 * BATCHES  # after epoch 1, not the sanity check, kept when val/acc drops
    assert trainer.callback_metrics["val/steps_to_solve"] == 2 * BATCHES

    # A resumed run keeps it: solving again in epoch 3 does not move it.
    trainer.save_checkpoint(tmp_path / "solved.ckpt")
    resumed = SolveTracker(threshold=0.95)
    fit(resumed, [0.5, 0.96, 0.5, 0.99], ckpt_path=tmp_path / "solved.ckpt")
    assert resumed.solved_at == 2 * BATCHES


def test_solve_tracker_logs_nothing_before_solving_and_names_a_missing_metric():
    tracker = SolveTracker(threshold=0.95)
    assert "val/steps_to_solve" not in fit(tracker, [0.5, 0.9]).callback_metrics
    with pytest.raises(ConfigError, match=r"'val/seq_acc', which this run does not log; it logs val/acc\b"):
        fit(SolveTracker(monitor="val/seq_acc"), [0.5])


# A long_range sweep: (model, task.gap, seed) → metrics.json, FAILED for a job that raised (failed.json), or
# None for one killed or unfinished (neither file). Gaps 9 and 100 sort differently as numbers and as text.
FAILED = {"error": "TrainingDiverged", "message": "the loss became NaN at step 7"}
JOBS = [
    ("rnn", 9, 1, {"test/acc": 1.0, "val/steps_to_solve": 100}),
    ("rnn", 9, 2, {"test/acc": 0.9, "val/steps_to_solve": 80}),  # solved validation, not test: does not count
    ("rnn", 100, 1, {"test/acc": 0.125}),
    ("rnn", 100, 2, {"test/acc": 0.135}),
    ("lstm", 9, 1, {"test/acc": 1.0, "val/steps_to_solve": 50}),
    ("lstm", 9, 2, {"test/acc": 0.98, "val/steps_to_solve": 70}),
    ("lstm", 100, 1, {"test/acc": 0.97, "val/steps_to_solve": 400}),
    ("lstm", 100, 2, None),
    ("rnn", 100, 3, FAILED),
]


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """A multirun directory laid out as Hydra and scripts/train.py leave it."""
    for number, (model, gap, seed, metrics) in enumerate(JOBS):
        hydra_dir = tmp_path / "sweep" / str(number) / ".hydra"
        hydra_dir.mkdir(parents=True)
        (hydra_dir / "config.yaml").write_text(f"seed: {seed}\ntask:\n  name: long_range\n  gap: {gap}\n")
        (hydra_dir / "hydra.yaml").write_text(f"hydra:\n  runtime:\n    choices:\n      model: {model}\n")
        (hydra_dir / "overrides.yaml").write_text(
            f"- model={model}\n- task=long_range\n- task.gap={gap}\n- seed={seed}\n"
        )
        if metrics is not None:
            name = "failed.json" if metrics is FAILED else "metrics.json"
            (hydra_dir.parent / name).write_text(json.dumps(metrics))
    return tmp_path / "sweep"


def test_groups_average_over_seeds_and_count_the_seeds_that_solve(sweep_dir):
    groups = sweep.summarize(sweep.read_sweep(sweep_dir), "test/acc", threshold=0.95, x="task.gap")
    assert [(g.settings["model"], g.settings["task.gap"]) for g in groups] == [
        ("lstm", "9"),
        ("lstm", "100"),
        ("rnn", "9"),
        ("rnn", "100"),
    ]
    lstm_9, lstm_100, rnn_9, rnn_100 = groups
    assert rnn_9.settings == {"model": "rnn", "task": "long_range", "task.gap": "9"}
    assert (rnn_9.n, rnn_9.mean, rnn_9.std) == (2, pytest.approx(0.95), pytest.approx(statistics.stdev([1.0, 0.9])))
    assert (rnn_9.solved, rnn_9.steps_to_solve) == (0.5, 100)
    assert (lstm_9.solved, lstm_9.steps_to_solve) == (1.0, 60)
    assert (rnn_100.solved, rnn_100.steps_to_solve, rnn_100.n, rnn_100.failed) == (0.0, None, 2, 1)
    assert (lstm_100.n, lstm_100.mean) == (1, 0.97)  # its second seed crashed

    figure = sweep.plot(groups, "task.gap", "test/acc", chance=0.125)
    (ax,) = figure.axes
    assert ax.get_xscale() == "log"
    assert sorted(text.get_text() for text in ax.get_legend().get_texts()) == ["chance", "lstm", "rnn"]


def test_failed_and_unfinished_jobs_are_reported_not_dropped(sweep_dir, tmp_path):
    jobs = sweep.read_sweep(sweep_dir)
    assert [job.status for job in jobs[6:]] == ["finished", "unfinished", "failed"]
    groups = sweep.summarize(jobs)
    table = sweep.markdown(jobs, groups, "test/acc", 0.95, "task.gap")
    assert "No metrics.json (killed or unfinished): job 7 (model=lstm, task=long_range, task.gap=100, seed=2)" in table
    assert (
        "- job 8 (model=rnn, task=long_range, task.gap=100, seed=3): TrainingDiverged: the loss became NaN at step 7"
        in table
    )
    sweep.write_csv(jobs, tmp_path / "jobs.csv")
    rows = list(csv.DictReader((tmp_path / "jobs.csv").open()))
    assert len(rows) == len(JOBS)
    assert (rows[7]["finished"], rows[7]["seed"], rows[7]["test/acc"], rows[7]["error"]) == ("False", "2", "", "")
    assert rows[8]["error"] == "TrainingDiverged: the loss became NaN at step 7"


def test_every_final_metric_is_averaged_over_seeds(sweep_dir, tmp_path):
    jobs = sweep.read_sweep(sweep_dir)
    groups = sweep.summarize(jobs)
    table = sweep.markdown(jobs, groups, "test/acc", 0.95, "task.gap")
    # model, task.gap, finished and failed seeds, then test/acc and val/steps_to_solve: mean ± std.
    assert "| lstm | 9 | 2 | 0 | 0.99 ± 0.014 | 60 ± 14 |" in table
    assert "| rnn | 100 | 2 | 1 | 0.13 ± 0.0071 | — |" in table
    sweep.write_groups_csv(groups, tmp_path / "groups.csv")
    rows = list(csv.DictReader((tmp_path / "groups.csv").open()))
    assert [(row["model"], row["task.gap"], row["finished"], row["failed"]) for row in rows][3] == (
        "rnn",
        "100",
        "2",
        "1",
    )
    assert float(rows[0]["val/steps_to_solve mean"]) == 60
    assert float(rows[0]["test/acc std"]) == pytest.approx(statistics.stdev([1.0, 0.98]))


@pytest.mark.parametrize(
    ("directory", "metric", "message"),
    [
        ("absent", "test/acc", "no such directory"),
        (".", "test/acc", "holds no job directories"),  # the sweep's parent
        ("sweep", "test/f1", "no job recorded 'test/f1'; their metrics.json hold test/acc, val/steps_to_solve$"),
    ],
)
def test_what_cannot_be_summarized_says_why(sweep_dir, directory, metric, message):
    with pytest.raises(sweep.SweepError, match=message):
        sweep.summarize(sweep.read_sweep(sweep_dir.parent / directory), metric)


def summarize(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/summarize.py", *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_summarize_writes_the_table_the_plot_and_the_jobs(sweep_dir, tmp_path):
    result = summarize(sweep_dir, "--chance", "0.125", "--out", tmp_path / "summary")
    assert result.returncode == 0, result.stderr
    assert "| lstm | 9 | 0.990 ± 0.014 | 2 | 100% | 60 |" in result.stdout
    assert "| rnn | 100 | 0.130 ± 0.007 | 2 | 0% | — |" in result.stdout
    for name in ("summary.md", "summary.png", "summary.csv", "summary_groups.csv"):
        assert (tmp_path / "summary" / name).stat().st_size > 0
    assert not (sweep_dir / "summary.md").exists()


def test_summarize_of_a_missing_directory_says_so_in_one_line(tmp_path):
    result = summarize(tmp_path / "absent")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'absent'}: no such directory\n"


def test_an_error_metric_counts_the_seeds_below_the_threshold(sweep_dir):
    # As for test/mse on the adding problem: a seed solves when the error is under the threshold.
    groups = sweep.summarize(sweep.read_sweep(sweep_dir), "test/acc", threshold=0.95, x="task.gap", below=True)
    rnn_9 = next(g for g in groups if (g.settings["model"], g.settings["task.gap"]) == ("rnn", "9"))
    assert rnn_9.solved == 0.5  # 0.9 < 0.95, 1.0 is not
    assert "solved (< 0.95)" in sweep.markdown([], groups, "test/acc", 0.95, "task.gap", below=True)
