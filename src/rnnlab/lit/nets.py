"""Networks from configuration: the pieces the families' ``build_net`` share."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from rnnlab.errors import ConfigError
from rnnlab.models import RecurrentBackbone
from rnnlab.models.gate_init import sequence_length
from rnnlab.models.generators import CharRNN, SymbolEncoder

# Gate-initialisation keys of model configs; absent from configs written before they existed.
GATE_KEYS = ("forget_bias", "gate_init", "chrono_tmax")


def gate_options(model: DictConfig, task: DictConfig) -> dict[str, Any]:
    """The backbone's gate-initialisation arguments: only those the model config sets, so a model without them
    draws exactly the weights it always drew."""
    options = {key: model[key] for key in GATE_KEYS if model.get(key) not in (None, "default")}
    if options.get("gate_init") == "chrono" and "chrono_tmax" not in options:
        options["chrono_tmax"] = sequence_length(task)
    return options


def build_backbone(
    model: DictConfig, input_size: int, task: DictConfig, bidirectional: bool | None = None
) -> RecurrentBackbone:
    backbone = RecurrentBackbone(
        input_size=input_size,
        hidden_size=model.hidden_size,
        num_layers=model.num_layers,
        bidirectional=model.bidirectional if bidirectional is None else bidirectional,
        dropout=model.dropout,
        cell=model.cell,
        nonlinearity=model.nonlinearity,
        impl=model.impl,
        **gate_options(model, task),
    )
    if model.get("recurrent_radius") is not None:
        backbone.set_recurrent_radius_(model.recurrent_radius)
    return backbone


def needs_vocab(task: DictConfig, vocab: Any) -> None:
    if vocab is None:
        raise ConfigError(f"task {task.name} reads symbols; building its model needs the vocabulary of its data")


def char_rnn(
    model: DictConfig, task: DictConfig, num_symbols: int, encoding: DictConfig, context_size: int = 0
) -> CharRNN:
    """A unidirectional CharRNN of the model's cell and sizes (an LM, or a decoder)."""
    symbols = SymbolEncoder(num_symbols, encoding.input_encoding, encoding.get("embedding_dim"))
    backbone = build_backbone(model, symbols.output_size + context_size, task, bidirectional=False)
    return CharRNN(symbols, backbone, dropout=model.get("output_dropout", 0.0), context_size=context_size)
