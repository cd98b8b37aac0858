"""The generator family: captioning (head ``one_to_many``) and translation (``seq2seq``, unaligned many-to-many).

Batches are dicts: ``source`` (an image (N, ...) or symbol ids (N, S) with ``source_lengths``),
``decoder_input`` (N, T): START then the target's symbols, and ``target`` (N, T): the symbols then END, IGNORE
where padded. Training minimises the cross-entropy of each next symbol given the true previous ones (teacher
forcing). Validation and test also decode greedily from the source alone, as at inference, and score that:

- ``loss``, ``char_acc`` (teacher-forced next-symbol accuracy; the only metrics in training);
- ``exact``: the share of generated outputs equal to their target, END included;
- ``gen_char_acc``: the share of target positions the generated output gets right.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig
from torch import Tensor, nn
from torchmetrics import MaxMetric

from rnnlab.analysis.captions import caption_grid
from rnnlab.data.alphabet import END_ID, START_ID, Alphabets
from rnnlab.errors import DataError
from rnnlab.lit.base import RecurrentModule, TrainingSetup, request_temperature, request_text
from rnnlab.lit.metrics import STAGES, GenerationMetrics, masked_cross_entropy
from rnnlab.lit.nets import build_backbone, char_rnn, needs_vocab
from rnnlab.models.generators import ConditionalGenerator, ImageEncoder, SequenceEncoder, SymbolEncoder

MAX_OUTPUT = 64  # characters a decoder may write before it is cut off


class SequenceGenerator(RecurrentModule):
    heads = ("one_to_many", "seq2seq")
    stage_metrics: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("loss", "char_acc"),  # training does not decode
        **{stage: ("loss", "char_acc", "exact", "gen_char_acc") for stage in ("val", "test")},
    }
    best_metrics = ("exact",)
    vocab_type = Alphabets
    # Automatic optimization: Lightning steps, and clips with trainer.gradient_clip_val.
    clips_itself = False

    def __init__(self, net: ConditionalGenerator, setup: TrainingSetup) -> None:
        """``setup.vocab``: ``{"target": alphabet dict, "source": alphabet dict or None (images)}``."""
        super().__init__(net, setup)
        self.train_metrics, self.val_metrics, self.test_metrics = (GenerationMetrics(s != "train") for s in STAGES)
        self.best.update({"exact": MaxMetric()})

    @classmethod
    def build_net(cls, model: DictConfig, task: DictConfig, vocab: Alphabets | None = None) -> ConditionalGenerator:
        """An image encoder (one-to-many) or a sequence encoder of the model's cell (seq2seq), conditioning a
        unidirectional decoder."""
        needs_vocab(task, vocab)
        if task.head == "one_to_many":
            encoder = ImageEncoder(task.encoder.in_features, task.encoder.features)
        else:
            symbols = SymbolEncoder(len(vocab.source), task.encoder.input_encoding, task.encoder.get("embedding_dim"))
            encoder = SequenceEncoder(symbols, build_backbone(model, symbols.output_size, task))
        context = encoder.output_size if task.decoder.get("context") else 0
        decoder = char_rnn(model, task, len(vocab.target), task.decoder, context)
        return ConditionalGenerator(encoder, decoder, dropout=task.encoder.get("dropout", 0.0))

    @classmethod
    def predict(
        cls, net: ConditionalGenerator, vocab: Alphabets, request: DictConfig, config: dict, test_split: Callable
    ) -> str:
        """Translation: the translation of ``text``; captioning: test image ``index`` and the caption written."""
        temperature = request_temperature(request, config)
        if config["task"]["head"] == "seq2seq":
            return translate(net, vocab, request_text(request, '"3 mar 1998"').lower(), temperature)
        return caption(net, vocab, test_split(), request.get("index"), temperature)

    def forward(self, source: Tensor, decoder_input: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(source, decoder_input, lengths)

    def generate(self, source: Tensor, steps: int, lengths: Tensor | None = None, **sampling) -> Tensor:
        return self.net.generate(source, start=START_ID, end=END_ID, steps=steps, lengths=lengths, **sampling)

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        source, lengths, target = batch["source"], batch.get("source_lengths"), batch["target"]
        logits = self(source, batch["decoder_input"], lengths)
        loss = masked_cross_entropy(logits, target)
        generated = None if stage == "train" else self.generate(source, target.size(1), lengths)
        getattr(self, f"{stage}_metrics").update(loss, logits, target, generated)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.step(batch, "train")

    @property
    def alphabets(self) -> Alphabets:
        return Alphabets.from_dict(self.hparams.vocab)

    @torch.no_grad()
    def samples(self, datamodule, stage: str, n: int) -> tuple[str, Figure | None]:
        """The first ``n`` examples of ``stage`` decoded greedily: a markdown list (and, for images, a grid)."""
        batch = {k: v[:n].to(self.device) for k, v in datamodule.split(stage).items()}
        alphabets, target = self.alphabets, batch["target"]
        was_training = self.training
        self.eval()
        generated = self.generate(batch["source"], target.size(1), batch.get("source_lengths")).tolist()
        self.train(was_training)
        written = [alphabets.target.decode(ids) for ids in generated]
        truths = [alphabets.target.decode(ids) for ids in target.clamp(min=END_ID).tolist()]
        if alphabets.source is not None:
            lengths = batch["source_lengths"].tolist()
            sources = [
                alphabets.source.decode(ids[:n]) for ids, n in zip(batch["source"].tolist(), lengths, strict=True)
            ]
        else:
            sources = [f"image {i}" for i in range(len(written))]
        lines = [
            f"- `{source}` → `{out}`" + ("" if out == truth else f" ✗ (expected `{truth}`)")
            for source, out, truth in zip(sources, written, truths, strict=True)
        ]
        figure = caption_grid(batch["source"], written, truths) if alphabets.source is None else None
        return "\n".join(lines), figure


@torch.no_grad()
def translate(net: nn.Module, alphabets: Alphabets, text: str, temperature: float | None = None) -> str:
    source = alphabets.source.encode(text, "text").unsqueeze(0)
    generated = net.generate(
        source, START_ID, END_ID, MAX_OUTPUT, lengths=torch.tensor([len(text)]), temperature=temperature
    )
    return alphabets.target.decode(generated[0].tolist())


@torch.no_grad()
def caption(net: nn.Module, alphabets: Alphabets, test: dict[str, Tensor], index, temperature: float | None) -> str:
    """Test image ``index`` drawn in characters, then the caption the model writes for it."""
    if not isinstance(index, int) or not 0 <= index < len(test["source"]):
        raise DataError(f"index={index!r} must pick a test image, 0 to {len(test['source']) - 1}")
    image = test["source"][index]
    generated = net.generate(image.unsqueeze(0), START_ID, END_ID, MAX_OUTPUT, temperature=temperature)
    shades = " .:-=+*#%@"
    drawing = "\n".join("".join(shades[min(int(v * 10), 9)] * 2 for v in row.tolist()) for row in image)
    return f"{drawing}\n{alphabets.target.decode(generated[0].tolist())}"
