"""A long-range dependency made measurable: name the first symbol of a sequence, ``gap`` steps later.

The lecture's examples: in "the clouds are in the *sky*" the word that decides the answer is 3 steps back; in
"I grew up in India … I speak fluent *Hindi*" it is 9 or more. Here that distance is a knob, ``gap``::

    step     0      1 … gap − 1      gap
    token    cue    distractors      query     →  target: the cue

The vocabulary is ``num_symbols`` (K) content symbols 0 … K − 1 plus the query marker K; inputs are one-hot,
(N, T, K + 1) with T = gap + 1. Distractors are drawn uniformly from the same K symbols, so remembering *a*
symbol is not enough: the network must keep the first one through gap − 1 others. A many-to-one head predicts
the cue from the final state, read after the query. Cues are uniform, so chance, and the best constant guess,
is 1/K. The distance holds for unidirectional networks only: a bidirectional one reads the cue last in its
backward pass.

Splits are disjoint by content, as for the bit problems: a sequence belongs to the split that
:func:`~rnnlab.data.bits.split_of` hashes it to. The K^gap possible sequences are enumerated when there are at
most ``ENUMERATE_LIMIT`` of them, else sampled from a seeded generator and filtered by that hash. A space so
small that training would miss some cue is refused (gap = 1 always is: its K sequences are one per answer),
since the held-out splits would ask for answers the network never saw.

Options:

- ``cue="distinct"`` (Hochreiter & Schmidhuber 1997's task 2b flavour): the cues are never distractors. The
  first ``num_cues`` symbols (default K // 2) are the cues, the other K − num_cues the distractors. A cue symbol
  then appears once, at step 0, so holding the last cue symbol seen suffices: the network need not also keep
  track of which symbol came first. Chance is 1/num_cues. ``cue="shared"`` (the default) is the task above,
  tensor for tensor.
- ``resample=True``: the training split is drawn afresh every epoch (see :func:`generate_tokens`), still outside
  the held-out splits' share of the space; validation and test stay fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.data.splits import ENUMERATE_LIMIT, SPLITS, split_generator, split_of
from rnnlab.errors import ConfigError

CUES = ("shared", "distinct")


@dataclass(frozen=True)
class Alphabet:
    """Which content symbols may be the cue (0 … num_cues − 1), which fill the gap (first_distractor … K − 1)."""

    num_symbols: int
    num_cues: int
    first_distractor: int

    @property
    def num_distractors(self) -> int:
        return self.num_symbols - self.first_distractor

    def space_size(self, gap: int) -> int:
        """How many sequences there are: a cue, then gap − 1 distractors."""
        return self.num_cues * self.num_distractors ** (gap - 1)


def alphabet(num_symbols: int, cue: str = "shared", num_cues: int | None = None) -> Alphabet:
    """The cue and distractor symbols of ``cue`` = shared (every symbol is both) or distinct (the first
    ``num_cues``, by default K // 2, are cues; the rest distractors). Refuses a split leaving fewer than two of
    either: one cue value carries nothing, and one distractor value leaves only num_cues sequences."""
    if cue not in CUES:
        raise ConfigError(f"task.cue={cue!r} is not one of {', '.join(CUES)}")
    if cue == "shared":
        if num_cues is not None:
            raise ConfigError(
                f"task.num_cues={num_cues} applies to task.cue=distinct (shared: every symbol is a cue); "
                "set task.num_cues=null"
            )
        return Alphabet(num_symbols, num_symbols, 0)
    cues = num_symbols // 2 if num_cues is None else num_cues
    if not 2 <= cues <= num_symbols - 2:
        raise ConfigError(
            f"task.cue=distinct with task.num_symbols={num_symbols} splits them into {cues} cues and "
            f"{num_symbols - cues} distractors; it needs at least 2 of each (task.num_symbols >= 4, "
            "task.num_cues between 2 and task.num_symbols − 2)"
        )
    return Alphabet(num_symbols, cues, cues)


def chance_level(num_symbols: int, cue: str = "shared", num_cues: int | None = None) -> float:
    """The accuracy of guessing, and of the best constant answer: cues are uniform over the cue symbols (all K of
    them when shared)."""
    return 1 / alphabet(num_symbols, cue, num_cues).num_cues


def _with_query(contents: Tensor, num_symbols: int) -> Tensor:
    """Token rows (M, gap + 1): the cue and distractors (M, gap), then the query marker K."""
    return torch.cat([contents, contents.new_full((len(contents), 1), num_symbols)], dim=1)


def all_sequences(num_symbols: int, gap: int, cue: str = "shared", num_cues: int | None = None) -> Tensor:
    """Every possible sequence (space size, gap + 1), counting in mixed radix: the cue is the leading digit (base
    num_cues), the distractors the others (base num_distractors). Shared cues make it plain base K."""
    symbols = alphabet(num_symbols, cue, num_cues)
    codes = torch.arange(symbols.space_size(gap)).unsqueeze(1)
    place_values = symbols.num_distractors ** torch.arange(gap - 1, -1, -1)
    digits = codes // place_values  # the leading digit is below num_cues already
    digits[:, 1:] = digits[:, 1:] % symbols.num_distractors + symbols.first_distractor
    return _with_query(digits, num_symbols)


def sample_sequences(
    generator: torch.Generator,
    count: int,
    num_symbols: int,
    gap: int,
    cue: str = "shared",
    num_cues: int | None = None,
) -> Tensor:
    """``count`` sequences (count, gap + 1) with cue and distractors drawn uniformly from their symbols."""
    if cue == "shared":
        return _with_query(torch.randint(0, num_symbols, (count, gap), generator=generator), num_symbols)
    symbols = alphabet(num_symbols, cue, num_cues)
    cues = torch.randint(0, symbols.num_cues, (count, 1), generator=generator)
    distractors = torch.randint(symbols.first_distractor, num_symbols, (count, gap - 1), generator=generator)
    return _with_query(torch.cat([cues, distractors], dim=1), num_symbols)


def _check_splittable(space: Tensor, split_ids: Tensor, num_symbols: int, gap: int, num_cues: int) -> None:
    """Every split needs sequences, and training needs every cue: else held-out sequences ask for untrained
    answers."""
    trained_cues = space[split_ids == 0, 0].unique()
    if len(trained_cues) < num_cues or len(split_ids.unique()) < len(SPLITS):
        cues = "" if num_cues == num_symbols else f" and {num_cues} distinct cues"
        raise ConfigError(
            f"gap={gap} with num_symbols={num_symbols}{cues} gives only {len(space)} possible sequences, too few "
            "for disjoint train/val/test splits in which training sees every cue; use a longer gap"
        )


def generate_tokens(
    split: str,
    *,
    gap: int,
    num_symbols: int,
    size: int,
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    cue: str = "shared",
    num_cues: int | None = None,
    epoch: int = 0,
) -> Tensor:
    """The token rows (size', gap + 1) of one split; size' < size where the split's share of a small space is
    smaller. A pure function of its arguments.

    ``epoch`` > 0 (the training split only) draws that epoch's training sequences from a stream of its own, so
    a resampled training set is a pure function of (seed, epoch): a run resumed at epoch e sees what an
    uninterrupted one saw. Every epoch keeps the sequences :func:`~rnnlab.data.bits.split_of` assigns to
    training, so none is ever a validation or test sequence. Where the space is enumerated and the training share
    holds no more than ``size`` sequences, every epoch holds all of them."""
    split_id = SPLITS.index(split)
    if epoch and split != "train":
        raise ValueError(f"only the training split is drawn afresh per epoch; {split} is fixed (got epoch={epoch})")
    if not fractions[split_id] > 0:
        raise ConfigError(
            f"the {split} split has share {fractions[split_id]} of the sequences; give it a positive share"
        )
    symbols = alphabet(num_symbols, cue, num_cues)
    generator = split_generator(seed, split_id, epoch)
    if symbols.space_size(gap) <= ENUMERATE_LIMIT:
        space = all_sequences(num_symbols, gap, cue, num_cues)
        split_ids = split_of(space, seed, fractions)
        _check_splittable(space, split_ids, num_symbols, gap, symbols.num_cues)
        members = space[split_ids == split_id]
        return members[torch.randperm(len(members), generator=generator)[:size]]
    found, count = [], 0
    while count < size:
        candidates = sample_sequences(generator, 2 * size, num_symbols, gap, cue, num_cues)
        keep = candidates[split_of(candidates, seed, fractions) == split_id]
        found.append(keep)
        count += len(keep)
    return torch.cat(found)[:size]


def make_examples(tokens: Tensor, num_symbols: int) -> dict[str, Tensor]:
    """Model-ready tensors: ``input`` (N, T, K + 1) one-hot float, ``target`` (N,) the cue."""
    return {"input": F.one_hot(tokens, num_symbols + 1).float(), "target": tokens[:, 0].clone()}


class LongRangeDataModule(InMemoryDataModule):
    """The long-range cue task's splits (module docstring). ``cue``, ``num_cues``: which symbols are cues
    (:func:`alphabet`); ``resample``: fresh training sequences every epoch (:func:`generate_tokens`)."""

    def __init__(
        self,
        gap: int,
        num_symbols: int,
        sizes: dict[str, int],
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        cue: str = "shared",
        num_cues: int | None = None,
        resample: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)
        if not gap >= 1:
            raise ConfigError(f"gap={gap} must be at least 1: the steps from the cue to the query")
        if not num_symbols >= 2:
            raise ConfigError(f"num_symbols={num_symbols} must be at least 2: a cue with one value carries nothing")
        alphabet(num_symbols, cue, num_cues)  # refuses a cue layout that cannot work, before any data is made
        self.gap, self.num_symbols, self.sizes, self.fractions = gap, num_symbols, dict(sizes), tuple(fractions)
        self.cue, self.num_cues, self.resample_train = cue, num_cues, resample

    def generate(self, name: str) -> dict[str, Tensor]:
        return self._examples(name, epoch=0)

    def generate_train_epoch(self, epoch: int) -> dict[str, Tensor]:
        return self._examples("train", epoch)

    def _examples(self, name: str, epoch: int) -> dict[str, Tensor]:
        tokens = generate_tokens(
            name,
            gap=self.gap,
            num_symbols=self.num_symbols,
            size=self.sizes[name],
            seed=self.seed,
            fractions=self.fractions,
            cue=self.cue,
            num_cues=self.num_cues,
            epoch=epoch,
        )
        return make_examples(tokens, self.num_symbols)
