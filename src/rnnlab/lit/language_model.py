"""The language-model family (head ``language_model``): a character RNN trained by truncated BPTT over
contiguous streams.

Each batch holds the next ``window`` characters of B parallel streams (see :mod:`rnnlab.data.char_text`).
Training follows Lightning 2's recipe for truncated BPTT (manual optimization): the batch is split into chunks
of ``bptt`` characters (``x.split(bptt, dim=1)``: full chunks, the last one shorter); each chunk is one
forward pass, one backward pass and one optimizer step, and the hidden state it leaves is detached before the
next chunk reads it, so gradients flow back at most ``bptt`` steps and never into an earlier chunk. A sequence
of length T thus makes ⌈T / bptt⌉ optimizer steps. The state is carried from batch to batch (the streams
continue), reset when an epoch starts over, and carried the same way through validation and test, whose loss
is therefore the loss of reading each split as one continuous text. Gradient clipping, off in manual mode,
is applied here from the same key as in automatic mode (``trainer.gradient_clip_val``).

Metrics per stage: ``loss`` (nats per character), ``bpc`` (bits per character, loss / ln 2), ``ppl``
(perplexity, e^loss) and ``acc`` (next-character accuracy), all weighted by characters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torchmetrics import MinMetric

from rnnlab.data.alphabet import Alphabet
from rnnlab.errors import ConfigError, DataError
from rnnlab.lit.base import RecurrentModule, TrainingSetup, request_setting, request_temperature
from rnnlab.lit.metrics import STAGES, TextMetrics
from rnnlab.lit.nets import char_rnn, needs_vocab
from rnnlab.models.backbone import State
from rnnlab.models.generators import CharRNN, detach_state, move_state
from rnnlab.models.modes import evaluating


class LanguageModel(RecurrentModule):
    heads = ("language_model",)
    stage_metrics: ClassVar[dict[str, tuple[str, ...]]] = {stage: ("loss", "bpc", "ppl", "acc") for stage in STAGES}
    best_metrics = ("loss",)
    lower_is_better = ("loss", "bpc", "ppl")
    vocab_type = Alphabet
    # Its windows continue each other's hidden states, so they cannot be dealt out to DDP ranks by batch.
    shards_batches = False

    def __init__(self, net: CharRNN, setup: TrainingSetup, bptt: int = 100, sample: dict | None = None) -> None:
        """``setup.vocab``: the alphabet (:class:`~rnnlab.data.alphabet.Alphabet` as a dict); ``bptt``: the
        truncation length; ``sample``: the text sample written after each validation (``prime``, ``length``,
        ``temperature``, ``greedy``)."""
        super().__init__(net, setup, bptt=bptt, sample=sample)
        self.automatic_optimization = False  # truncated BPTT steps the optimizer once per chunk
        self.bptt = bptt
        self.train_metrics, self.val_metrics, self.test_metrics = (TextMetrics() for _ in STAGES)
        self.best.update({"loss": MinMetric()})
        # The hidden state each stage's streams have reached: carried across batches, reset per epoch.
        self.states: dict[str, State | None] = {}

    @classmethod
    def build_net(cls, model: DictConfig, task: DictConfig, vocab: Alphabet | None = None) -> CharRNN:
        needs_vocab(task, vocab)
        return char_rnn(model, task, len(vocab), task)

    @classmethod
    def from_config(cls, cfg: DictConfig, net: CharRNN, setup: TrainingSetup) -> LanguageModel:
        sample = OmegaConf.to_container(cfg.task.sample, resolve=True) if cfg.task.get("sample") else None
        return cls(net, setup, bptt=cfg.task.bptt, sample=sample)

    @classmethod
    def predict(cls, net: CharRNN, vocab: Alphabet, request: DictConfig, config: dict, test_split: Callable) -> str:
        """``prime`` continued by ``length`` characters (greedy, or sampled at ``temperature``)."""
        length = request_setting(request, config, "length")
        if not isinstance(length, int) or length <= 0:
            raise ConfigError(f"length={length!r} must be a positive number of characters, e.g. length=200")
        prime = request_setting(request, config, "prime")
        temperature = request_temperature(request, config)
        return sample_text(net, vocab, prime, length, temperature, seed=request.get("seed") or 0)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        return self.net(ids, state)

    def chunk_loss(self, ids: Tensor, target: Tensor, state: State | None) -> tuple[Tensor, Tensor, State]:
        logits, state = self(ids, state)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1)), logits, state

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        state = self.states.get("train")
        for ids, target in zip(batch["input"].split(self.bptt, 1), batch["target"].split(self.bptt, 1), strict=True):
            loss, logits, state = self.chunk_loss(ids, target, state)
            self.optimize(loss)
            state = detach_state(state)  # the chunk boundary: no gradient flows into the chunk before
            self.train_metrics.update(loss, logits, target)
        self.states["train"] = state

    def step(self, batch: dict[str, Tensor], stage: str) -> None:
        """One validation or test batch: the streams' state carries on from the previous batch."""
        loss, logits, self.states[stage] = self.chunk_loss(batch["input"], batch["target"], self.states.get(stage))
        getattr(self, f"{stage}_metrics").update(loss, logits, batch["target"])

    def _start(self, stage: str) -> None:
        self.states[stage] = None  # each epoch reads its streams from the beginning

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self._start("train")

    def on_validation_epoch_start(self) -> None:
        self._start("val")

    def on_test_epoch_start(self) -> None:
        self._start("test")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        # A checkpoint written inside an epoch resumes there, so it keeps where the training streams stand.
        if (state := self.states.get("train")) is not None:
            checkpoint["train_stream_state"] = state

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        if (state := checkpoint.get("train_stream_state")) is not None:
            self.states["train"] = move_state(state, self.device)

    @property
    def alphabet(self) -> Alphabet:
        return Alphabet.from_dict(self.hparams.vocab)

    def sample(
        self, prime: str, length: int, temperature: float | None = None, seed: int = 0, where: str = "prime"
    ) -> str:
        """:func:`sample_text` with this module's network and alphabet, in eval mode."""
        with evaluating(self):
            return sample_text(self.net, self.alphabet, prime, length, temperature, seed, where)

    def samples(self, datamodule, stage: str, n: int) -> tuple[str, None]:
        """The configured sample (``task.sample``) as a code block, seeded by the epoch: for the callback."""
        settings = self.hparams.sample or {}
        text = self.sample(
            settings.get("prime") or self.alphabet.symbols[0],
            settings.get("length", 200),
            settings.get("temperature"),
            seed=self.current_epoch,
            where="task.sample.prime",
        )
        mode = f"temperature {settings['temperature']}" if settings.get("temperature") else "greedy"
        return f"{mode}:\n\n```\n{text}\n```", None


def sample_text(
    net: CharRNN,
    alphabet: Alphabet,
    prime: str | None,
    length: int,
    temperature: float | None = None,
    seed: int = 0,
    where: str = "prime",
) -> str:
    """``prime`` followed by ``length`` generated characters: greedy when ``temperature`` is None, else sampled
    at that temperature with a generator seeded by ``seed``. Characters outside the alphabet are an error."""
    if not prime:
        raise DataError(f"{where} is empty; give at least one character to start from, e.g. {where}=h")
    device = net.output.V.device
    ids = alphabet.encode(prime, where).unsqueeze(0).to(device)
    generator = torch.Generator(device).manual_seed(seed)
    generated = net.generate(ids, length, temperature=temperature, generator=generator)
    return prime + "".join(alphabet.symbols[i] for i in generated[0].tolist())
