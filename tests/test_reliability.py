"""Reliability: SIGKILL anywhere and resume gives the weights of a run never interrupted; SIGTERM saves and says
how to resume; checkpoints that would unpickle arbitrary objects are refused; the same seed gives the same run."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import DATA_DIR, REPO_ROOT, TASKS, compose_config

from rnnlab.errors import ConfigError
from rnnlab.evaluate import evaluate, load_checkpoint
from rnnlab.train import train

# 512 training sequences in batches of 32: 16 optimizer steps per epoch; dropout makes the run depend on the RNG.
RUN = [
    "task=flip_stream",
    "model=deep_rnn",
    "model.dropout=0.3",
    "model.output_dropout=0.3",
    "task.data.sizes.train=512",
    "trainer.max_epochs=4",
    "trainer.min_epochs=4",
    "trainer.deterministic=true",
    "~callbacks.early_stopping",
    "~callbacks.rich_progress_bar",
    "~logger",
    "~callbacks.lr_monitor",
    "test=false",
]


def train_process(log_dir: Path, *overrides: str, wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    env = {**os.environ, "RNNLAB_LOG_DIR": str(log_dir), "PYTHONPATH": str(REPO_ROOT / "tests" / "helpers")}
    command = [sys.executable, "scripts/train.py", *RUN, *overrides]
    if not wait:
        return subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def run_dirs(log_dir: Path) -> list[Path]:
    return sorted((log_dir / "flip_stream" / "train").iterdir(), key=lambda p: p.stat().st_mtime)


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert checkpoint["epoch"] == 3
    return checkpoint["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    log_dir = tmp_path_factory.mktemp("uninterrupted")
    result = train_process(log_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return final_weights(run_dirs(log_dir)[0])


def kill_and_resume(log_dir: Path, step: int, when: str, resume_with: str) -> dict[str, torch.Tensor]:
    killed = train_process(
        log_dir,
        "+callbacks.kill._target_=killer.KillAt",
        f"+callbacks.kill.step={step}",
        f"+callbacks.kill.when={when}",
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (killed_dir,) = run_dirs(log_dir)
    last = killed_dir / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["state_dict"]  # intact, even when the kill came during a save
    resumed = train_process(log_dir, f"ckpt_path={last if resume_with == 'path' else 'last'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return final_weights(run_dirs(log_dir)[-1])


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs after resuming"


def test_killed_mid_epoch_and_resumed_ends_bit_identical(uninterrupted, tmp_path):
    assert_identical(kill_and_resume(tmp_path, step=21, when="batch", resume_with="last"), uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize(("step", "when"), [(32, "batch"), (40, "save"), (63, "batch")])
def test_killed_anywhere_and_resumed_ends_bit_identical(uninterrupted, tmp_path, step, when):
    assert_identical(kill_and_resume(tmp_path, step=step, when=when, resume_with="path"), uninterrupted)


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    process = train_process(tmp_path, "trainer.max_epochs=400", "trainer.min_epochs=400", wait=False)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "flip_stream" / "train").glob("*/checkpoints/last.ckpt")):
        assert time.monotonic() < deadline and process.poll() is None, "no checkpoint was written"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    (run_dir,) = run_dirs(tmp_path)
    assert (run_dir / "checkpoints" / "interrupted.ckpt").is_file()
    assert process.returncode == 128 + signal.SIGTERM
    assert "SIGTERM at epoch" in output
    assert f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}" in output


def test_resume_last_without_an_earlier_run_says_so(make_cfg):
    with pytest.raises(ConfigError, match="ckpt_path=last: no earlier run of this configuration"):
        train(make_cfg("flip_stream", "rnn", "ckpt_path=last"))


class RunsCode:
    """Unpickling this calls a function: what a malicious checkpoint does."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / f"rnnlab-pwned-{os.getpid()}"


@pytest.mark.parametrize("script", ["eval", "predict", "train"])
def test_a_checkpoint_that_would_run_code_is_refused_and_never_runs(tmp_path, script):
    MARKER.unlink(missing_ok=True)
    crafted = tmp_path / "shared.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"config": RunsCode()}}, crafted)
    overrides = [f"ckpt_path={crafted}", "task=flip_stream"]
    cfg = compose_config(script, [*overrides, "text=hello"] if script == "predict" else overrides, tmp_path)
    with pytest.raises(ConfigError, match=r"unpickling them could run code, so it is refused.*trust_checkpoint=true"):
        if script == "eval":
            evaluate(cfg)
        elif script == "predict":
            from rnnlab.predict import predict

            predict(cfg)
        else:
            train(cfg)
    assert not MARKER.exists()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(crafted, weights_only=True)


FEW_BATCHES = ["+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2", "+trainer.limit_test_batches=2"]
SMALL = ["trainer.max_epochs=2", "trainer.min_epochs=2", "~callbacks.early_stopping", "trainer.deterministic=true"]
PER_TASK = {
    "char_lm": [],
    "caption": ["+trainer.limit_train_batches=5"],
    "translate": ["task.data.sizes.train=128", "task.data.sizes.val=32", "task.data.sizes.test=32"],
    "pos": ["task.data.train_file=${task.data.dev_file}", *FEW_BATCHES],
    "sentiment": FEW_BATCHES,
}


@pytest.mark.parametrize("task", TASKS)
def test_two_runs_with_the_same_seed_give_identical_metrics(make_cfg, task):
    overrides = [*SMALL, *PER_TASK.get(task, ["task.data.sizes.train=256"]), f"paths.data_dir={DATA_DIR}"]
    first, _ = train(make_cfg(task, "gru", *overrides))
    second, _ = train(make_cfg(task, "gru", *overrides))
    assert "val/loss" in first
    assert first == second


def test_deterministic_runs_also_fix_the_cublas_workspace(make_cfg, monkeypatch):
    from rnnlab.runs import make_trainer

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    make_trainer(make_cfg("flip_stream", "rnn"))
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    make_trainer(make_cfg("flip_stream", "rnn", "trainer.deterministic=true"))
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
