"""Prediction: a checkpoint applied to input a user gives.

- tagging: word/TAG pairs for ``text``; sentence classification: the label and its probability;
- char LM: ``prime`` continued by ``length`` characters (greedy, or sampled at ``temperature``);
- translation: the translation of ``text``; captioning: the caption of test image ``index``.

The network is rebuilt from the configuration and vocabulary stored in the checkpoint alone.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from rnnlab.data.alphabet import END_ID, START_ID, Alphabet, Alphabets
from rnnlab.data.words import Vocabulary
from rnnlab.errors import ConfigError, DataError
from rnnlab.lit.language_model import sample_text
from rnnlab.models import GENERATOR_HEADS, RecurrentNet
from rnnlab.run.build import build_datamodule, build_net
from rnnlab.run.evaluate import load_checkpoint

MAX_OUTPUT = 64  # characters a decoder may write before it is cut off


def vocab_from_dict(head: str, data: dict):
    """The vocabulary object a checkpoint's plain-dict ``vocab`` stands for, by the task's head."""
    if head == "language_model":
        return Alphabet.from_dict(data)
    if head in GENERATOR_HEADS:
        return Alphabets.from_dict(data)
    return Vocabulary.from_dict(data)


def load_predictor(path: str, trust: bool = False) -> tuple[nn.Module, object, dict]:
    """The trained network (eval mode), its vocabulary and its configuration, from a checkpoint alone."""
    checkpoint = load_checkpoint(path, trust)
    hparams = checkpoint.get("hyper_parameters") or {}
    config, vocab = hparams.get("config"), hparams.get("vocab")
    if not config or not vocab:
        raise ConfigError(
            f"{path} holds no rnnlab model with a vocabulary; predict works for the word and character tasks"
        )
    vocab = vocab_from_dict(config["task"]["head"], vocab)
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


def _setting(cfg: DictConfig, config: dict, key: str):
    """A sampling setting: from the command line, else the one the model was trained with (task.sample)."""
    value = cfg.get(key)
    return value if value is not None else (config["task"].get("sample") or {}).get(key)


def _temperature(cfg: DictConfig, config: dict) -> float | None:
    if cfg.get("greedy"):
        return None
    temperature = _setting(cfg, config, "temperature")
    if temperature is not None and temperature <= 0:
        raise ConfigError(
            f"temperature={temperature} must be > 0 (small: nearly greedy, 1: the model's distribution); "
            "for the most likely characters pass greedy=true"
        )
    return temperature


def _text(cfg: DictConfig, example: str) -> str:
    if cfg.get("text") is None or not str(cfg.text).strip():
        raise ConfigError(f"text is empty; pass what to read, e.g. text={example}")
    return str(cfg.text)


def predict(cfg: DictConfig) -> str:
    """What ``scripts/predict.py`` prints."""
    net, vocab, config = load_predictor(cfg.ckpt_path, cfg.get("trust_checkpoint", False))
    task, head = config["task"], config["task"]["head"]
    if task["name"] != cfg.task.name:
        raise ConfigError(f"{cfg.ckpt_path} was trained on task={task['name']}, not task={cfg.task.name}")
    if head == "language_model":
        length = _setting(cfg, config, "length")
        if not isinstance(length, int) or length <= 0:
            raise ConfigError(f"length={length!r} must be a positive number of characters, e.g. length=200")
        prime = _setting(cfg, config, "prime")
        return sample_text(net, vocab, prime, length, _temperature(cfg, config), seed=cfg.get("seed") or 0)
    if head == "seq2seq":
        return translate(net, vocab, _text(cfg, '"3 mar 1998"').lower(), _temperature(cfg, config))
    if head == "one_to_many":
        return caption(net, vocab, cfg, config)
    words = _text(cfg, '"I can speak fluent Hindi ."').split()
    probabilities = predict_words(net, vocab, words, task["data"]["max_word_chars"])
    if head == "many_to_many":
        return " ".join(
            f"{word}/{vocab.labels[i]}" for word, i in zip(words, probabilities.argmax(-1).tolist(), strict=True)
        )
    label = int(probabilities.argmax())
    return f"{vocab.labels[label]}\t{float(probabilities[label]):.3f}"


@torch.no_grad()
def translate(net: nn.Module, alphabets: Alphabets, text: str, temperature: float | None = None) -> str:
    source = alphabets.source.encode(text, "text").unsqueeze(0)
    generated = net.generate(
        source, START_ID, END_ID, MAX_OUTPUT, lengths=torch.tensor([len(text)]), temperature=temperature
    )
    return alphabets.target.decode(generated[0].tolist())


@torch.no_grad()
def caption(net: nn.Module, alphabets: Alphabets, cfg: DictConfig, config: dict) -> str:
    """Test image ``cfg.index`` drawn in characters, then the caption the model writes for it."""
    test = build_datamodule(OmegaConf.create({"task": config["task"]}), alphabets.to_dict()).split("test")
    index = cfg.get("index")
    if not isinstance(index, int) or not 0 <= index < len(test["source"]):
        raise DataError(f"index={index!r} must pick a test image, 0 to {len(test['source']) - 1}")
    image = test["source"][index]
    generated = net.generate(image.unsqueeze(0), START_ID, END_ID, MAX_OUTPUT, temperature=_temperature(cfg, config))
    shades = " .:-=+*#%@"
    drawing = "\n".join("".join(shades[min(int(v * 10), 9)] * 2 for v in row.tolist()) for row in image)
    return f"{drawing}\n{alphabets.target.decode(generated[0].tolist())}"
