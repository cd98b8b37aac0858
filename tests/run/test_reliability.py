"""Reliability: SIGKILL anywhere and resume gives the weights of a run never interrupted; SIGTERM saves and says
how to resume; checkpoints that would unpickle arbitrary objects are refused; the same seed gives the same run."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import DATA_DIR, REPO_ROOT, TASKS, compose_config
from helpers.corpora import TEXT, TINY_CHAR_LM
from omegaconf import OmegaConf

from rnnlab.errors import ConfigError
from rnnlab.run.evaluate import evaluate, load_checkpoint
from rnnlab.run.train import find_last_checkpoint, train

QUIET_RUN = ["~callbacks.early_stopping", "~callbacks.rich_progress_bar", "~logger", "~callbacks.lr_monitor"]
# 512 training sequences in batches of 32: 16 optimizer steps per epoch; dropout makes the run depend on the RNG.
# One batch per Lightning step, so that a kill can come after any optimizer step.
BITS = [
    "task=flip_stream",
    "task.data.batches_per_step=1",
    "model=deep_rnn",
    "model.dropout=0.3",
    "model.output_dropout=0.3",
    "task.data.sizes.train=512",
    "trainer.max_epochs=4",
    "trainer.min_epochs=4",
    "trainer.deterministic=true",
    "test=false",
    *QUIET_RUN,
]
CHAR_LM = [
    *TINY_CHAR_LM,
    "trainer.min_epochs=3",
    "trainer.deterministic=true",
    "~callbacks.generated_samples",
    "test=false",
    *QUIET_RUN,
]


def train_process(
    log_dir: Path, run: list[str], *overrides: str, wait: bool = True
) -> subprocess.Popen | subprocess.CompletedProcess:
    env = {**os.environ, "RNNLAB_LOG_DIR": str(log_dir), "PYTHONPATH": str(REPO_ROOT / "tests")}
    command = [sys.executable, "scripts/train.py", *run, *overrides]
    if not wait:
        return subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def run_dirs(log_dir: Path) -> list[Path]:
    return sorted(log_dir.glob("*/train/*"), key=lambda p: p.stat().st_mtime)


def final_weights(run_dir: Path, epochs: int) -> dict[str, torch.Tensor]:
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert checkpoint["epoch"] == epochs - 1
    return checkpoint["state_dict"]


def uninterrupted_run(log_dir: Path, run: list[str], epochs: int) -> dict[str, torch.Tensor]:
    result = train_process(log_dir, run)
    assert result.returncode == 0, result.stderr[-3000:]
    return final_weights(run_dirs(log_dir)[0], epochs)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    return uninterrupted_run(tmp_path_factory.mktemp("uninterrupted"), BITS, epochs=4)


def kill_and_resume(
    log_dir: Path, step: int, when: str, resume_with: str, run: list[str] = BITS, epochs: int = 4
) -> tuple[dict[str, torch.Tensor], dict, subprocess.CompletedProcess]:
    """Stops a run at ``step`` (helpers.killer.KillAt) and resumes it; returns the final weights, the checkpoint
    it resumed from and the stopped process."""
    killed = train_process(
        log_dir,
        run,
        "+callbacks.kill._target_=helpers.killer.KillAt",
        f"+callbacks.kill.step={step}",
        f"+callbacks.kill.when={when}",
    )
    stopped = {"term": 128 + signal.SIGTERM, "int": 128 + signal.SIGINT}
    assert killed.returncode == stopped.get(when, -signal.SIGKILL), killed.stderr[-3000:]
    (killed_dir,) = run_dirs(log_dir)
    checkpoint = killed_dir / "checkpoints" / ("interrupted.ckpt" if when in stopped else "last.ckpt")
    resumed_from = load_checkpoint(checkpoint)
    assert resumed_from["state_dict"]  # intact, even when the kill came during a save
    resumed = train_process(log_dir, run, f"ckpt_path={checkpoint if resume_with == 'path' else 'last'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "not resumable" not in resumed.stderr
    return final_weights(run_dirs(log_dir)[-1], epochs), resumed_from, killed


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs after resuming"


def batches_done(checkpoint: dict) -> int:
    """How far into its epoch a checkpoint was written (0 at an epoch's end)."""
    progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["completed"]
    return 0 if checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["is_last_batch"] else progress


def test_killed_mid_epoch_and_resumed_ends_bit_identical(uninterrupted, tmp_path):
    weights, *_ = kill_and_resume(tmp_path, step=21, when="batch", resume_with="last")
    assert_identical(weights, uninterrupted)


@pytest.mark.parametrize("batches_per_step", [1, 4])
def test_resumed_from_a_mid_epoch_checkpoint_ends_bit_identical(uninterrupted, tmp_path, batches_per_step):
    # Validating twice per epoch writes last.ckpt at step 24, 8 batches into epoch 1; validation changes neither
    # the weights nor the random state, so the run must still end with the uninterrupted run's weights, also with
    # several batches per Lightning step.
    run = [*BITS, "trainer.val_check_interval=0.5", f"task.data.batches_per_step={batches_per_step}"]
    weights, resumed_from, _ = kill_and_resume(tmp_path, step=27, when="batch", resume_with="path", run=run)
    assert (resumed_from["global_step"], batches_done(resumed_from)) == (24, 8 // batches_per_step)
    assert_identical(weights, uninterrupted)


def test_a_language_model_resumed_mid_epoch_ends_bit_identical(tmp_path):
    # The loader's position and the streams' carried hidden state both come back from the checkpoint.
    text = tmp_path / "text.txt"
    text.write_text(TEXT)
    run = [*CHAR_LM, f"task.data.path={text}"]
    uninterrupted = uninterrupted_run(tmp_path / "uninterrupted", run, epochs=3)
    weights, resumed_from, _ = kill_and_resume(
        tmp_path / "killed", step=150, when="batch", resume_with="last", run=run, epochs=3
    )
    assert batches_done(resumed_from) == 11
    assert resumed_from["train_stream_state"][0].shape == (1, 4, 16)
    assert_identical(weights, uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize(("step", "when"), [(32, "batch"), (40, "save"), (63, "batch")])
def test_killed_anywhere_and_resumed_ends_bit_identical(uninterrupted, tmp_path, step, when):
    weights, *_ = kill_and_resume(tmp_path, step=step, when=when, resume_with="path")
    assert_identical(weights, uninterrupted)


@pytest.mark.parametrize(("when", "said"), [("term", "SIGTERM"), ("int", "Ctrl-C")])
def test_sigterm_or_ctrl_c_saves_a_checkpoint_that_resumes_bit_identical(uninterrupted, tmp_path, when, said):
    # The signal after step 21 (mid-epoch, between validations); ckpt_path=last picks the newer interrupted.ckpt.
    weights, resumed_from, stopped = kill_and_resume(tmp_path, step=21, when=when, resume_with="last")
    run_dir = run_dirs(tmp_path)[0]
    assert resumed_from["global_step"] == 21
    assert f"{said} at epoch 1, step 21" in stopped.stdout
    assert f"ckpt_path={run_dir / 'checkpoints' / 'interrupted.ckpt'}" in stopped.stdout
    assert_identical(weights, uninterrupted)


def test_resume_last_without_an_earlier_run_says_so(make_cfg):
    with pytest.raises(ConfigError, match="ckpt_path=last: no earlier run of this configuration"):
        train(make_cfg("flip_stream", "rnn", "ckpt_path=last"))


def test_resume_last_skips_a_truncated_or_foreign_checkpoint_and_says_so(tmp_path, caplog):
    runs = tmp_path / "log" / "flip_stream" / "train"
    overrides = ["task=flip_stream", "trainer.max_epochs=1", "trainer.min_epochs=1", "test=false", *QUIET_RUN]
    overrides += ["trainer.accelerator=cpu", f"paths.log_dir={tmp_path / 'log'}"]
    good = runs / "1_good"
    train(compose_config("train", overrides, good))
    last = good / "checkpoints" / "last.ckpt"
    foreign = load_checkpoint(last)
    foreign["hyper_parameters"]["config"]["task"]["name"] = "flip_if_same"
    for run, write in (
        ("2_foreign", lambda path: torch.save(foreign, path)),
        ("3_cut_short", lambda path: path.write_bytes(last.read_bytes()[:2000])),
    ):
        (runs / run / "checkpoints").mkdir(parents=True)
        write(runs / run / "checkpoints" / "last.ckpt")
    for run in ("1_good", "2_foreign", "3_cut_short"):  # the same configuration, the newest last
        (runs / run / ".hydra").mkdir(exist_ok=True)
        OmegaConf.save(compose_config("train", overrides, good), runs / run / ".hydra" / "config.yaml")
        os.utime(runs / run / "checkpoints" / "last.ckpt", (int(run[0]) * 1e9,) * 2)

    resume = compose_config("train", [*overrides, "ckpt_path=last"], tmp_path / "resumed")
    assert find_last_checkpoint(resume)[0] == last
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ckpt_path=last: skipping")]
    assert [line.split(": ")[2] for line in skipped] == [
        f"ckpt_path={runs / '3_cut_short' / 'checkpoints' / 'last.ckpt'} is not a readable rnnlab checkpoint "
        "(RuntimeError)",
        f"{runs / '2_foreign' / 'checkpoints' / 'last.ckpt'} was trained on task=flip_if_same, not task=flip_stream",
    ]
    last.unlink()
    with pytest.raises(ConfigError, match=r"no earlier run of this configuration .* has a usable checkpoints/last"):
        find_last_checkpoint(resume)


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
            from rnnlab.run.predict import predict

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
    "caption": ["task.data.sizes.train=160", "task.data.sizes.val=64", "task.data.sizes.test=64"],
    "translate": ["task.data.sizes.train=128", "task.data.sizes.val=32", "task.data.sizes.test=32"],
    "pos": ["task.data.train_file=${task.data.dev_file}", *FEW_BATCHES],
    "sentiment": FEW_BATCHES,
}


@pytest.mark.parametrize("task", TASKS)
def test_two_runs_with_the_same_seed_give_identical_metrics(make_cfg, task):
    overrides = [*SMALL, *PER_TASK.get(task, ["task.data.sizes.train=256"]), f"paths.data_dir={DATA_DIR}"]
    first, _ = train(make_cfg(task, "gru", *overrides))
    second, _ = train(make_cfg(task, "gru", *overrides))
    assert any(key.startswith("val/") for key in first)  # it validated
    assert first == second


def test_deterministic_runs_also_fix_the_cublas_workspace(make_cfg, monkeypatch):
    from rnnlab.run.trainer import make_trainer

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    make_trainer(make_cfg("flip_stream", "rnn"))
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    make_trainer(make_cfg("flip_stream", "rnn", "trainer.deterministic=true"))
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
