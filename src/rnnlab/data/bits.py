"""The lecture's four bit problems, generated as a pure function of (seed, split).

=====================  ==============================  ====================  ===================
task                   problem                          input → target        head
=====================  ==============================  ====================  ===================
``flip_bit``           1: flip one bit                  (1, 1) → ()           many-to-one, T = 1
``flip_vector``        2: flip a 10-bit vector          (1, 10) → (10,)       many-to-one, T = 1
``flip_vector_padded`` 2: variable length 1–10, −1 pad  (1, 10) → (10,) +mask  many-to-one, T = 1
``flip_stream``        3: flip bits over time, T = 10   (T, 1) → (T,)         many-to-many
``flip_if_same``       4: flip if x_t == o_{t-1}        (T, 1) → (T,)         many-to-many
=====================  ==============================  ====================  ===================

Splits are disjoint sets of inputs: an input belongs to the split picked by a seeded hash of its content, so
test accuracy measures generalisation to unseen inputs. Small input spaces (≤ ``ENUMERATE_LIMIT``, e.g. the
2^10 streams) are enumerated and each split holds its share of them; larger ones (``seq_len=50``) are sampled
from a seeded generator and filtered by the same hash. Problem 1's space has two inputs, too few to split, so
each of its splits samples both bits freely (``disjoint: false``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnlab.data.splits import ENUMERATE_LIMIT, SPLITS, seeded, split_of
from rnnlab.errors import ConfigError

PAD = -1  # problem 2's padding value, in the input and in the target


def flip(x: Tensor) -> Tensor:
    """Problems 1–3: every bit flipped (padding stays padding)."""
    return torch.where(x == PAD, x, 1 - x)


def flip_if_same(x: Tensor, initial_output: int = 0) -> Tensor:
    """Problem 4, the literal rule: ``o_t = 1 − x_t`` if ``x_t == o_{t−1}`` else ``x_t``, for bits x (N, T).

    ``initial_output`` is o_{−1}, the "previous output" before the first step (rnnlab's convention: 0).
    """
    previous = torch.full_like(x[:, 0], initial_output)
    outputs = []
    for t in range(x.size(1)):
        previous = torch.where(x[:, t] == previous, 1 - x[:, t], x[:, t])
        outputs.append(previous)
    return torch.stack(outputs, dim=1)


def flip_if_same_closed_form(num_steps: int, initial_output: int = 0) -> Tensor:
    """Problem 4 in closed form: for binary bits either branch gives ``o_t = 1 − o_{t−1}``, so the output
    alternates whatever the input: ``o_t = (t + 1 + o_{−1}) mod 2``."""
    return (torch.arange(num_steps) + 1 + initial_output) % 2


@dataclass(frozen=True)
class BitProblem:
    name: str
    head: str
    padded: bool = False
    over_time: bool = False  # bits arrive one per step (problems 3, 4) rather than as one vector

    def input_space_size(self, length: int) -> int:
        if self.padded:
            return 2 ** (length + 1) - 2  # every length 1..L with all its bit patterns
        return 2**length

    def enumerate_inputs(self, length: int) -> Tensor:
        """Every input of the space as bits (M, length), padded with PAD where the problem pads."""
        if not self.padded:
            return _all_bit_strings(length)
        rows = []
        for n in range(1, length + 1):
            bits = _all_bit_strings(n)
            rows.append(torch.cat([bits, bits.new_full((len(bits), length - n), PAD)], dim=1))
        return torch.cat(rows)

    def sample_inputs(self, generator: torch.Generator, count: int, length: int) -> Tensor:
        bits = torch.randint(0, 2, (count, length), generator=generator)
        if self.padded:
            lengths = torch.randint(1, length + 1, (count, 1), generator=generator)
            bits = torch.where(torch.arange(length) < lengths, bits, PAD)
        return bits

    def targets(self, bits: Tensor, initial_output: int) -> Tensor:
        return flip_if_same(bits, initial_output) if self.name == "flip_if_same" else flip(bits)


PROBLEMS = {
    p.name: p
    for p in (
        BitProblem("flip_bit", head="many_to_one"),
        BitProblem("flip_vector", head="many_to_one"),
        BitProblem("flip_vector_padded", head="many_to_one", padded=True),
        BitProblem("flip_stream", head="many_to_many", over_time=True),
        BitProblem("flip_if_same", head="many_to_many", over_time=True),
    )
}


def _all_bit_strings(length: int) -> Tensor:
    codes = torch.arange(2**length).unsqueeze(1)
    return (codes >> torch.arange(length - 1, -1, -1)) & 1


def generate_bits(
    problem: BitProblem,
    split: str,
    *,
    length: int,
    size: int,
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    disjoint: bool = True,
) -> Tensor:
    """The input bits (size', length) of one split; size' < size where the split's share of a small space is
    smaller. A pure function of its arguments."""
    split_id = SPLITS.index(split)
    if not disjoint:
        return problem.sample_inputs(seeded(seed, split_id), size, length)
    if not fractions[split_id] > 0:
        raise ConfigError(f"the {split} split has share {fractions[split_id]} of the inputs; give it a positive share")
    if problem.input_space_size(length) <= ENUMERATE_LIMIT:
        space = problem.enumerate_inputs(length)
        members = space[split_of(space, seed, fractions) == split_id]
        if len(members) == 0:
            raise ConfigError(
                f"{problem.name}'s {len(space)} possible inputs are too few to split into disjoint train/val/test "
                "sets; use a longer input or disjoint: false"
            )
        order = torch.randperm(len(members), generator=seeded(seed, split_id))
        return members[order[:size]]
    generator, found, count = seeded(seed, split_id), [], 0
    while count < size:
        candidates = problem.sample_inputs(generator, 2 * size, length)
        keep = candidates[split_of(candidates, seed, fractions) == split_id]
        found.append(keep)
        count += len(keep)
    return torch.cat(found)[:size]


def make_examples(problem: BitProblem, bits: Tensor, initial_output: int = 0) -> dict[str, Tensor]:
    """Model-ready tensors: ``input`` (N, T, I) float, ``target`` (N, ...) long, and ``mask`` where padded."""
    target = problem.targets(bits, initial_output)
    if problem.over_time:
        return {"input": bits.unsqueeze(-1).float(), "target": target}
    example = {"input": bits.unsqueeze(1).float(), "target": target}
    if problem.name == "flip_bit":
        example["target"] = target.squeeze(1)
    if problem.padded:
        example["mask"] = bits != PAD
    return example
