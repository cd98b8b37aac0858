"""Translation with attention and beam search through the scripts' entry points: training with either attention
and either encoder implementation, the predict command's heat map, and eval scoring each decoding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import QUIET, compose_config
from matplotlib.image import imread
from omegaconf import open_dict

from rnnlab.errors import ConfigError
from rnnlab.run.evaluate import evaluate
from rnnlab.run.predict import predict
from rnnlab.run.train import train

TINY = ["task=translate", "trainer.max_epochs=1", "task.data.sizes.train=256", "task.data.sizes.val=32"]
TINY_TEST = ["task.data.sizes.test=32", "model.hidden_size=32"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """A translation checkpoint per attention, one epoch on a few dates: its run directory."""
    runs = {}
    for attention in ("none", "additive", "dot"):
        output_dir = tmp_path_factory.mktemp(f"translate_{attention}")
        overrides = [*TINY, *TINY_TEST, *QUIET, f"task.decoder.attention={attention}"]
        train(compose_config("train", overrides, output_dir))
        runs[attention] = output_dir
    return runs


def predict_cfg(run: Path, *overrides: str):
    return compose_config("predict", ["task=translate", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", *overrides])


@pytest.mark.parametrize("attention", ["additive", "dot"])
def test_a_run_with_attention_draws_where_it_looked_after_validation_and_test(checkpoints, attention):
    run = checkpoints[attention]
    for stage in ("val", "test"):
        image = imread(run / f"attention_{stage}.png")
        assert image.shape[0] > 100 and image.shape[1] > 100
    assert not list(checkpoints["none"].glob("attention_*.png")), "without attention the callback does nothing"


@pytest.mark.parametrize("attention", ["additive", "dot"])
@pytest.mark.parametrize("decode", ["greedy", "beam"])
def test_predict_prints_the_translation_and_writes_the_heat_map(checkpoints, tmp_path, attention, decode):
    png = tmp_path / "maps" / "attention.png"
    out = predict(predict_cfg(checkpoints[attention], "text='3 Mar 1998'", f"decode={decode}", f"attention_png={png}"))
    # One epoch on 256 dates: a date's characters, not yet the date (beam search may even prefer ending at once).
    assert set(out) <= set("0123456789-")
    image = imread(png)
    assert image.ndim == 3 and image.shape[0] > 100


def test_a_heat_map_needs_a_decoder_with_attention_and_nothing_is_written(checkpoints, tmp_path):
    png = tmp_path / "attention.png"
    with pytest.raises(ConfigError, match="this checkpoint's decoder has no attention"):
        predict(predict_cfg(checkpoints["none"], "text='3 Mar 1998'", f"attention_png={png}"))
    with pytest.raises(ConfigError, match="beam_size=0 must be a positive integer"):
        predict(
            predict_cfg(checkpoints["dot"], "text='3 Mar 1998'", "decode=beam", "beam_size=0", f"attention_png={png}")
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
def test_eval_scores_each_decoding_and_a_beam_of_one_scores_as_greedy(checkpoints, tmp_path, attention):
    checkpoint = checkpoints[attention] / "checkpoints" / "last.ckpt"
    overrides = [*TINY, *TINY_TEST, f"task.decoder.attention={attention}", f"ckpt_path={checkpoint}"]
    metrics, _ = evaluate(
        compose_config("eval", [*overrides, "trainer.accelerator=cpu", "decode=[greedy,beam]", "beam_size=1"], tmp_path)
    )
    assert {"greedy/test/exact", "beam/test/exact", "greedy/test/loss", "beam/test/gen_char_acc"} <= set(metrics)
    assert metrics["beam/test/exact"] == metrics["greedy/test/exact"]
    assert metrics["beam/test/gen_char_acc"] == metrics["greedy/test/gen_char_acc"]
    assert json.loads((tmp_path / "metrics.json").read_text())["beam/test/exact"] == metrics["beam/test/exact"]
    for method in ("greedy", "beam"):
        # Every date written wrong, by its index in the split: as many as exact match leaves out.
        lines = (tmp_path / f"mistakes_test_{method}.md").read_text().splitlines()
        wrong = [line for line in lines if line.startswith("- ")]
        assert len(wrong) == round((1 - metrics[f"{method}/test/exact"]) * 32)
        assert all("(expected `" in line for line in wrong) and len({line.split(":")[0] for line in wrong}) == len(
            wrong
        )
    wide, _ = evaluate(
        compose_config("eval", [*overrides, "trainer.accelerator=cpu", "decode=beam"], tmp_path / "wide")
    )
    assert 0 <= wide["test/exact"] <= 1 and "beam/test/exact" not in wide


def test_a_checkpoint_from_before_attention_existed_still_evaluates(checkpoints, tmp_path):
    """Translation checkpoints written before task.decoder.attention existed were trained without attention."""
    checkpoint = torch.load(checkpoints["none"] / "checkpoints" / "last.ckpt", weights_only=True)
    del checkpoint["hyper_parameters"]["config"]["task"]["decoder"]["attention"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    cfg = compose_config("eval", [*TINY, *TINY_TEST, f"ckpt_path={old}", "trainer.accelerator=cpu"], tmp_path / "eval")
    assert 0 <= evaluate(cfg)[0]["test/exact"] <= 1
    out = predict(compose_config("predict", ["task=translate", f"ckpt_path={old}", "text='3 Mar 1998'"]))
    assert set(out) <= set("0123456789-")
    with pytest.raises(ConfigError, match=r"was trained with task\.decoder="):
        evaluate(
            compose_config("eval", [*TINY, *TINY_TEST, f"ckpt_path={old}", "task.decoder.attention=dot"], tmp_path)
        )


@pytest.mark.parametrize("attention", ["additive", "dot"])
def test_the_loop_implementation_trains_with_attention(tmp_path, attention):
    overrides = [*TINY, *TINY_TEST, *QUIET, "model=lstm", "model.impl=loop", f"task.decoder.attention={attention}"]
    metrics, _ = train(compose_config("train", [*overrides, "task.data.sizes.train=64", "test=false"], tmp_path))
    assert 0 <= metrics["val/exact"] <= 1 and metrics["train/loss"] > 0


@pytest.mark.slow
def test_with_bahdanau_attention_a_vanilla_rnn_translates_every_test_date(tmp_path):
    """docs/attention.md: 100 % of the test dates after two epochs, greedy and with a beam of 5."""
    cfg = compose_config("train", ["task=translate", "model=rnn", "task.decoder.attention=additive", *QUIET], tmp_path)
    metrics, _ = train(cfg)
    assert metrics["test/exact"] >= 0.99
    checkpoint = json.loads((tmp_path / "metrics.json").read_text())["checkpoint"]
    overrides = ["task=translate", "model=rnn", "task.decoder.attention=additive", f"ckpt_path={checkpoint}"]
    scored, _ = evaluate(
        compose_config("eval", [*overrides, "trainer.accelerator=cpu", "decode=beam"], tmp_path / "eval")
    )
    assert scored["test/exact"] >= 0.99


def test_captions_are_scored_and_predicted_with_a_beam_too(tmp_path):
    tiny = ["task=caption", "trainer.max_epochs=1", "task.data.sizes.train=256", "task.data.sizes.val=64"]
    tiny = [*tiny, "task.data.sizes.test=64", "model.hidden_size=32"]
    train(compose_config("train", [*tiny, *QUIET, "test=false"], tmp_path / "train"))
    checkpoint = tmp_path / "train" / "checkpoints" / "last.ckpt"
    cfg = compose_config(
        "eval", [*tiny, f"ckpt_path={checkpoint}", "trainer.accelerator=cpu", "decode=[greedy,beam]", "beam_size=1"]
    )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "eval")
    metrics, _ = evaluate(cfg)
    assert metrics["beam/test/exact"] == metrics["greedy/test/exact"]
    assert metrics["beam/test/word_acc"] == metrics["greedy/test/word_acc"]
    out = predict(compose_config("predict", ["task=caption", f"ckpt_path={checkpoint}", "index=3", "decode=beam"]))
    assert set(out.splitlines()[-1]) <= set("abcdefghijklmnopqrstuvwxyz ")
