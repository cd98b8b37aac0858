"""Commands of README and docs/, run as a user types them (in a subprocess, outputs under tmp_path)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, TASKS

TRAIN = "python scripts/train.py"
EVAL = "python scripts/eval.py task=flip_stream model=rnn ckpt_path="
SHOW = "python scripts/show_data.py task=flip_stream split=train n=10"
SWEEP = "python scripts/train.py -m model=rnn,gru task=flip_stream,flip_if_same"


def run(command: str, log_dir: Path) -> subprocess.CompletedProcess:
    """Run `python scripts/...` with this interpreter from the repository root."""
    args = [sys.executable, *shlex.split(command)[1:]]
    env = {**os.environ, "RNNLAB_LOG_DIR": str(log_dir)}
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def succeeds(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


CHAR_TASKS = [
    "python scripts/train.py task=char_lm",
    "python scripts/train.py experiment=shakespeare_lstm",
    "python scripts/train.py experiment=shakespeare_rnn",
    "python scripts/train.py task=caption model=rnn",
    "python scripts/train.py task=translate model=birnn",
]


# Where each command run below is shown to the user: the page must still show it as run here.
SHOWN_ON = [
    ("README.md", TRAIN),
    ("docs/operations.md", EVAL),
    ("docs/tasks.md", SHOW),
    ("docs/configuration.md", SWEEP),
    *[("docs/tasks.md", command) for command in CHAR_TASKS],
]


@pytest.mark.parametrize(("page", "command"), SHOWN_ON)
def test_the_docs_show_these_commands(page, command):
    assert command in (REPO_ROOT / page).read_text()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    log_dir = tmp_path_factory.mktemp("outputs")
    result = succeeds(run(TRAIN, log_dir))
    (run_dir,) = (log_dir / "flip_stream" / "train").iterdir()
    return run_dir, result


def test_default_training_solves_problem_3_and_writes_its_outputs(default_run):
    run_dir, result = default_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["val/seq_acc_best"] == 1.0
    assert metrics["test/seq_acc"] >= 0.99
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert Path(metrics["checkpoint"]).is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    output = result.stdout + result.stderr
    for line in ("Best checkpoint:", "Last checkpoint:", f"tensorboard --logdir {run_dir}", "test/seq_acc="):
        assert line in output


def test_the_default_run_prints_what_a_user_acts_on_and_its_log_keeps_it(default_run):
    run_dir, result = default_run
    output = result.stdout + result.stderr
    # What each run starts with: the network and optimizer, and what the task's recipe set.
    assert "Model: rnn (fused), 1 layer(s) × 32 hidden, unidirectional; optimizer Adam lr=0.01" in output
    assert "Recipe conf/recipe/flip_stream.yaml set: trainer.min_epochs=3, trainer.max_epochs=60" in output
    for noise in ("smaller than the logging interval", "min_epochs=3` or `min_steps", "Total FLOPs", "litmodels"):
        assert noise not in output, noise
    log = (run_dir / "train.log").read_text()
    for line in (
        "Model: rnn",
        "Recipe conf/recipe/flip_stream.yaml",
        "Seed set to 12345",
        "Network: ",
        "Epoch 0: ",
        "Epoch 2: ",
        "Test metrics:    test/acc=",
    ):
        assert line in log, line


def test_eval_prints_the_training_test_metrics(default_run, tmp_path):
    run_dir, _ = default_run
    trained = json.loads((run_dir / "metrics.json").read_text())
    result = succeeds(run(EVAL + trained["checkpoint"], tmp_path))
    (eval_dir,) = (tmp_path / "flip_stream" / "eval").iterdir()
    evaluated = json.loads((eval_dir / "metrics.json").read_text())
    for key in ("test/loss", "test/acc", "test/seq_acc"):
        assert abs(evaluated[key] - trained[key]) < 1e-6
        assert key in result.stdout  # Lightning's test table, as printed by training


def test_show_data_prints_json_lines_and_writes_nothing(tmp_path):
    lines = succeeds(run(SHOW, tmp_path)).stdout.splitlines()
    assert len(lines) == 10
    for line in lines:
        record = json.loads(line)
        assert [1 - bit for bit in record["input"]] == record["target"]
    assert not any(tmp_path.iterdir())


def test_unknown_task_is_one_line_that_lists_the_available_ones(tmp_path):
    result = run(f"{TRAIN} task=flip_strem", tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()  # not Hydra's block with its config search path
    assert line.startswith("error: task=flip_strem is not a task: did you mean flip_stream? (tasks: ")
    assert all(task in line for task in TASKS)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("override", "hint"),
    [
        ("model.hiden_size=64", "model.hiden_size is not a setting: did you mean model.hidden_size?"),
        ("optimizer.learning_rate=0.1", "optimizer.learning_rate is not a setting; optimizer has lr, weight_decay"),
        ("model.zzz=1", "model.zzz is not a setting; model has cell, impl,"),
    ],
)
def test_a_mistyped_key_gets_the_nearest_ones(tmp_path, override, hint):
    result = run(f"{TRAIN} {override}", tmp_path)
    assert result.returncode == 2
    key = override.split("=")[0]
    error, hint_line = result.stderr.splitlines()  # one error line and the hint, not Hydra's block
    assert error == f"error: Could not override '{key}'."
    assert hint_line.startswith(f"hint: {hint}")
    assert not any(tmp_path.iterdir())


def test_impossible_size_stops_with_one_line_before_training(tmp_path):
    result = run(f"{TRAIN} model.hidden_size=0", tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: model.hidden_size=0 must be a positive integer, e.g. model.hidden_size=16"
    assert not list(tmp_path.rglob("*.ckpt"))


def test_multirun_sweep_gives_each_job_its_directory(tmp_path):
    succeeds(run(SWEEP, tmp_path))
    (sweep_dir,) = (tmp_path / "multirun" / "train").iterdir()
    jobs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir())
    assert jobs == ["0", "1", "2", "3"]
    for job in jobs:
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        assert metrics["test/seq_acc"] >= 0.99 and metrics["val/steps_to_solve"] > 0

    # ... and scripts/summarize.py turns the sweep into a table and a plot, one row per model and task.
    result = succeeds(run(f"python scripts/summarize.py {sweep_dir} --x model", tmp_path))
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| gru |", "| rnn |"))]
    assert len(rows) == 4
    assert all(" 100% " in row for row in rows)
    assert (sweep_dir / "summary.md").is_file() and (sweep_dir / "summary.png").is_file()


@pytest.mark.slow
@pytest.mark.heavy  # ~30 s; CI runs the summary on a sweep above and the joblib launcher in tests/sweeps
def test_long_range_sweep_and_summary_end_to_end(tmp_path):
    # The README's long-range sweep in miniature: two gaps, two models, two seeds, a small step budget.
    sweep = "python scripts/train.py -m task=long_range task.gap=3,4 model=rnn,gru seed=1,2 trainer.max_steps=300"
    succeeds(run(sweep, tmp_path))
    (sweep_dir,) = (tmp_path / "multirun" / "train").iterdir()
    result = succeeds(run(f"python scripts/summarize.py {sweep_dir} --x task.gap --chance 0.125", tmp_path))
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| gru |", "| rnn |"))]
    assert len(rows) == 4  # model × gap, each over 2 seeds
    assert all(row.split("|")[4].strip() == "2" for row in rows)  # | model | gap | mean ± std | seeds | ...
    assert (sweep_dir / "summary.png").is_file() and (sweep_dir / "summary.csv").is_file()
