"""Turn a composed configuration into the objects of a run: data module, network, LightningModule.

``task.head`` picks the configuration of the lecture, and with it the network and the LightningModule:

- ``many_to_many`` (aligned), ``many_to_one`` → :class:`RecurrentNet` in a :class:`SequenceClassifier`;
- ``language_model`` (causal many-to-many over a text) → :class:`CharRNN` in a :class:`LanguageModel`;
- ``one_to_many`` (image → caption), ``seq2seq`` (unaligned many-to-many) → :class:`ConditionalGenerator` in a
  :class:`SequenceGenerator`.
"""

from __future__ import annotations

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf
from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.lit.classifier import SequenceClassifier
from rnnlab.lit.generator import SequenceGenerator
from rnnlab.lit.language_model import LanguageModel
from rnnlab.models import GENERATOR_HEADS, RecurrentBackbone, RecurrentNet, WordEncoder
from rnnlab.models.backbone import resolve_impl
from rnnlab.models.generators import (
    CharRNN,
    ConditionalGenerator,
    ImageEncoder,
    SequenceEncoder,
    SymbolEncoder,
)
from rnnlab.run.trainer import uses_gpu


def build_backbone(model: DictConfig, input_size: int, bidirectional: bool | None = None) -> RecurrentBackbone:
    backbone = RecurrentBackbone(
        input_size=input_size,
        hidden_size=model.hidden_size,
        num_layers=model.num_layers,
        bidirectional=model.bidirectional if bidirectional is None else bidirectional,
        dropout=model.dropout,
        cell=model.cell,
        nonlinearity=model.nonlinearity,
        impl=model.impl,
    )
    if model.get("recurrent_radius") is not None:
        backbone.set_recurrent_radius_(model.recurrent_radius)
    return backbone


def _needs_vocab(task: DictConfig, vocab) -> None:
    if vocab is None:
        raise ConfigError(f"task {task.name} reads symbols; building its model needs the vocabulary of its data")


def _char_rnn(model: DictConfig, num_symbols: int, encoding: DictConfig, context_size: int = 0) -> CharRNN:
    """A unidirectional CharRNN of the model's cell and sizes (an LM, or a decoder)."""
    symbols = SymbolEncoder(num_symbols, encoding.input_encoding, encoding.get("embedding_dim"))
    backbone = build_backbone(model, symbols.output_size + context_size, bidirectional=False)
    return CharRNN(symbols, backbone, dropout=model.get("output_dropout", 0.0), context_size=context_size)


def build_net(model: DictConfig, task: DictConfig, vocab=None, on_gpu: bool = False) -> nn.Module:
    """The network of ``model`` for ``task``. Tasks over words or characters need their data's vocabulary
    (a :class:`~rnnlab.data.words.Vocabulary`, :class:`~rnnlab.data.alphabet.Alphabet` or ``Alphabets``): it
    sizes the embeddings and the outputs. ``on_gpu`` resolves ``model.impl=auto`` (see :func:`resolve_impl`)."""
    if model.impl == "auto":
        model = OmegaConf.merge(model, {"impl": resolve_impl(model.impl, model.cell, on_gpu)})
    if task.head == "language_model":
        _needs_vocab(task, vocab)
        return _char_rnn(model, len(vocab), task)
    if task.head in GENERATOR_HEADS:
        _needs_vocab(task, vocab)
        if task.head == "one_to_many":
            encoder = ImageEncoder(task.encoder.in_features, task.encoder.features)
        else:
            symbols = SymbolEncoder(len(vocab.source), task.encoder.input_encoding, task.encoder.get("embedding_dim"))
            encoder = SequenceEncoder(symbols, build_backbone(model, symbols.output_size))
        context = encoder.output_size if task.decoder.get("context") else 0
        decoder = _char_rnn(model, len(vocab.target), task.decoder, context)
        return ConditionalGenerator(encoder, decoder, dropout=task.encoder.get("dropout", 0.0))
    encoder, input_size, num_classes = None, task.get("input_size"), task.get("num_classes")
    if task.get("encoder"):
        _needs_vocab(task, vocab)
        encoder = WordEncoder(vocab.word_counts, len(vocab.chars), cell=model.cell, **task.encoder)
        input_size, num_classes = encoder.output_size, len(vocab.labels)
    return RecurrentNet(
        build_backbone(model, input_size),
        head=task.head,
        num_classes=num_classes,
        num_outputs=task.num_outputs,
        encoder=encoder,
        dropout=model.get("output_dropout", 0.0),
    )


def build_module(cfg: DictConfig, vocab=None) -> L.LightningModule:
    # Resolved node by node: interpolations may point outside these nodes (paths.data_dir).
    config = {key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("task", "model", "optimizer")}
    config["seed"] = cfg.seed
    net = build_net(cfg.model, cfg.task, vocab, on_gpu=uses_gpu(cfg.trainer))
    if cfg.model.get("compile"):
        # In place (nn.Module.compile): the state_dict keeps its names, so checkpoints load either way. The
        # first steps are slow while it compiles; model.impl=loop unrolls its Python loop over time, so every new
        # sequence length compiles again.
        net.compile()
    common = {
        "net": net,
        "optimizer": hydra.utils.instantiate(cfg.optimizer),
        "scheduler": hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        "config": config,
        "vocab": vocab.to_dict() if vocab is not None else None,
        "monitor": cfg.task.get("monitor", "val/loss"),
    }
    if cfg.task.head in GENERATOR_HEADS:
        return SequenceGenerator(**common)
    # Manual optimization (see rnnlab.run.trainer.make_trainer): the module clips, from the trainer's keys.
    common["gradient_clip_val"] = cfg.trainer.get("gradient_clip_val")
    common["gradient_clip_algorithm"] = cfg.trainer.get("gradient_clip_algorithm") or "norm"
    if cfg.task.head == "language_model":
        return LanguageModel(**common, bptt=cfg.task.bptt, sample=config["task"].get("sample"))
    return SequenceClassifier(
        **common, gradients=cfg.model.get("gradients", "autograd"), per_class=bool(cfg.task.get("per_class", False))
    )


def build_datamodule(cfg: DictConfig, vocab: dict | None = None) -> L.LightningDataModule:
    """The task's data module; ``vocab`` (a checkpoint's) replaces the one a task builds from its data."""
    factory = hydra.utils.instantiate(cfg.task.data, _convert_="all", _partial_=True)
    # Given to the partial, not to instantiate: OmegaConf would read words such as "???" or "${x}" as markers.
    return factory(vocab=vocab) if vocab is not None else factory()
