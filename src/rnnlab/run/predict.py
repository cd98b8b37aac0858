"""Prediction: a checkpoint applied to input a user gives. What each task family answers is its own
(:meth:`rnnlab.lit.base.RecurrentModule.predict`):

- tagging: word/TAG pairs for ``text``; sentence classification: the label and its probability;
- char LM: ``prime`` continued by ``length`` characters (greedy, or sampled at ``temperature``);
- translation: the translation of ``text``; captioning: the caption of test image ``index``.

The network is rebuilt from the configuration and vocabulary stored in the checkpoint alone.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.lit import family_of
from rnnlab.run.build import build_net
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.evaluate import load_checkpoint


def load_predictor(path: str, trust: bool = False) -> tuple[nn.Module, object, dict]:
    """The trained network (eval mode), its vocabulary and its configuration, from a checkpoint alone."""
    return predictor_from(load_checkpoint(path, trust), path)


def predictor_from(checkpoint: dict, path: str) -> tuple[nn.Module, object, dict]:
    """:func:`load_predictor` of a checkpoint already read from ``path``."""
    hparams = checkpoint.get("hyper_parameters") or {}
    config, vocab = hparams.get("config"), hparams.get("vocab")
    if not config or not vocab:
        raise ConfigError(
            f"{path} holds no rnnlab model with a vocabulary; predict works for the word and character tasks"
        )
    vocab = family_of(config["task"]["head"]).vocab_from_dict(vocab)
    net = build_net(OmegaConf.create(config["model"]), OmegaConf.create(config["task"]), vocab)
    net.load_state_dict(
        {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
    )
    return net.eval(), vocab, config


def predict(cfg: DictConfig) -> str:
    """What ``scripts/predict.py`` prints."""
    net, vocab, config = load_predictor(cfg.ckpt_path, cfg.get("trust_checkpoint", False))
    task = config["task"]
    if task["name"] != cfg.task.name:
        raise ConfigError(f"{cfg.ckpt_path} was trained on task={task['name']}, not task={cfg.task.name}")

    def test_split() -> dict:
        # The stored task config, with the checkpoint's vocabulary: the examples the model was tested on.
        return build_datamodule(OmegaConf.create({"task": task}), vocab.to_dict()).split("test")

    return family_of(task["head"]).predict(net, vocab, cfg, config, test_split)
