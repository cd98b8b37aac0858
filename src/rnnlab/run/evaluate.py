"""Evaluation: load a checkpoint into the configured model and score the test split (or ``split=val``)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError
from rnnlab.lit.data import LightningData
from rnnlab.lit.generator import Decoding, SequenceGenerator
from rnnlab.run.build import build_module
from rnnlab.run.config import checkpoint_file, validate
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.trainer import format_metrics, log, make_trainer, scalar_metrics, write_metrics

# Settings that change the shape of the weights; a checkpoint only fits a model that agrees on all of them.
ARCHITECTURE_KEYS = (
    "model.cell",
    "model.hidden_size",
    "model.num_layers",
    "model.bidirectional",
    "task.input_size",
    "task.num_classes",
    "task.num_outputs",
    "task.head",
    "task.encoder",
    "task.decoder",
    "task.input_encoding",
    "task.embedding_dim",
)
# Architecture settings added since checkpoints were first written: what a checkpoint without one was trained with.
ADDED_SETTINGS = {"task.decoder": {"attention": "none"}}


def load_checkpoint(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """Read a Lightning checkpoint with ``torch.load(weights_only=True)``: tensors and plain containers only, so
    a shared file cannot run code while it loads. rnnlab's own checkpoints need nothing more. A file that does is
    refused, unless ``trust`` (``trust_checkpoint=true``: for files you made or trust) allows full unpickling."""
    path = checkpoint_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as error:
        # weights_only names the Python object it would have had to import ("GLOBAL …"); anything else is damage.
        if trust or "GLOBAL" not in str(error):
            raise ConfigError(f"ckpt_path={path} is not a readable rnnlab checkpoint (UnpicklingError)") from error
        raise ConfigError(
            f"ckpt_path={path} holds Python objects beyond tensors and plain containers; unpickling them could run "
            "code, so it is refused. Only if you trust the file's author, pass trust_checkpoint=true"
        ) from None
    except Exception as error:
        raise ConfigError(f"ckpt_path={path} is not a readable rnnlab checkpoint ({type(error).__name__})") from error


def check_compatible(checkpoint: dict[str, Any], cfg: DictConfig, path: str | Path) -> None:
    trained = (checkpoint.get("hyper_parameters") or {}).get("config")
    if not trained:
        raise ConfigError(f"{path} holds no rnnlab configuration; was it written by scripts/train.py?")
    if trained["task"]["name"] != cfg.task.name:
        raise ConfigError(f"{path} was trained on task={trained['task']['name']}, not task={cfg.task.name}")
    for key in ARCHITECTURE_KEYS:
        group, name = key.split(".")
        ours, theirs = cfg[group].get(name), trained[group].get(name)
        if key in ADDED_SETTINGS:
            ours, theirs = (
                {**ADDED_SETTINGS[key], **value} if isinstance(value, dict) else value
                for value in (OmegaConf.to_container(ours) if OmegaConf.is_config(ours) else ours, theirs)
            )
        if ours != theirs:
            raise ConfigError(
                f"{path} was trained with {key}={theirs}, but this config has {key}={ours}; "
                f"pass the training run's model and task settings"
            )


def decodings(cfg: DictConfig) -> list[Decoding]:
    """How a generator's outputs are decoded for scoring: ``decode`` names one way or a list of them."""
    methods = cfg.get("decode") or "greedy"
    methods = [methods] if isinstance(methods, str) else list(dict.fromkeys(methods))
    options = {key: cfg[key] for key in ("beam_size", "length_penalty", "temperature") if cfg.get(key) is not None}
    return [Decoding(method, **options, seed=cfg.get("seed") or 0) for method in methods]


def write_mistakes(output_dir: str | Path, split: str, decoding: Decoding, mistakes: list[str]) -> Path:
    """``mistakes_<split>_<decoding>.md``: every example of the split a generator wrote wrong, by its index."""
    path = Path(output_dir) / f"mistakes_{split}_{decoding.method}.md"
    if rank_zero_only.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        heading = f"# {split}, decoded by {decoding}: {len(mistakes)} wrong\n\n"
        path.write_text(heading + "".join(f"{line}\n" for line in mistakes))
    return path


def evaluate(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    validate(cfg)
    checkpoint = load_checkpoint(cfg.ckpt_path, cfg.get("trust_checkpoint", False))
    check_compatible(checkpoint, cfg, cfg.ckpt_path)
    # Word-level tasks read the test file with the training vocabulary stored in the checkpoint.
    datamodule = build_datamodule(cfg, checkpoint["hyper_parameters"].get("vocab"))
    module = build_module(cfg, datamodule.vocab)
    module.load_state_dict(checkpoint["state_dict"])
    trainer = make_trainer(cfg, with_callbacks=False)
    split = cfg.get("split", "test")
    if split not in ("test", "val"):
        raise ConfigError(f"split={split!r} is not one of test, val")
    runs = decodings(cfg) if isinstance(module, SequenceGenerator) else [None]
    metrics = {}
    for decoding in runs:
        if decoding is not None:
            module.decoding, module.mistakes = decoding, []
        (trainer.test if split == "test" else trainer.validate)(
            module, datamodule=LightningData(datamodule), verbose=False
        )
        scored = scalar_metrics(trainer.callback_metrics, f"{split}/")
        named = len(runs) > 1 or (decoding is not None and decoding.method != "greedy")
        log.info("%s metrics%s:    %s", split.capitalize(), f" ({decoding})" if named else "", format_metrics(scored))
        if decoding is not None:
            write_mistakes(cfg.paths.output_dir, split, decoding, module.mistakes)
        # Several decodings: each one's metrics under its name, e.g. beam/test/exact.
        metrics |= scored if len(runs) == 1 else {f"{decoding.method}/{k}": v for k, v in scored.items()}
    write_metrics(cfg.paths.output_dir, {**metrics, "checkpoint": str(cfg.ckpt_path)})
    return metrics, {"cfg": cfg, "datamodule": datamodule, "module": module, "trainer": trainer}
