"""Every task × model composes and builds; impossible settings stop before anything is built."""

from __future__ import annotations

import re

import pytest
import torch
from helpers import CHAR_TASKS, GENERATED_TASKS, MODELS, REGRESSION_TASKS, TASKS, WORD_TASKS, compose_config
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from rnnlab.models.gate_init import sequence_length
from rnnlab.run.build import build_module
from rnnlab.run.config import CONFIG_DIR, ConfigError, describe_run, validate
from rnnlab.run.datamodule import build_datamodule


def test_the_issue_lists_every_task_and_model():
    assert GENERATED_TASKS == [
        "flip_bit",
        "flip_if_same",
        "flip_stream",
        "flip_vector",
        "flip_vector_padded",
        "long_range",
    ]
    assert sorted(set(TASKS) - set(GENERATED_TASKS)) == sorted([*CHAR_TASKS, *WORD_TASKS, *REGRESSION_TASKS])
    assert MODELS == [
        "bilstm",
        "birnn",
        "deep_birnn",
        "deep_rnn",
        "gru",
        "gru_chrono",
        "lstm",
        "lstm_chrono",
        "lstm_forget1",
        "rnn",
    ]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", GENERATED_TASKS)
def test_every_task_and_model_composes_builds_and_predicts(make_cfg, task, model):
    cfg = make_cfg(task, model)
    if model.endswith("chrono") and sequence_length(cfg.task) < 3:  # one-step tasks: no time to span
        with pytest.raises(ConfigError, match=f"task {task} has {sequence_length(cfg.task)} step"):
            validate(cfg)
        return
    validate(cfg)
    assert cfg.task.name == task
    datamodule, module = build_datamodule(cfg), build_module(cfg)
    batch = next(iter(datamodule.train_dataloader()))[0]  # the first of a step's batches
    logits = module(batch["input"])
    assert logits.shape == (*batch["target"].shape, cfg.task.num_classes)
    assert module.net.backbone.bidirectional == ("bi" in model)
    assert module.net.backbone.num_layers == (2 if "deep" in model else 1)
    assert module.net.backbone.cell == ("lstm" if "lstm" in model else "gru" if "gru" in model else "rnn")


def test_sizes_are_overridable_and_seq_len_50_works(make_cfg):
    cfg = make_cfg("flip_stream", "rnn", "model.hidden_size=64", "task.seq_len=50")
    batch = next(iter(build_datamodule(cfg).train_dataloader()))[0]  # the first of a step's batches
    assert batch["input"].shape[1:] == (50, 1)
    assert build_module(cfg).net.backbone.hidden_size == 64


def test_experiment_overrides_task_and_model():
    cfg = compose_config("train", ["experiment=long_stream"])
    assert (cfg.task.name, cfg.task.seq_len, cfg.model.cell) == ("flip_stream", 50, "gru")


@pytest.mark.parametrize(
    ("debug", "key", "value"), [("fast_dev_run", "fast_dev_run", True), ("overfit", "overfit_batches", 1)]
)
def test_debug_configs(make_cfg, debug, key, value):
    assert make_cfg("flip_stream", "rnn", f"debug={debug}").trainer[key] == value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hidden_size=0"], "model.hidden_size=0 must be a positive integer"),
        (["model.num_layers=0"], "model.num_layers=0 must be a positive integer"),
        (["task.seq_len=0"], "task.seq_len=0 must be a positive integer"),
        (["task.seq_len=-3"], "task.seq_len=-3 must be a positive integer"),
        (["task.data.batch_size=0"], "task.data.batch_size=0 must be a positive integer"),
        (["task.data.sizes.train=0"], "task.data.sizes.train=0 must be a positive integer"),
        (["task.data.fractions=[0.9,0.1,0.0]"], "must be three positive shares (train, val, test) summing to 1"),
        (["task.data.fractions=[0.5,0.1,0.1]"], "must be three positive shares (train, val, test) summing to 1"),
        (["model.dropout=0.5"], "with model.num_layers=1 there is none"),
        (["model.dropout=1.5", "model.num_layers=2"], "model.dropout=1.5 must be in [0, 1)"),
        (["model.cell=transformer"], "model.cell='transformer' is not one of rnn, lstm, gru"),
        (["model.impl=cuda"], "model.impl='cuda' is not one of fused, loop"),
        (["model=lstm", "model.nonlinearity=relu"], "only applies to cell=rnn"),
        (["model=birnn", "task.causal=true"], "is causal (each output may only see the past), but the model is bidir"),
    ],
)
def test_impossible_settings_are_refused_with_the_key(make_cfg, overrides, message):
    cfg = make_cfg("flip_stream", "rnn", *overrides)
    with pytest.raises(ConfigError) as error:
        validate(cfg)
    assert message in str(error.value)
    assert "\n" not in str(error.value)  # one line


def test_jobs_started_in_the_same_second_get_separate_run_directories(monkeypatch):
    monkeypatch.delenv("RNNLAB_LOG_DIR", raising=False)
    dirs = set()
    for _ in range(3):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("train", return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            dirs.add(OmegaConf.to_container(cfg.hydra.run, resolve=True)["dir"])
    assert len(dirs) == 3
    pattern = re.compile(r"/outputs/flip_stream/\w+/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+-[0-9a-f]{4}$")
    assert all(pattern.search(d) for d in dirs), dirs


def test_paths_come_from_config_and_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RNNLAB_LOG_DIR", str(tmp_path / "logs"))
    cfg = compose_config("train")
    assert cfg.paths.data_dir == str(tmp_path / "data")
    assert cfg.paths.log_dir == str(tmp_path / "logs")


def test_module_checkpoint_config_is_plain_data(make_cfg):
    # weights_only checkpoint loading accepts plain containers only.
    config = build_module(make_cfg("flip_stream", "gru")).hparams["config"]
    assert config["task"]["name"] == "flip_stream" and config["model"]["cell"] == "gru"
    torch.save(config, "/dev/null")
    assert OmegaConf.is_config(config) is False


@pytest.mark.parametrize(
    ("model", "accelerator", "impl"),
    [("rnn", "cpu", "loop"), ("deep_birnn", "cpu", "loop"), ("lstm", "cpu", "fused"), ("rnn", "gpu", "fused")],
)
def test_impl_auto_picks_the_faster_implementation_for_the_device(make_cfg, model, accelerator, impl):
    cfg = make_cfg("flip_stream", model, "model.impl=auto", f"trainer.accelerator={accelerator}")
    validate(cfg)
    module = build_module(cfg)
    assert module.net.backbone.impl == impl
    assert module.hparams.config["model"]["impl"] == "auto"  # resolved again wherever the checkpoint is loaded


@pytest.mark.parametrize(
    ("overrides", "sizes", "recipe_line"),
    [
        (["task=pos", "model=lstm"], (200, 2), "model.hidden_size=200, model.num_layers=2"),
        (["task=pos", "model=lstm", "model.hidden_size=64"], (64, 2), "model.hidden_size=64 (recipe: 200)"),
        (["task=pos", "model=lstm", "recipe=none"], (32, 1), None),
    ],
)
def test_a_task_recipe_wins_over_the_model_file_and_says_so(overrides, sizes, recipe_line):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides, return_hydra_config=True)
    assert (cfg.model.hidden_size, cfg.model.num_layers) == sizes
    lines = describe_run(cfg, cfg.hydra.runtime.choices.recipe)
    assert lines[0].startswith(f"Model: lstm (fused), {sizes[1]} layer(s) × {sizes[0]} hidden")
    assert (recipe_line is None and len(lines) == 1) or recipe_line in lines[1]
