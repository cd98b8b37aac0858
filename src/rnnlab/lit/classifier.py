"""The classifier family: a :class:`~rnnlab.models.RecurrentNet` on any classification task (heads
``many_to_many``, aligned, and ``many_to_one``).

One step serves train, val and test. Batches are dicts: ``input`` (N, T, I), ``target`` (N, ...) class ids,
optional ``mask`` (same shape as target; False = padding) and optional ``lengths`` (N,) for right-padded
sequences. Padding counts in neither the loss nor the metrics. Per stage it reports:

- ``loss``: mean cross-entropy over the valid positions (``p = softmax(o)``, as on the slides);
- ``acc``: accuracy over valid positions (per bit, per token);
- ``seq_acc``: the share of examples whose every valid position is right (whole-sequence exact match);
- ``val/acc_best``, ``val/seq_acc_best``: the best validation ``acc`` and ``seq_acc`` so far;
- with ``per_class=True`` (tagging, sentiment): ``f1``, the macro-F1 over classes, and the stage's confusion
  matrix, kept in ``confusion[stage]`` for reports (per-class F1 table, figure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor
from torchmetrics import MaxMetric

from rnnlab.data.raw_text import tokenize
from rnnlab.data.words import Vocabulary
from rnnlab.lit.base import RecurrentModule, TrainingSetup, request_text
from rnnlab.lit.data import task_data
from rnnlab.lit.manual_bptt import manual_gradients
from rnnlab.lit.metrics import STAGES, StageMetrics, ignore_padding, masked_cross_entropy
from rnnlab.lit.nets import build_backbone, needs_vocab
from rnnlab.models import RecurrentNet, WordEncoder

GRADIENTS = ("autograd", "manual")


class SequenceClassifier(RecurrentModule):
    """Trains under manual optimization, one optimizer step per batch, so that a Lightning step may carry
    several batches (``task.data.batches_per_step``): for small models Lightning's per-step machinery costs as
    much as the step itself, and a group of batches pays it once. The steps, and so the weights, are those of
    one batch per Lightning step."""

    heads = ("many_to_many", "many_to_one")
    stage_metrics: ClassVar[dict[str, tuple[str, ...]]] = {stage: ("loss", "acc", "seq_acc") for stage in STAGES}
    best_metrics = ("acc", "seq_acc")
    vocab_type = Vocabulary
    groups_batches = True

    def __init__(
        self, net: RecurrentNet, setup: TrainingSetup, gradients: str = "autograd", per_class: bool = False
    ) -> None:
        """``gradients="manual"`` trains with the hand-written BPTT of :mod:`rnnlab.analysis.bptt` instead of
        autograd (slow; for teaching). ``per_class`` adds macro-F1 and confusion matrices to the metrics."""
        if gradients not in GRADIENTS:
            raise ValueError(f"gradients must be one of {list(GRADIENTS)}, got {gradients!r}")
        super().__init__(net, setup, gradients=gradients, per_class=per_class)
        self.gradients = gradients
        self.automatic_optimization = False
        # One set per stage, so train, val and test never mix their running states.
        self.train_metrics, self.val_metrics, self.test_metrics = (
            StageMetrics(net.output.num_classes, per_class) for _ in STAGES
        )
        self.best.update({name: MaxMetric() for name in self.best_metrics})
        # The last epoch's confusion matrix per stage (rows: true class, columns: predicted), for reports.
        self.confusion: dict[str, Tensor] = {}
        # Per split, whether it holds labels beyond the outputs (set up for the splits a trainer runs): only those
        # splits' losses mask them, two tensor ops a step that a small model's step feels.
        self.beyond_outputs: dict[str, bool] = {}

    @classmethod
    def logged_metrics(cls, task: DictConfig) -> list[str]:
        names = super().logged_metrics(task)
        return names + [f"{stage}/f1" for stage in STAGES] if task.get("per_class") else names

    def setup(self, stage: str) -> None:
        """A split may hold labels beyond the outputs (a treebank's tags that its training files never had; its data
        module numbers them after the outputs): the split's loss then leaves them out, and its per-class metrics
        make room for them. Data without ``split_labels`` holds only the outputs' classes."""
        split_labels = getattr(task_data(self.trainer), "split_labels", None)
        outputs = self.net.output.num_classes
        for split in {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, ()):
            count = outputs if split_labels is None else len(split_labels(split))
            self.beyond_outputs[split] = count > outputs
            if split != "train":
                getattr(self, f"{split}_metrics").score_classes(count)

    @classmethod
    def build_net(cls, model: DictConfig, task: DictConfig, vocab: Vocabulary | None = None) -> RecurrentNet:
        encoder, input_size, num_classes = None, task.get("input_size"), task.get("num_classes")
        if task.get("encoder"):
            needs_vocab(task, vocab)
            encoder = WordEncoder(vocab.word_counts, len(vocab.chars), cell=model.cell, **task.encoder)
            input_size, num_classes = encoder.output_size, len(vocab.labels)
        return RecurrentNet(
            build_backbone(model, input_size, task),
            head=task.head,
            num_classes=num_classes,
            num_outputs=task.num_outputs,
            encoder=encoder,
            dropout=model.get("output_dropout", 0.0),
        )

    @classmethod
    def from_config(cls, cfg: DictConfig, net: RecurrentNet, setup: TrainingSetup) -> SequenceClassifier:
        return cls(
            net, setup, gradients=cfg.model.get("gradients", "autograd"), per_class=bool(cfg.task.get("per_class"))
        )

    @classmethod
    def predict(
        cls, net: RecurrentNet, vocab: Vocabulary, request: DictConfig, config: dict, test_split: Callable
    ) -> str:
        """Tagging: ``word/TAG`` pairs for ``text``; sentence classification: the label and its probability.

        ``text`` is split into words by ``tokenizer=`` if the request gives one, else by the checkpoint's
        ``task.tokenizer``, else by the requested task's (checkpoints from before tokenizers: ``task=pos`` reads
        raw English), else at whitespace (:mod:`rnnlab.data.raw_text`)."""
        requested_task = request.get("task") or {}
        tokenizer = request.get("tokenizer") or config["task"].get("tokenizer") or requested_task.get("tokenizer")
        words = tokenize(request_text(request, '"I can speak fluent Hindi."'), tokenizer or "whitespace")
        probabilities = predict_words(net, vocab, words, config["task"]["data"]["max_word_chars"])
        if config["task"]["head"] == "many_to_many":
            return " ".join(
                f"{word}/{vocab.labels[i]}" for word, i in zip(words, probabilities.argmax(-1).tolist(), strict=True)
            )
        label = int(probabilities.argmax())
        return f"{vocab.labels[label]}\t{float(probabilities[label]):.3f}"

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(x, lengths)

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        logits = self(batch["input"], batch.get("lengths"))
        target = ignore_padding(batch["target"], batch.get("mask"))
        loss = masked_cross_entropy(logits, target, self.beyond_outputs.get(stage, True))
        getattr(self, f"{stage}_metrics").update(loss, logits.argmax(-1), target)
        return loss

    def training_step(self, batch: dict[str, Tensor] | list[dict[str, Tensor]], batch_idx: int) -> None:
        for one in self.step_batches(batch):
            if self.gradients == "manual":
                self.manual_step(one)
            else:
                self.optimize(self.step(one, "train"))

    def manual_step(self, batch: dict[str, Tensor]) -> None:
        """One optimizer step with gradients from the lecture's backward pass, no autograd involved."""
        loss, grads = manual_gradients(self.net, batch["input"], batch["target"], batch.get("mask"))
        self.optimize(grads=grads)
        with torch.no_grad():
            target = ignore_padding(batch["target"], batch.get("mask"))
            self.train_metrics.update(loss, self(batch["input"]).argmax(-1), target)

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        metrics = getattr(self, f"{stage}_metrics")
        if metrics.per_class:
            metrics.flush()
            self.confusion[stage] = metrics.confusion.compute()
        return super().epoch_values(stage)


@torch.no_grad()
def predict_words(net: RecurrentNet, vocab: Vocabulary, words: list[str], max_word_chars: int) -> Tensor:
    """Class probabilities for one sentence: (T, classes) for tagging, (classes,) for a sentence classifier."""
    ids = vocab.encode_words(words, max_word_chars).unsqueeze(0).to(net.output.V.device)
    return net(ids, torch.tensor([len(words)])).softmax(-1)[0]
