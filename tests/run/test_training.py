"""Training solves every bit problem with every model; checkpoints re-evaluate to the same numbers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from helpers import MODELS, TASKS, compose_config, model_overrides
from omegaconf import open_dict

from rnnlab.run.config import ConfigError
from rnnlab.run.evaluate import evaluate
from rnnlab.run.train import train

logging.getLogger("lightning").setLevel(logging.WARNING)
BIT_TASKS = [task for task in TASKS if task.startswith("flip_")]  # long_range: tests/data/test_long_range.py


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", BIT_TASKS)
def test_every_bit_task_is_solved_by_every_model(make_cfg, task, model):
    metrics, objects = train(make_cfg(task, model, *model_overrides(model, task)))
    assert metrics["test/seq_acc"] >= 0.99
    assert metrics["val/seq_acc_best"] >= 0.99
    assert objects["trainer"].current_epoch < objects["cfg"].trainer.max_epochs  # stopped early: solved


def test_loop_implementation_trains_too(make_cfg):
    metrics, _ = train(make_cfg("flip_if_same", "deep_birnn", "model.impl=loop"))
    assert metrics["test/seq_acc"] >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("model", ["rnn", "gru", "lstm"])
def test_long_streams_of_50_bits(make_cfg, model):
    metrics, _ = train(make_cfg("flip_stream", model, "task.seq_len=50"))
    assert metrics["test/seq_acc"] >= 0.99


def test_same_seed_gives_identical_metrics(make_cfg):
    first, _ = train(make_cfg("flip_vector_padded", "gru", "trainer.deterministic=true"))
    second, _ = train(make_cfg("flip_vector_padded", "gru", "trainer.deterministic=true"))
    assert first == second


def test_run_writes_checkpoints_and_metrics(make_cfg):
    cfg = make_cfg("flip_stream", "rnn")
    metrics, _ = train(cfg)
    output_dir = Path(cfg.paths.output_dir)
    written = json.loads((output_dir / "metrics.json").read_text())
    assert written["test/seq_acc"] == metrics["test/seq_acc"]
    assert Path(written["checkpoint"]).parent == output_dir / "checkpoints"
    assert (output_dir / "checkpoints" / "last.ckpt").is_file()


def test_a_run_without_callbacks_trains_tests_and_writes_its_metrics(make_cfg, caplog):
    # callbacks=none leaves Lightning's own checkpoint, which monitors nothing: its best has no score.
    cfg = make_cfg("flip_stream", "rnn", "trainer.max_epochs=3")
    with open_dict(cfg):
        cfg.callbacks = compose_config(overrides=["callbacks=none"]).callbacks
    with caplog.at_level(logging.INFO, logger="rnnlab"):
        metrics, _ = train(cfg)
    written = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert written["test/acc"] == metrics["test/acc"] and Path(written["checkpoint"]).is_file()
    assert "(the last: nothing monitored)" in caplog.text


@pytest.mark.parametrize(
    ("task", "model", "eval_overrides"),
    [
        ("flip_stream", "rnn", []),
        ("flip_vector_padded", "deep_birnn", []),
        ("flip_if_same", "lstm", []),
        # A fused checkpoint loads into the loop implementation: same weights, same numbers.
        ("flip_stream", "deep_rnn", ["model.impl=loop"]),
    ],
)
def test_eval_reproduces_the_training_test_metrics(make_cfg, task, model, eval_overrides):
    trained, objects = train(make_cfg(task, model))
    checkpoint = json.loads((Path(objects["cfg"].paths.output_dir) / "metrics.json").read_text())["checkpoint"]
    evaluated, _ = evaluate(make_cfg(task, model, f"ckpt_path={checkpoint}", *eval_overrides, config_name="eval"))
    assert set(evaluated) == {"test/loss", "test/acc", "test/seq_acc"}
    for key, value in evaluated.items():
        assert abs(value - trained[key]) < 1e-6, key


@pytest.fixture(scope="module")
def stream_checkpoint(tmp_path_factory) -> str:
    from helpers import QUIET, compose_config

    output_dir = tmp_path_factory.mktemp("stream")
    train(compose_config("train", ["task=flip_stream", "model=rnn", *QUIET], output_dir))
    return str(output_dir / "checkpoints" / "last.ckpt")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task=flip_if_same"], "was trained on task=flip_stream, not task=flip_if_same"),
        (["model.hidden_size=64"], "was trained with model.hidden_size=32, but this config has model.hidden_size=64"),
        (["model=lstm"], "was trained with model.cell=rnn, but this config has model.cell=lstm"),
    ],
)
def test_eval_refuses_a_checkpoint_of_another_task_or_model(make_cfg, stream_checkpoint, overrides, message):
    task = next((o.split("=")[1] for o in overrides if o.startswith("task=")), "flip_stream")
    model = next((o.split("=")[1] for o in overrides if o.startswith("model=")), "rnn")
    rest = [o for o in overrides if not o.startswith(("task=", "model="))]
    cfg = make_cfg(task, model, f"ckpt_path={stream_checkpoint}", *rest, config_name="eval")
    with pytest.raises(ConfigError, match=message):
        evaluate(cfg)


def test_eval_names_a_missing_or_unreadable_checkpoint(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        evaluate(make_cfg("flip_stream", "rnn", f"ckpt_path={tmp_path}/nope.ckpt", config_name="eval"))
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="is not a readable rnnlab checkpoint"):
        evaluate(make_cfg("flip_stream", "rnn", f"ckpt_path={garbage}", config_name="eval"))


@pytest.mark.parametrize(
    ("batches_per_step", "budget", "steps"),
    [(3, [], 14), (8, [], 14), (3, ["+trainer.max_steps=9"], 9), (8, ["+trainer.max_steps=9"], 9)],
)
def test_several_batches_per_step_train_exactly_as_one(make_cfg, caplog, batches_per_step, budget, steps):
    # 200 sequences in batches of 32: 7 batches per epoch, so groups of 3 end with a shorter one. Dropout makes
    # the result depend on the random draws too. A budget of 9 steps ends inside a group (7 + 3, 7 + 7), which the
    # grouped run says, since a run resumed from it would skip the group's rest.
    settings = [
        "task.data.sizes.train=200",
        "model.output_dropout=0.3",
        "trainer.max_epochs=2",
        "trainer.min_epochs=2",
        "~callbacks.early_stopping",
        "test=false",
        *budget,
    ]
    _, one = train(make_cfg("flip_stream", "rnn", "task.data.batches_per_step=1", *settings))
    _, grouped = train(make_cfg("flip_stream", "rnn", f"task.data.batches_per_step={batches_per_step}", *settings))
    assert one["trainer"].global_step == grouped["trainer"].global_step == steps
    assert ("trainer.max_steps=9 ended inside a group of" in caplog.text) == bool(budget)
    for (name, a), b in zip(one["module"].state_dict().items(), grouped["module"].state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("task", ["flip_stream", "pos", "char_lm"])
def test_debug_overfit_trains_on_the_same_batches_every_epoch(make_cfg, task):
    extra = ["task.data.train_file=${task.data.dev_file}"] if task == "pos" else []
    metrics, objects = train(make_cfg(task, "rnn", "debug=overfit", "trainer.max_epochs=2", *extra))
    assert objects["trainer"].overfit_batches == 1 and "train/loss" in metrics
    loader = objects["trainer"].datamodule.train_dataloader()  # the loader Lightning is given
    assert isinstance(loader.sampler, torch.utils.data.SequentialSampler)  # Lightning keeps it: no reshuffling
