"""Resume from any kill point of any task family: a run SIGKILLed at a moment of its own progress (mid-epoch, right
after the checkpoint of an epoch's end, during a validation, during the test) and resumed from the checkpoint it
left ends with the weights and the metrics.json of a run never interrupted.

The runs are small versions of each task's recipe, with what makes resuming hard left on: dropout (the random
state), a plateau scheduler that fires (patience 0), weight averaging, early stopping, ``trainer.max_steps``,
truncated BPTT validated twice per epoch. The killed run is a forked copy of the test process (no second start-up
of Python and torch); SIGKILL gives it no chance to clean up.
"""

from __future__ import annotations

import json
import os
import signal
import traceback
from pathlib import Path

import pytest
import torch
from helpers import QUIET, compose_config
from helpers.corpora import TEXT, TINY_CHAR_LM, pos_overrides, sentiment_overrides
from helpers.killer import KillAtMoment

from rnnlab.run.evaluate import load_checkpoint
from rnnlab.run.train import train

PLATEAU = ["scheduler.patience=0"]  # halve the rate after every validation that does not improve
RUNS = {
    "flip_stream": [
        "task=flip_stream",
        "model=deep_rnn",
        "model.dropout=0.3",
        "task.data.sizes.train=256",
        "task.data.batches_per_step=1",
        "trainer.min_epochs=3",
        "trainer.max_epochs=3",
    ],
    "long_range": [
        "task=long_range",
        "model=lstm",
        "model.hidden_size=16",
        "task.gap=10",
        "task.data.sizes={train:512,val:64,test:64}",
        "task.data.batches_per_step=1",
        "trainer.max_steps=48",  # three epochs of 16 steps: the budget is in steps, as in the recipe
    ],
    "pos": ["task=pos", "model=birnn", "trainer.max_epochs=3", *PLATEAU],
    "sentiment": ["task=sentiment", "model=rnn", "trainer.max_epochs=3", "task.data.batches_per_step=1"],
    "char_lm": TINY_CHAR_LM,
    "caption": [
        "task=caption",
        "model=rnn",
        "model.hidden_size=32",
        "task.data.eval_batch_size=64",
        "+trainer.limit_train_batches=8",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        "trainer.max_epochs=3",
    ],
    "translate": [
        "task=translate",
        "model=birnn",
        "model.hidden_size=32",
        "task.data.sizes={train:256,val:64,test:64}",
        "trainer.max_epochs=3",
        "trainer.min_epochs=3",
        *PLATEAU,
    ],
}
# In the default suite: the moment that used to fail (right after an epoch-end checkpoint) for every family, and
# each other moment on one family; the whole matrix with -m slow.
FAST = {("epoch_end", task) for task in RUNS} | {
    ("mid_epoch", "translate"),
    ("validation", "pos"),
    ("test", "flip_stream"),
}
MATRIX = [
    pytest.param(moment, task, marks=() if (moment, task) in FAST else pytest.mark.slow)
    for task in RUNS
    for moment in KillAtMoment.MOMENTS
]


@pytest.fixture(scope="module")
def corpora(treebank, polarity, tmp_path_factory) -> dict[str, list[str]]:
    text = tmp_path_factory.mktemp("text") / "text.txt"
    text.write_text(TEXT)
    return {
        # Weight averaging on, with a horizon these few steps see.
        "pos": [o for o in pos_overrides(treebank) if "weight_averaging" not in o]
        + ["callbacks.weight_averaging.decay=0.9"],
        "sentiment": sentiment_overrides(polarity),
        "char_lm": [f"task.data.path={text}"],
    }


def config(task: str, corpora: dict[str, list[str]], output_dir: Path, *overrides: str):
    # The run's own budget after the corpora's.
    overrides = [*corpora.get(task, []), *RUNS[task], *QUIET, "trainer.deterministic=true", *overrides]
    overrides += [
        "+callbacks.final._target_=helpers.killer.FinalWeights",
        f"+callbacks.final.path={output_dir}/final_weights.pt",
    ]
    return compose_config("train", overrides, output_dir)


def killed_run(cfg) -> None:
    """Train ``cfg`` in a forked child that the KillAtMoment callback SIGKILLs."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            train(cfg)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"not killed (status {status})"


def outcome(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The weights a run's training ended with (helpers.killer.FinalWeights) and its metrics.json."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.pop("checkpoint")  # a path inside each run's own directory
    return torch.load(run_dir / "final_weights.pt", weights_only=True), metrics


@pytest.fixture(scope="module")
def uninterrupted(corpora, tmp_path_factory) -> dict[str, tuple]:
    """Each task's run never interrupted, trained on first use."""
    runs: dict[str, tuple] = {}

    def get(task: str) -> tuple:
        if task not in runs:
            run_dir = tmp_path_factory.mktemp(f"uninterrupted_{task}")
            train(config(task, corpora, run_dir))
            runs[task] = (run_dir, *outcome(run_dir))
        return runs[task]

    return get


@pytest.mark.parametrize(("moment", "task"), MATRIX)
def test_killed_at_any_moment_and_resumed_ends_like_an_uninterrupted_run(
    uninterrupted, corpora, tmp_path, moment, task
):
    _, weights, metrics = uninterrupted(task)
    killed_dir, resumed_dir = tmp_path / "killed", tmp_path / "resumed"
    kill = [
        "+callbacks.kill._target_=helpers.killer.KillAtMoment",
        f"+callbacks.kill.moment={moment}",
        "+callbacks.kill.epoch=1",
    ]
    killed_run(config(task, corpora, killed_dir, *kill))
    assert not (killed_dir / "metrics.json").exists()

    assert_resumes_like(
        weights, metrics, config(task, corpora, resumed_dir, f"ckpt_path={killed_dir / 'checkpoints' / 'last.ckpt'}")
    )


def assert_resumes_like(weights: dict[str, torch.Tensor], metrics: dict[str, float], resume) -> None:
    train(resume)
    resumed_weights, resumed_metrics = outcome(Path(resume.paths.output_dir))
    assert resumed_weights.keys() == weights.keys()
    assert all(torch.equal(resumed_weights[name], weights[name]) for name in weights), "weights differ"
    assert resumed_metrics == metrics


def test_a_kill_while_a_checkpoint_is_written_leaves_the_previous_last_ckpt_whole(uninterrupted, corpora, tmp_path):
    _, weights, metrics = uninterrupted("flip_stream")
    killed_dir = tmp_path / "killed"
    # 8 steps per epoch: the validation that ends epoch 1 writes at step 16.
    kill = ["+callbacks.kill._target_=helpers.killer.KillDuringWrite", "+callbacks.kill.step=16"]
    killed_run(config("flip_stream", corpora, killed_dir, *kill))
    (partial,) = (killed_dir / "checkpoints").glob(".*.partial")
    assert partial.stat().st_size > 0  # killed half way through writing
    last = killed_dir / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["global_step"] == 8  # the previous validation's, whole
    assert_resumes_like(weights, metrics, config("flip_stream", corpora, tmp_path / "resumed", f"ckpt_path={last}"))


def test_resuming_a_finished_run_says_so_in_one_line_and_reports_the_same(uninterrupted, corpora, tmp_path, caplog):
    run_dir, weights, metrics = uninterrupted("flip_stream")
    last = run_dir / "checkpoints" / "last.ckpt"
    with caplog.at_level("INFO", logger="rnnlab"):
        assert_resumes_like(weights, metrics, config("flip_stream", corpora, tmp_path / "again", f"ckpt_path={last}"))
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Nothing left to train")]
    assert line == f"Nothing left to train: {last} ended its run at epoch 2, step 24; testing its best checkpoint"
