"""What a classifier gets wrong, after every validation: per-class F1, the confusion matrix, tagged examples."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from rnnlab.analysis.classes import confusion_figure, score_table
from rnnlab.callbacks.writers import tensorboard_writers
from rnnlab.data.word_data import WordDataModule
from rnnlab.lit.classifier import predict_words
from rnnlab.lit.data import task_data


class ClassReport(L.Callback):
    """For word-level tasks (``per_class`` metrics and a word data module): after each validation, TensorBoard gets
    ``val/class_scores`` (markdown table), ``val/confusion`` (figure) and ``val/samples`` (the first
    ``samples`` validation examples with their predictions, errors marked "word/PRED (gold GOLD)").
    The latest table and figure are also written to the run directory (``class_report.md``, ``confusion.png``).
    """

    def __init__(self, samples: int = 4) -> None:
        self.samples = samples

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        confusion, datamodule = getattr(pl_module, "confusion", {}).get("val"), task_data(trainer)
        if trainer.sanity_checking or confusion is None or not isinstance(datamodule, WordDataModule):
            return
        # The outputs' labels, then any dev tag the training files never had (scored as a class of its own).
        labels = datamodule.split_labels("val")
        table, figure = score_table(confusion.cpu(), labels), confusion_figure(confusion.cpu(), labels)
        samples = self.tagged_examples(datamodule, pl_module)
        if trainer.is_global_zero:
            out = Path(trainer.default_root_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "class_report.md").write_text(f"# Validation after epoch {trainer.current_epoch}\n\n{table}\n")
            figure.savefig(out / "confusion.png", dpi=110)
        for writer in tensorboard_writers(trainer):
            writer.add_text("val/class_scores", table, trainer.global_step)
            writer.add_figure("val/confusion", figure, trainer.global_step)
            if samples:
                writer.add_text("val/samples", "\n\n".join(samples), trainer.global_step)

    def tagged_examples(self, datamodule: WordDataModule, pl_module: L.LightningModule) -> list[str]:
        vocab, lines = datamodule.vocab, []
        for words, gold in datamodule.examples("val", self.samples):
            predicted = predict_words(pl_module.net, vocab, words, datamodule.max_word_chars).argmax(-1).tolist()
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
