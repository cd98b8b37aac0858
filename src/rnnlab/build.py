"""Turn a composed configuration into the objects of a run: data module, network, LightningModule."""

from __future__ import annotations

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from rnnlab.data.words import Vocabulary
from rnnlab.errors import ConfigError
from rnnlab.models import RecurrentBackbone, RecurrentNet, WordEncoder
from rnnlab.module import SequenceClassifier


def build_net(model: DictConfig, task: DictConfig, vocab: Vocabulary | None = None) -> RecurrentNet:
    """The network of ``model`` for ``task``. Word-level tasks (those with ``task.encoder``) need the training
    vocabulary: it sizes the embeddings and the label set."""
    encoder, input_size, num_classes = None, task.get("input_size"), task.get("num_classes")
    if task.get("encoder"):
        if vocab is None:
            raise ConfigError(f"task {task.name} reads words; building its model needs the training vocabulary")
        encoder = WordEncoder(vocab.word_counts, len(vocab.chars), cell=model.cell, **task.encoder)
        input_size, num_classes = encoder.output_size, len(vocab.labels)
    backbone = RecurrentBackbone(
        input_size=input_size,
        hidden_size=model.hidden_size,
        num_layers=model.num_layers,
        bidirectional=model.bidirectional,
        dropout=model.dropout,
        cell=model.cell,
        nonlinearity=model.nonlinearity,
        impl=model.impl,
    )
    if model.get("recurrent_radius") is not None:
        backbone.set_recurrent_radius_(model.recurrent_radius)
    return RecurrentNet(
        backbone,
        head=task.head,
        num_classes=num_classes,
        num_outputs=task.num_outputs,
        encoder=encoder,
        dropout=model.get("output_dropout", 0.0),
    )


def build_module(cfg: DictConfig, vocab: Vocabulary | None = None) -> SequenceClassifier:
    # Resolved node by node: interpolations may point outside these nodes (paths.data_dir).
    config = {key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("task", "model", "optimizer")}
    config["seed"] = cfg.seed
    return SequenceClassifier(
        net=build_net(cfg.model, cfg.task, vocab),
        optimizer=hydra.utils.instantiate(cfg.optimizer),
        scheduler=hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        config=config,
        gradients=cfg.model.get("gradients", "autograd"),
        vocab=vocab.to_dict() if vocab is not None else None,
        per_class=bool(cfg.task.get("per_class", False)),
        monitor=cfg.task.get("monitor", "val/loss"),
    )


def build_datamodule(cfg: DictConfig, vocab: dict | None = None) -> L.LightningDataModule:
    """The task's data module; ``vocab`` (a checkpoint's) replaces the one a word-level task builds from train."""
    factory = hydra.utils.instantiate(cfg.task.data, _convert_="all", _partial_=True)
    # Given to the partial, not to instantiate: OmegaConf would read words such as "???" or "${x}" as markers.
    return factory(vocab=vocab) if vocab is not None else factory()
