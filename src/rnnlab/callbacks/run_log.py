"""The network's size in the run's log (the console, and Hydra's ``train.log`` in the run directory)."""

from __future__ import annotations

import logging
from typing import Any

from lightning.pytorch.callbacks import ModelSummary

log = logging.getLogger("rnnlab")


class ParameterSummary(ModelSummary):
    """Lightning's model summary as log lines, without the FLOPs column: it counts the operations of linear layers
    only, so every recurrent network here would read 0."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        columns = [(name, values) for name, values in summary_data if name in ("Name", "Type", "Params")]
        widths = [max(len(name), *(len(v) for v in values)) for name, values in columns]
        rows = [[name for name, _ in columns], *zip(*(values for _, values in columns), strict=True)]
        table = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
        log.info(
            "Network: %s parameters (%s trainable), %.3f MB\n%s",
            total_parameters,
            trainable_parameters,
            model_size,
            table,
        )
