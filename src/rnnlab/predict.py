"""Prediction: a checkpoint applied to text a user types (tagging: word/TAG pairs; classification: a label)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf

from rnnlab.build import build_net
from rnnlab.data.words import Vocabulary
from rnnlab.errors import ConfigError
from rnnlab.evaluate import load_checkpoint
from rnnlab.models import RecurrentNet


def load_predictor(path: str) -> tuple[RecurrentNet, Vocabulary, dict]:
    """The trained network (eval mode), its vocabulary and its configuration, from a checkpoint alone."""
    checkpoint = load_checkpoint(path)
    hparams = checkpoint.get("hyper_parameters") or {}
    config, vocab = hparams.get("config"), hparams.get("vocab")
    if not config or not vocab:
        raise ConfigError(f"{path} holds no word-level rnnlab model (no vocabulary); predict works for word tasks")
    vocab = Vocabulary.from_dict(vocab)
    net = build_net(OmegaConf.create(config["model"]), OmegaConf.create(config["task"]), vocab)
    net.load_state_dict(
        {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
    )
    return net.eval(), vocab, config


@torch.no_grad()
def predict_words(net: RecurrentNet, vocab: Vocabulary, words: list[str], max_word_chars: int) -> torch.Tensor:
    """Class probabilities for one sentence: (T, classes) for tagging, (classes,) for a sentence classifier."""
    ids = vocab.encode_words(words, max_word_chars).unsqueeze(0).to(net.output.V.device)
    return net(ids, torch.tensor([len(words)])).softmax(-1)[0]


def predict(cfg: DictConfig) -> str:
    """What ``scripts/predict.py`` prints for ``cfg.text``."""
    net, vocab, config = load_predictor(cfg.ckpt_path)
    if config["task"]["name"] != cfg.task.name:
        raise ConfigError(f"{cfg.ckpt_path} was trained on task={config['task']['name']}, not task={cfg.task.name}")
    words = str(cfg.text).split()
    if not words:
        raise ConfigError('text is empty; pass the words to read, e.g. text="I can speak fluent Hindi ."')
    probabilities = predict_words(net, vocab, words, config["task"]["data"]["max_word_chars"])
    if config["task"]["head"] == "many_to_many":
        return " ".join(
            f"{word}/{vocab.labels[i]}" for word, i in zip(words, probabilities.argmax(-1).tolist(), strict=True)
        )
    label = int(probabilities.argmax())
    return f"{vocab.labels[label]}\t{float(probabilities[label]):.3f}"
