"""The task's data module from a composed configuration, without importing Lightning (``scripts/show_data.py``
starts in half the time); training wraps it for the Trainer (:class:`~rnnlab.lit.data.LightningData`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig


def build_datamodule(cfg: DictConfig, vocab: dict | None = None):
    """The task's data module (see :mod:`rnnlab.data`); ``vocab`` (a checkpoint's) replaces the one a task builds
    from its data."""
    factory = hydra.utils.instantiate(cfg.task.data, _convert_="all", _partial_=True)
    # Given to the partial, not to instantiate: OmegaConf would read words such as "???" or "${x}" as markers.
    return factory(vocab=vocab) if vocab is not None else factory()
