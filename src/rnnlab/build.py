"""Turn a composed configuration into the objects of a run: data module, network, LightningModule."""

from __future__ import annotations

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from rnnlab.models import RecurrentBackbone, RecurrentNet
from rnnlab.module import SequenceClassifier


def build_net(model: DictConfig, task: DictConfig) -> RecurrentNet:
    backbone = RecurrentBackbone(
        input_size=task.input_size,
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
    return RecurrentNet(backbone, head=task.head, num_classes=task.num_classes, num_outputs=task.num_outputs)


def build_module(cfg: DictConfig) -> SequenceClassifier:
    config = OmegaConf.to_container(OmegaConf.masked_copy(cfg, ["task", "model", "optimizer", "seed"]), resolve=True)
    return SequenceClassifier(
        net=build_net(cfg.model, cfg.task),
        optimizer=hydra.utils.instantiate(cfg.optimizer),
        scheduler=hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        config=config,
        gradients=cfg.model.get("gradients", "autograd"),
    )


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    return hydra.utils.instantiate(cfg.task.data, _convert_="all")
