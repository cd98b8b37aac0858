"""An example input for TensorBoard's graph: the first validation example, in the shape ``forward`` takes."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger


def example_input(batch: dict) -> tuple:
    """The positional arguments of the module's ``forward`` for the first example of ``batch``."""
    if "source" in batch:  # generators: forward(source, decoder_input)
        return batch["source"][:1], batch["decoder_input"][:1]
    return (batch["input"][:1],)  # classifiers: forward(x); the language model: forward(ids)


class GraphInput(L.Callback):
    """With ``logger.tensorboard.log_graph=true``, sets the module's ``example_input_array`` before Lightning draws
    the graph (which it does right after setup, at fit and at test), so TensorBoard's Graphs tab shows the model.
    Without a graph-logging TensorBoard logger it does nothing (an example input also makes the model summary run
    a forward pass)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        wanted = any(isinstance(lg, TensorBoardLogger) and lg._log_graph for lg in trainer.loggers)
        if not wanted or pl_module.example_input_array is not None or trainer.datamodule is None:
            return
        pl_module.example_input_array = example_input(next(iter(trainer.datamodule.val_dataloader())))
