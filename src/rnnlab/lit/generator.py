"""The generator family: captioning (head ``one_to_many``) and translation (``seq2seq``, unaligned many-to-many).

Batches are dicts: ``source`` (an image (N, ...) or symbol ids (N, S) with ``source_lengths``),
``decoder_input`` (N, T): START then the target's symbols, and ``target`` (N, T): the symbols then END, IGNORE
where padded. Training minimises the cross-entropy of each next symbol given the true previous ones (teacher
forcing). Validation and test also decode from the source alone, as at inference (greedily, unless
:attr:`SequenceGenerator.decoding` says otherwise: ``scripts/eval.py decode=beam``), and score that:

- ``loss``, ``char_acc`` (teacher-forced next-symbol accuracy; the only metrics in training);
- ``exact``: the share of generated outputs equal to their target, END included;
- ``gen_char_acc``: the share of target positions the generated output gets right;
- ``word_acc`` (captions only): the share of the true caption's words the generated one has right, word k against
  word k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig
from torch import Tensor, nn
from torchmetrics import MaxMetric

from rnnlab.analysis.attention import AttentionMap, attention_grid
from rnnlab.analysis.captions import caption_grid
from rnnlab.data.alphabet import END_ID, START_ID, Alphabets
from rnnlab.errors import ConfigError, DataError
from rnnlab.lit.base import RecurrentModule, TrainingSetup, request_temperature, request_text
from rnnlab.lit.metrics import STAGES, GenerationMetrics, masked_cross_entropy
from rnnlab.lit.nets import build_backbone, char_rnn, needs_vocab
from rnnlab.models.attention import ATTENTIONS
from rnnlab.models.generators import ConditionalGenerator, ImageEncoder, SequenceEncoder, SymbolEncoder
from rnnlab.models.modes import evaluating

MAX_OUTPUT = 64  # characters a decoder may write before it is cut off
DECODINGS = ("greedy", "sample", "beam")


@dataclass(frozen=True)
class Decoding:
    """How a generator writes: ``greedy`` (the argmax at every step), ``sample`` (drawn from softmax(o /
    ``temperature``), seeded by ``seed``) or ``beam`` (beam search of ``beam_size`` hypotheses per example, ranked
    by log P / L^``length_penalty``: :mod:`rnnlab.models.beam_search`)."""

    method: str = "greedy"
    beam_size: int = 5
    length_penalty: float = 0.75
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_decoding(self.method, self.beam_size, self.length_penalty, self.temperature)

    def options(self, device: torch.device) -> dict:
        """The keyword arguments of :meth:`ConditionalGenerator.generate` that decode this way."""
        if self.method == "sample":
            return {"temperature": self.temperature, "generator": torch.Generator(device).manual_seed(self.seed)}
        if self.method == "beam":
            return {"beam_size": self.beam_size, "length_penalty": self.length_penalty}
        return {}

    def __str__(self) -> str:
        if self.method == "sample":
            return f"sample (temperature={self.temperature}, seed={self.seed})"
        if self.method == "beam":
            return f"beam (beam_size={self.beam_size}, length_penalty={self.length_penalty})"
        return self.method


def check_decoding(
    method: str, beam_size: int | None = None, length_penalty: float | None = None, temperature: float | None = None
) -> None:
    """A :class:`~rnnlab.errors.ConfigError` for a decoding that cannot work (the keys are the scripts')."""
    if method not in DECODINGS:
        raise ConfigError(f"decode={method!r} is not one of {', '.join(DECODINGS)}")
    if beam_size is not None and (isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1):
        raise ConfigError(f"beam_size={beam_size!r} must be a positive integer (1 keeps one hypothesis: greedy)")
    if length_penalty is not None and not length_penalty >= 0:
        raise ConfigError(
            f"length_penalty={length_penalty} must be >= 0 (0: rank by log-probability; 1: by its mean per symbol)"
        )
    if temperature is not None and not temperature > 0:
        raise ConfigError(f"temperature={temperature} must be > 0 (small: nearly greedy, 1: the model's distribution)")


def check_attention(task: DictConfig) -> None:
    """``task.decoder.attention`` names a score, and only a task with a sequence encoder has states to attend to."""
    attention = (task.get("decoder") or {}).get("attention", "none")
    if attention not in ATTENTIONS:
        raise ConfigError(f"task.decoder.attention={attention!r} is not one of {', '.join(ATTENTIONS)}")
    if attention != "none" and task.head != "seq2seq":
        raise ConfigError(
            f"task.decoder.attention={attention} attends over the states of an encoder that reads a sequence; "
            f"task {task.name} has none (attention works with task=translate)"
        )


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
        # Captions (image sources) are also scored word by word: "three one four" has three words.
        captions = setup.vocab is not None and setup.vocab.get("source") is None
        symbols = setup.vocab["target"]["symbols"] if setup.vocab is not None else []
        separator = symbols.index(" ") if " " in symbols else None
        self.train_metrics, self.val_metrics, self.test_metrics = (
            GenerationMetrics(s != "train", captions, separator) for s in STAGES
        )
        self.best.update({"exact": MaxMetric()})
        # How validation and test decode; scripts/eval.py sets another (decode=beam).
        self.decoding = Decoding()
        self._options: tuple[Decoding, dict] | None = None
        # scripts/eval.py sets a list: each wrong output of the split it scores, as a markdown line.
        self.mistakes: list[str] | None = None
        self._decoded = 0  # examples decoded in this epoch so far: where a wrong one stands in its split

    @classmethod
    def logged_metrics(cls, task: DictConfig) -> list[str]:
        names = super().logged_metrics(task)
        return [*names, "val/word_acc", "test/word_acc"] if task.head == "one_to_many" else names

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
        # With attention the decoder reads the attention's context instead of a fixed one, whatever
        # task.decoder.context: as its input (additive, Bahdanau) or after its step (dot, Luong).
        attention = task.decoder.get("attention", "none")
        fixed = task.decoder.get("context") and attention == "none"
        context = encoder.output_size if fixed or attention == "additive" else 0
        decoder = char_rnn(model, task, len(vocab.target), task.decoder, context)
        return ConditionalGenerator(encoder, decoder, dropout=task.encoder.get("dropout", 0.0), attention=attention)

    @classmethod
    def predict(
        cls, net: ConditionalGenerator, vocab: Alphabets, request: DictConfig, config: dict, test_split: Callable
    ) -> str:
        """Translation: the translation of ``text`` (and with ``attention_png``, its attention heat map written
        there); captioning: test image ``index`` and the caption written. Decoded as ``decode`` says."""
        decoding = request_decoding(request, config)
        if config["task"]["head"] != "seq2seq":
            return caption(net, vocab, test_split(), request.get("index"), decoding)
        text = request_text(request, '"3 mar 1998"').lower()
        png = request.get("attention_png")
        if png and net.attention is None:
            raise ConfigError(
                f"attention_png={png}: this checkpoint's decoder has no attention (trained with "
                f"task.decoder.attention={config['task']['decoder'].get('attention', 'none')}); train one with "
                "task.decoder.attention=additive or dot"
            )
        output, generated = translate(net, vocab, text, decoding)
        if png:
            source = vocab.source.encode(text, "text").unsqueeze(0)
            written = attention_maps(net, vocab, source, torch.tensor([len(text)]), generated)
            figure = attention_grid(written, columns=1)
            Path(png).parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(png, dpi=150, bbox_inches="tight")
        return output

    def forward(self, source: Tensor, decoder_input: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(source, decoder_input, lengths)

    def generate(self, source: Tensor, steps: int, lengths: Tensor | None = None, **sampling) -> Tensor:
        return self.net.generate(source, start=START_ID, end=END_ID, steps=steps, lengths=lengths, **sampling)

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        source, lengths, target = batch["source"], batch.get("source_lengths"), batch["target"]
        logits = self(source, batch["decoder_input"], lengths)
        # Targets are the target alphabet's ids (a character outside it is a DataError): none lies beyond the outputs.
        loss = masked_cross_entropy(logits, target, beyond_outputs=False)
        generated = None  # training does not decode
        if stage != "train":
            generated = self.generate(source, target.size(1), lengths, **self.decode_options(source.device))
            if self.mistakes is not None:
                self.mistakes.extend(wrong_outputs(self.alphabets, batch, generated, self._decoded))
            self._decoded += len(generated)
        getattr(self, f"{stage}_metrics").update(loss, logits, target, generated)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.step(batch, "train")

    def decode_options(self, device: torch.device) -> dict:
        """What :meth:`generate` is given to decode as :attr:`decoding` says: sampling draws one random stream
        through an epoch's batches, from the decoding's seed at every epoch's start."""
        if self._options is None or self._options[0] is not self.decoding:
            self._options = (self.decoding, self.decoding.options(device))
        return self._options[1]

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        self._options, self._decoded = None, 0

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self._options, self._decoded = None, 0

    @property
    def alphabets(self) -> Alphabets:
        return Alphabets.from_dict(self.hparams.vocab)

    @torch.no_grad()
    def samples(self, datamodule, stage: str, n: int) -> tuple[str, Figure | None]:
        """The first ``n`` examples of ``stage`` decoded greedily: a markdown list (and, for images, a grid)."""
        batch = self.first_examples(datamodule, stage, n)
        alphabets = self.alphabets
        with evaluating(self):
            generated = self.generate(batch["source"], batch["target"].size(1), batch.get("source_lengths"))
        sources, written, truths = as_text(alphabets, batch, generated)
        lines = [
            f"- `{source}` → `{out}`" + ("" if out == truth else f" ✗ (expected `{truth}`)")
            for source, out, truth in zip(sources, written, truths, strict=True)
        ]
        figure = caption_grid(batch["source"], written, truths) if alphabets.source is None else None
        return "\n".join(lines), figure

    @torch.no_grad()
    def attention_maps(self, datamodule, stage: str, n: int) -> list[AttentionMap]:
        """Where the decoder looked while writing the first ``n`` examples of ``stage`` greedily: one map each
        (none without attention)."""
        if self.net.attention is None:
            return []
        batch = self.first_examples(datamodule, stage, n)
        lengths = batch["source_lengths"]
        with evaluating(self):
            generated = self.generate(batch["source"], batch["target"].size(1), lengths)
            return attention_maps(self.net, self.alphabets, batch["source"], lengths, generated)

    def first_examples(self, datamodule, stage: str, n: int) -> dict[str, Tensor]:
        """The first ``n`` examples of ``stage``, on this module's device."""
        return {k: v[:n].to(self.device) for k, v in datamodule.split(stage).items()}


def as_text(alphabets: Alphabets, batch: dict[str, Tensor], generated: Tensor) -> tuple[list[str], ...]:
    """The sources (text, or ``image i``), the outputs written and the true ones of a batch, as text."""
    written = [alphabets.target.decode(ids) for ids in generated.tolist()]
    truths = alphabets.target_texts(batch["target"])
    if alphabets.source is None:
        return [f"image {i}" for i in range(len(written))], written, truths
    return alphabets.source_texts(batch["source"], batch["source_lengths"]), written, truths


def wrong_outputs(alphabets: Alphabets, batch: dict[str, Tensor], generated: Tensor, seen: int) -> list[str]:
    """A markdown line per example of the batch written wrong (``seen``: how many examples came before it)."""
    sources, written, truths = as_text(alphabets, batch, generated)
    return [
        f"- {seen + i}: `{source}` → `{out}` (expected `{truth}`)"
        for i, (source, out, truth) in enumerate(zip(sources, written, truths, strict=True))
        if out != truth
    ]


def request_decoding(request: DictConfig, config: dict) -> Decoding:
    """The decoding a prediction request asks for: ``decode`` (greedy, sample or beam, with ``beam_size``,
    ``length_penalty``, ``temperature``, ``seed``); without it, as before decodings had names: sampled at
    ``temperature`` when one is given, else greedy."""
    temperature = request_temperature(request, config)
    method = request.get("decode") or ("greedy" if temperature is None else "sample")
    defaults = Decoding()
    return Decoding(
        method,
        request.get("beam_size", defaults.beam_size),
        request.get("length_penalty", defaults.length_penalty),
        temperature or defaults.temperature,
        request.get("seed") or 0,
    )


@torch.no_grad()
def attention_maps(
    net: ConditionalGenerator, alphabets: Alphabets, source: Tensor, lengths: Tensor, generated: Tensor
) -> list[AttentionMap]:
    """The attention weights each written symbol of ``generated`` (N, T) was chosen with, read back by feeding the
    output to the decoder (the same steps as when it was written): one map per example, a row per output symbol up
    to END, a column per source character."""
    start = torch.full_like(generated[:, :1], START_ID)
    _, weights = net.teacher_forced(source, torch.cat([start, generated[:, :-1]], dim=1), lengths)
    maps = []
    for ids, row, length, written in zip(source.tolist(), weights, lengths.tolist(), generated.tolist(), strict=True):
        steps = written.index(END_ID) + 1 if END_ID in written else len(written)
        outputs = [alphabets.target.symbols[i] for i in written[:steps]]
        maps.append(AttentionMap(row[:steps, :length].cpu(), list(alphabets.source.decode(ids[:length])), outputs))
    return maps


@torch.no_grad()
def translate(net: nn.Module, alphabets: Alphabets, text: str, decoding: Decoding = Decoding()) -> tuple[str, Tensor]:
    """The translation of ``text``, and the symbols (1, MAX_OUTPUT) written for it."""
    source = alphabets.source.encode(text, "text").unsqueeze(0)
    lengths = torch.tensor([len(text)])
    generated = net.generate(source, START_ID, END_ID, MAX_OUTPUT, lengths=lengths, **decoding.options(source.device))
    return alphabets.target.decode(generated[0].tolist()), generated


@torch.no_grad()
def caption(net: nn.Module, alphabets: Alphabets, test: dict[str, Tensor], index, decoding: Decoding) -> str:
    """Test image ``index`` drawn in characters, then the caption the model writes for it."""
    if not isinstance(index, int) or not 0 <= index < len(test["source"]):
        raise DataError(f"index={index!r} must pick a test image, 0 to {len(test['source']) - 1}")
    image = test["source"][index]
    generated = net.generate(image.unsqueeze(0), START_ID, END_ID, MAX_OUTPUT, **decoding.options(image.device))
    shades = " .:-=+*#%@"
    drawing = "\n".join("".join(shades[min(int(v * 10), 9)] * 2 for v in row.tolist()) for row in image)
    return f"{drawing}\n{alphabets.target.decode(generated[0].tolist())}"
