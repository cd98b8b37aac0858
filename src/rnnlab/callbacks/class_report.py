"""What a classifier gets wrong, after every validation: per-class F1, the confusion matrix, tagged examples."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from rnnlab.analysis.classes import confusion_figure, score_table
from rnnlab.data.word_data import WordDataModule
from rnnlab.data.words import Vocabulary


class ClassReport(L.Callback):
    """For word-level tasks (``per_class`` metrics and a vocabulary): after each validation, TensorBoard gets
    ``val/class_scores`` (markdown table), ``val/confusion`` (figure) and ``val/samples`` (the first
    ``samples`` validation examples with their predictions, errors marked "word/PRED (gold GOLD)").
    The latest table and figure are also written to the run directory (``class_report.md``, ``confusion.png``).
    """

    def __init__(self, samples: int = 4) -> None:
        self.samples = samples

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        confusion, vocab = pl_module.confusion.get("val"), pl_module.hparams.get("vocab")
        if trainer.sanity_checking or confusion is None or not vocab:
            return
        labels = vocab["labels"]
        table, figure = score_table(confusion.cpu(), labels), confusion_figure(confusion.cpu(), labels)
        samples = self.tagged_examples(trainer, pl_module, Vocabulary.from_dict(vocab))
        if trainer.is_global_zero:
            out = Path(trainer.default_root_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "class_report.md").write_text(f"# Validation after epoch {trainer.current_epoch}\n\n{table}\n")
            figure.savefig(out / "confusion.png", dpi=110)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_text("val/class_scores", table, trainer.global_step)
                logger.experiment.add_figure("val/confusion", figure, trainer.global_step)
                if samples:
                    logger.experiment.add_text("val/samples", "\n\n".join(samples), trainer.global_step)

    def tagged_examples(self, trainer: L.Trainer, pl_module: L.LightningModule, vocab: Vocabulary) -> list[str]:
        datamodule = trainer.datamodule
        if not self.samples or not isinstance(datamodule, WordDataModule):
            return []
        lines = []
        with torch.no_grad():
            for words, gold in datamodule.examples("val", self.samples):
                ids = vocab.encode_words(words, datamodule.max_word_chars).unsqueeze(0).to(pl_module.device)
                predicted = pl_module(ids, torch.tensor([len(words)]))[0].argmax(-1).tolist()
                lines.append(describe(words, gold, predicted, vocab.labels))
        return lines


def describe(words: list[str], gold: list[str] | str, predicted: list[int] | int, labels: list[str]) -> str:
    """One example as text: tagging "word/TAG …", classification "LABEL: words"; errors show the gold label."""
    if isinstance(gold, str):  # one label per sentence
        mark = "" if labels[predicted] == gold else f" (gold {gold})"
        return f"{labels[predicted]}{mark}: {' '.join(words)}"
    tagged = []
    for word, tag, i in zip(words, gold, predicted, strict=True):
        tagged.append(f"{word}/{labels[i]}" if labels[i] == tag else f"**{word}/{labels[i]} (gold {tag})**")
    return " ".join(tagged)
