"""A checkpoint written before the package moved into layers (commit cc5d530: rnnlab.module, rnnlab.build, …) still
evaluates and resumes. Made there with: python scripts/train.py task=flip_stream model=rnn model.hidden_size=4
trainer.max_epochs=1 '~callbacks.early_stopping' (its test printed test/acc=1.0000 test/loss=0.4760)."""

from __future__ import annotations

import pytest
from helpers import REPO_ROOT

from rnnlab.run.evaluate import evaluate
from rnnlab.run.train import train

OLD = REPO_ROOT / "tests" / "fixtures" / "flip_stream_rnn4_before_layers.ckpt"
SETTINGS = ["model.hidden_size=4", f"ckpt_path={OLD}"]


def test_a_checkpoint_from_before_the_move_scores_what_it_scored_then(make_cfg):
    metrics, _ = evaluate(make_cfg("flip_stream", "rnn", *SETTINGS, config_name="eval"))
    assert metrics["test/acc"] == 1.0
    assert metrics["test/loss"] == pytest.approx(0.4760, abs=5e-5)


def test_a_checkpoint_from_before_the_move_resumes_training(make_cfg):
    metrics, objects = train(
        make_cfg("flip_stream", "rnn", *SETTINGS, "trainer.max_epochs=2", "~callbacks.early_stopping")
    )
    assert objects["trainer"].current_epoch == 2  # resumed after its one epoch, trained the second
    assert metrics["test/acc"] == 1.0
