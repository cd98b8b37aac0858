"""Per-word accuracy of generated captions: word k of the written caption against word k of the true one, on
tensors, equal to splitting the decoded strings at spaces; and the caption module logs it."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from rnnlab.data.alphabet import END_ID, Alphabet, teacher_forcing
from rnnlab.data.batches import IGNORE
from rnnlab.data.digit_captions import NAMES
from rnnlab.lit import SequenceGenerator
from rnnlab.lit.metrics import GenerationMetrics, word_matches

ALPHABET = Alphabet.of([*NAMES, " "], markers=True)


def written(texts: list[str], width: int) -> torch.Tensor:
    """What generate() returns for ``texts``: their ids, END, then END to ``width`` (cut at ``width``)."""
    rows = [[ALPHABET.id(c) for c in text][:width] for text in texts]
    return torch.tensor([row + [END_ID] * (width - len(row)) for row in rows])


def reference(generated: str, truth: str) -> list[bool]:
    """Word k of the generated text equal to word k of the truth, for each word of the truth."""
    words = generated.split(" ")
    return [k < len(words) and words[k] == word for k, word in enumerate(truth.split(" "))]


@pytest.mark.parametrize(
    ("generated", "truth", "right"),
    [
        ("three one four", "three one four", [True, True, True]),
        ("three one fours", "three one four", [True, True, False]),
        ("three one", "three one four", [True, True, False]),
        ("two one four", "three one four", [False, True, True]),  # a shorter first word shifts no later word
        ("three one four five", "three one four", [True, True, True]),  # an extra word costs exact match only
        ("three  one four", "three one four", [True, False, False]),
        ("threeone four", "three one four", [False, False, False]),
        ("", "seven", [False]),
    ],
)
def test_word_k_is_scored_against_word_k(generated, truth, right):
    _, target = teacher_forcing(ALPHABET, [truth])
    target = F.pad(target, (0, 8), value=IGNORE)  # as in a batch with a longer caption
    hits, words = word_matches(written([generated], target.size(1)), target, ALPHABET.id(" "))
    assert hits[0][words[0]].tolist() == right == reference(generated, truth)


def test_word_matches_agree_with_splitting_the_decoded_strings():
    rng = random.Random(0)
    truths = [" ".join(rng.choice(NAMES) for _ in range(rng.randint(1, 4))) for _ in range(200)]
    guesses = []
    for truth in truths:  # mostly right, with words swapped, dropped, misspelt or added
        words = truth.split(" ")
        k = rng.randrange(len(words))
        change = rng.choice(["same", "swap", "drop", "spell", "add"])
        if change == "swap":
            words[k] = rng.choice(NAMES)
        elif change == "drop" and len(words) > 1:
            del words[k]
        elif change == "spell":
            words[k] = words[k][:-1] + rng.choice("nexo")
        elif change == "add":
            words.insert(k, rng.choice(NAMES))
        guesses.append(" ".join(words))
    _, target = teacher_forcing(ALPHABET, truths)
    hits, words = word_matches(written(guesses, target.size(1)), target, ALPHABET.id(" "))
    expected = [reference(g[: target.size(1)], t) for g, t in zip(guesses, truths, strict=True)]
    assert [row[mask].tolist() for row, mask in zip(hits, words, strict=True)] == expected
    assert words.sum() == sum(len(t.split(" ")) for t in truths)


def test_without_a_separator_the_caption_is_one_word():
    _, target = teacher_forcing(ALPHABET, ["seven", "one"])
    generated = written(["seven", "ones"], target.size(1))
    hits, words = word_matches(generated, target, None)
    assert words.sum(1).tolist() == [1, 1] and hits.sum(1).tolist() == [1, 0]


def test_generation_metrics_report_the_share_of_words_right():
    _, target = teacher_forcing(ALPHABET, ["three one four", "two two"])
    logits = F.one_hot(target.clamp(min=0), len(ALPHABET)).float()
    metrics = GenerationMetrics(by_words=True, separator=ALPHABET.id(" "))
    metrics.update(torch.tensor(0.0), logits, target, written(["three one five", "two two"], target.size(1)))
    values = metrics.compute()
    assert float(values["word_acc"]) == pytest.approx(4 / 5)
    assert float(values["exact"]) == pytest.approx(1 / 2)
    translation = GenerationMetrics()  # no words
    translation.update(torch.tensor(0.0), logits, target, target.clamp(min=END_ID))
    assert set(translation.compute()) == {"loss", "char_acc", "exact", "gen_char_acc"}


@pytest.mark.parametrize(("head", "logged"), [("one_to_many", True), ("seq2seq", False)])
def test_only_captions_log_word_accuracy(head, logged):
    names = SequenceGenerator.logged_metrics(OmegaConf.create({"head": head}))
    assert ({"val/word_acc", "test/word_acc"} <= set(names)) == logged
    assert {"val/exact", "test/exact", "val/exact_best"} <= set(names)
