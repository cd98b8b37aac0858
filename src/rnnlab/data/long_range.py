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
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.data.bits import ENUMERATE_LIMIT, SPLITS, split_of
from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.errors import ConfigError


def chance_level(num_symbols: int) -> float:
    """The accuracy of guessing, and of the best constant answer: cues are uniform over the K symbols."""
    return 1 / num_symbols


def _with_query(contents: Tensor, num_symbols: int) -> Tensor:
    """Token rows (M, gap + 1): the cue and distractors (M, gap), then the query marker K."""
    return torch.cat([contents, contents.new_full((len(contents), 1), num_symbols)], dim=1)


def all_sequences(num_symbols: int, gap: int) -> Tensor:
    """Every possible sequence (K^gap, gap + 1), counting in base K over cue and distractors."""
    codes = torch.arange(num_symbols**gap).unsqueeze(1)
    place_values = num_symbols ** torch.arange(gap - 1, -1, -1)
    return _with_query(codes // place_values % num_symbols, num_symbols)


def sample_sequences(generator: torch.Generator, count: int, num_symbols: int, gap: int) -> Tensor:
    """``count`` sequences (count, gap + 1) with cue and distractors drawn uniformly."""
    return _with_query(torch.randint(0, num_symbols, (count, gap), generator=generator), num_symbols)


def _generator(seed: int, split_id: int) -> torch.Generator:
    # Offset from `seed` alone, which seeds the model's initial weights: the streams stay unrelated.
    return torch.Generator().manual_seed(seed * 1_000_003 + split_id + 1)


def _check_splittable(space: Tensor, split_ids: Tensor, num_symbols: int, gap: int) -> None:
    """Every split needs sequences, and training needs every cue: else held-out sequences ask for untrained
    answers."""
    trained_cues = space[split_ids == 0, 0].unique()
    if len(trained_cues) < num_symbols or len(split_ids.unique()) < len(SPLITS):
        raise ConfigError(
            f"gap={gap} with num_symbols={num_symbols} gives only {len(space)} possible sequences, too few for "
            "disjoint train/val/test splits in which training sees every cue; use a longer gap"
        )


def generate_tokens(
    split: str,
    *,
    gap: int,
    num_symbols: int,
    size: int,
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> Tensor:
    """The token rows (size', gap + 1) of one split; size' < size where the split's share of a small space is
    smaller. A pure function of its arguments."""
    split_id = SPLITS.index(split)
    if not fractions[split_id] > 0:
        raise ConfigError(
            f"the {split} split has share {fractions[split_id]} of the sequences; give it a positive share"
        )
    generator = _generator(seed, split_id)
    if num_symbols**gap <= ENUMERATE_LIMIT:
        space = all_sequences(num_symbols, gap)
        split_ids = split_of(space, seed, fractions)
        _check_splittable(space, split_ids, num_symbols, gap)
        members = space[split_ids == split_id]
        return members[torch.randperm(len(members), generator=generator)[:size]]
    found, count = [], 0
    while count < size:
        candidates = sample_sequences(generator, 2 * size, num_symbols, gap)
        keep = candidates[split_of(candidates, seed, fractions) == split_id]
        found.append(keep)
        count += len(keep)
    return torch.cat(found)[:size]


def make_examples(tokens: Tensor, num_symbols: int) -> dict[str, Tensor]:
    """Model-ready tensors: ``input`` (N, T, K + 1) one-hot float, ``target`` (N,) the cue."""
    return {"input": F.one_hot(tokens, num_symbols + 1).float(), "target": tokens[:, 0].clone()}


class LongRangeDataModule(InMemoryDataModule):
    def __init__(
        self,
        gap: int,
        num_symbols: int,
        sizes: dict[str, int],
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        batch_size: int = 32,
        eval_batch_size: int = 1024,
        seed: int = 0,
        batches_per_step: int = 1,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, seed, batches_per_step)
        if not gap >= 1:
            raise ConfigError(f"gap={gap} must be at least 1: the steps from the cue to the query")
        if not num_symbols >= 2:
            raise ConfigError(f"num_symbols={num_symbols} must be at least 2: a cue with one value carries nothing")
        self.gap, self.num_symbols, self.sizes, self.fractions = gap, num_symbols, dict(sizes), tuple(fractions)

    def generate(self, name: str) -> dict[str, Tensor]:
        tokens = generate_tokens(
            name,
            gap=self.gap,
            num_symbols=self.num_symbols,
            size=self.sizes[name],
            seed=self.seed,
            fractions=self.fractions,
        )
        return make_examples(tokens, self.num_symbols)
