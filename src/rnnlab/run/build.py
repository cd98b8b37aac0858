"""Turn a composed configuration into the objects of a run: network and LightningModule (the data module:
:mod:`rnnlab.run.datamodule`).

``task.head`` names the configuration of the lecture; the task family that trains it (:func:`rnnlab.lit.family_of`)
builds the network and the LightningModule:

- ``many_to_many`` (aligned), ``many_to_one`` → :class:`~rnnlab.models.RecurrentNet` in a
  :class:`~rnnlab.lit.SequenceClassifier`;
- ``language_model`` (causal many-to-many over a text) → :class:`~rnnlab.models.generators.CharRNN` in a
  :class:`~rnnlab.lit.LanguageModel`;
- ``one_to_many`` (image → caption), ``seq2seq`` (unaligned many-to-many) →
  :class:`~rnnlab.models.generators.ConditionalGenerator` in a :class:`~rnnlab.lit.SequenceGenerator`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf
from torch import nn

from rnnlab.lit import RecurrentModule, TrainingSetup, family_of
from rnnlab.models.backbone import resolve_impl
from rnnlab.run.trainer import uses_gpu


def build_net(model: DictConfig, task: DictConfig, vocab=None, on_gpu: bool = False) -> nn.Module:
    """The network of ``model`` for ``task``. Tasks over words or characters need their data's vocabulary
    (a :class:`~rnnlab.data.words.Vocabulary`, :class:`~rnnlab.data.alphabet.Alphabet` or ``Alphabets``): it
    sizes the embeddings and the outputs. ``on_gpu`` resolves ``model.impl=auto`` (see :func:`resolve_impl`)."""
    if model.impl == "auto":
        model = OmegaConf.merge(model, {"impl": resolve_impl(model.impl, model.cell, on_gpu)})
    return family_of(task.head).build_net(model, task, vocab)


def build_module(cfg: DictConfig, vocab=None) -> RecurrentModule:
    # Resolved node by node: interpolations may point outside these nodes (paths.data_dir).
    config = {key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("task", "model", "optimizer")}
    config["seed"] = cfg.seed
    net = build_net(cfg.model, cfg.task, vocab, on_gpu=uses_gpu(cfg.trainer))
    if cfg.model.get("compile"):
        # In place (nn.Module.compile): the state_dict keeps its names, so checkpoints load either way. The
        # first steps are slow while it compiles; model.impl=loop unrolls its Python loop over time, so every new
        # sequence length compiles again.
        net.compile()
    family = family_of(cfg.task.head)
    setup = TrainingSetup(
        optimizer=hydra.utils.instantiate(cfg.optimizer),
        scheduler=hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        config=config,
        vocab=vocab.to_dict() if vocab is not None else None,
        monitor=cfg.task.get("monitor", "val/loss"),
        # Families that optimize manually clip themselves, from the trainer's keys (rnnlab.run.trainer).
        gradient_clip_val=cfg.trainer.get("gradient_clip_val") if family.clips_itself else None,
        gradient_clip_algorithm=cfg.trainer.get("gradient_clip_algorithm") or "norm",
    )
    return family.from_config(cfg, net, setup)
