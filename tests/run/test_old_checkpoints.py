"""Checkpoints written by earlier versions still evaluate, resume and predict.

A checkpoint written before the package moved into layers (commit cc5d530: rnnlab.module, rnnlab.build, …) still
evaluates and resumes. Made there with: python scripts/train.py task=flip_stream model=rnn model.hidden_size=4
trainer.max_epochs=1 '~callbacks.early_stopping' (its test printed test/acc=1.0000 test/loss=0.4760)."""

from __future__ import annotations

import pytest
from helpers import REPO_ROOT, compose_config
from helpers.corpora import pos_overrides, word_cfg, write_conllu

from rnnlab.run.evaluate import evaluate
from rnnlab.run.predict import predict
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


# A POS tagger written before tags unseen in training were scored and before raw text was tokenised (label set:
# the 6 tags of the toy treebank, not the 17 of UD). Made there with tests/helpers/corpora.py's toy treebank:
# train(word_cfg("pos", "birnn", pos_overrides(treebank) + ["trainer.max_epochs=2", "task.encoder.word_dim=8",
# "model.hidden_size=8", "~callbacks.early_stopping"], ...)); its test printed test/acc=0.9834 test/f1=0.9832
# test/loss=0.3596, and predict tagged "Anna sees the green dog ." as Anna/PROPN sees/VERB the/DET green/ADJ
# dog/NOUN ./PUNCT.
OLD_POS = REPO_ROOT / "tests" / "fixtures" / "pos_toy_birnn8_before_treebanks.ckpt"
POS_SIZES = ["task.encoder.word_dim=8", "model.hidden_size=8", f"ckpt_path={OLD_POS}"]


def test_a_pos_checkpoint_from_before_treebanks_scores_what_it_scored_then(treebank, tmp_path):
    metrics, _ = evaluate(word_cfg("pos", "birnn", [*pos_overrides(treebank), *POS_SIZES], tmp_path, "eval"))
    assert metrics["test/acc"] == pytest.approx(0.98337, abs=1e-5)
    assert metrics["test/f1"] == pytest.approx(0.98323, abs=1e-5)
    assert metrics["test/loss"] == pytest.approx(0.35965, abs=5e-5)


def test_a_pos_checkpoint_from_before_treebanks_scores_a_tag_it_has_no_output_for(treebank, tmp_path):
    # PRON is none of its 6 outputs: "it" counts as an error instead of stopping the evaluation.
    other = write_conllu(tmp_path / "other.conllu", [[("Anna", "PROPN"), ("sees", "VERB"), ("it", "PRON")]])
    overrides = [*pos_overrides(treebank), *POS_SIZES, f"task.data.test_file={other}"]
    metrics, objects = evaluate(word_cfg("pos", "birnn", overrides, tmp_path, "eval"))
    assert metrics["test/acc"] == pytest.approx(2 / 3)
    assert objects["datamodule"].split_labels("test")[-1] == "PRON"


def test_a_pos_checkpoint_from_before_treebanks_tags_raw_text():
    cfg = compose_config("predict", ["task=pos", f"ckpt_path={OLD_POS}", "text='Anna sees the green dog.'"])
    assert predict(cfg) == "Anna/PROPN sees/VERB the/DET green/ADJ dog/NOUN ./PUNCT"
