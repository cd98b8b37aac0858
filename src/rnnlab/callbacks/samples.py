"""What a generator writes, after every validation and after the test: TensorBoard text (and a figure of
captioned test images), and the latest as files in the run directory."""

from __future__ import annotations

import lightning as L

from rnnlab.callbacks.writers import EvaluationReport, tensorboard_writers
from rnnlab.lit.data import task_data


class GeneratedSamples(EvaluationReport):
    """For modules with a ``samples(datamodule, stage, n)`` method (the character LM, captioning, translation):
    TensorBoard gets ``<stage>/samples`` (text) and, where the module draws one, ``<stage>/samples_figure``;
    the run directory gets ``samples_<stage>.md`` (and ``samples_<stage>.png``)."""

    def __init__(self, n: int = 8) -> None:
        super().__init__(n)

    def report(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not hasattr(pl_module, "samples") or (data := task_data(trainer)) is None:
            return
        text, figure = pl_module.samples(data, stage, self.n)
        if trainer.is_global_zero:
            out = self.run_dir(trainer)
            (out / f"samples_{stage}.md").write_text(f"# {stage}, epoch {trainer.current_epoch}\n\n{text}\n")
            if figure is not None:
                figure.savefig(out / f"samples_{stage}.png", dpi=110)
        for writer in tensorboard_writers(trainer):
            writer.add_text(f"{stage}/samples", text, trainer.global_step)
            if figure is not None:
                writer.add_figure(f"{stage}/samples_figure", figure, trainer.global_step)
