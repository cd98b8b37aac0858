"""The word encoder in front of a recurrent tagger: padding and batch company change nothing in evaluation, the
character summary of a word is the word's own, and word dropout turns rare words into UNK at α / (α + c)."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data.words import NUM_SHAPES, PAD, UNK
from rnnlab.models.backbone import CELLS, RecurrentBackbone
from rnnlab.models.heads import RecurrentNet
from rnnlab.models.word_encoder import WordEncoder

NUM_WORDS, NUM_CHARS, MAX_CHARS = 12, 9, 5


def encoder(cell: str = "rnn", word_dropout: float = 0.25, **kwargs) -> WordEncoder:
    sizes = {"word_dim": 6, "shape_dim": 3, "char_dim": 4, "char_hidden": 5, **kwargs}
    counts = [0, 0, *range(1, NUM_WORDS - 1)]
    return WordEncoder(counts, NUM_CHARS, cell=cell, word_dropout=word_dropout, **sizes)


def sentence(length: int, generator: torch.Generator) -> torch.Tensor:
    """(length, 2 + MAX_CHARS) ids: a word, a shape, then 1 to MAX_CHARS characters and PAD."""
    ids = torch.zeros(length, 2 + MAX_CHARS, dtype=torch.long)
    ids[:, 0] = torch.randint(UNK, NUM_WORDS, (length,), generator=generator)
    ids[:, 1] = torch.randint(1, NUM_SHAPES, (length,), generator=generator)
    for t in range(length):
        n = int(torch.randint(1, MAX_CHARS + 1, (), generator=generator))
        ids[t, 2 : 2 + n] = torch.randint(UNK, NUM_CHARS, (n,), generator=generator)
    return ids


def pad(sentences: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.nn.utils.rnn.pad_sequence(sentences, batch_first=True, padding_value=PAD), torch.tensor(
        [len(s) for s in sentences]
    )


@pytest.mark.parametrize("cell", CELLS)
def test_padded_batch_gives_each_sentences_own_logits(cell):
    torch.manual_seed(0)
    words = encoder(cell)
    net = RecurrentNet(
        RecurrentBackbone(words.output_size, 7, bidirectional=True, cell=cell), "many_to_many", 4, encoder=words
    ).eval()
    g = torch.Generator().manual_seed(1)
    sentences = [sentence(6, g), sentence(2, g), sentence(4, g)]
    batch, lengths = pad(sentences)
    with torch.no_grad():
        logits = net(batch, lengths)
        assert logits.shape == (3, 6, 4)
        for i, s in enumerate(sentences):
            alone = net(s.unsqueeze(0))[0]
            torch.testing.assert_close(logits[i, : len(s)], alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_a_words_character_summary_does_not_depend_on_its_batch(cell):
    torch.manual_seed(0)
    words = encoder(cell).eval()
    g = torch.Generator().manual_seed(2)
    word = sentence(1, g)[0, 2:]
    with torch.no_grad():
        alone = words.spell(word.view(1, 1, -1))[0, 0]
        for company in range(3):
            chars = sentence(7, g)[:, 2:]
            chars[company * 2] = word
            summary = words.spell(chars.unsqueeze(0))[0, company * 2]
            torch.testing.assert_close(summary, alone, atol=1e-6, rtol=0)
        assert alone.shape == (2 * 5,)


@pytest.mark.parametrize("alpha", [0.25, 2.0])
def test_word_dropout_rate_follows_the_training_count(alpha):
    torch.manual_seed(0)
    counts = [0, 0, 1, 3, 10, 50]
    words = WordEncoder(counts, NUM_CHARS, word_dim=2, shape_dim=2, char_hidden=0, word_dropout=alpha)
    seen = []
    words.words.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    draws = 20_000
    ids = torch.zeros(len(counts), draws, 2 + MAX_CHARS, dtype=torch.long)
    ids[:, :, 0] = torch.arange(len(counts)).unsqueeze(1)  # row w: word id w (row 0: padding)
    ids[1:, :, 1] = 1
    words.train()(ids)
    read = seen[-1]
    assert (read[PAD] == PAD).all()  # padding is never dropped
    assert (read[UNK] == UNK).all()
    for w in range(2, len(counts)):
        assert set(read[w].unique().tolist()) <= {w, UNK}
        rate = (read[w] == UNK).float().mean().item()
        assert rate == pytest.approx(alpha / (alpha + counts[w]), abs=0.02), (w, rate)
    words.eval()(ids)
    assert torch.equal(seen[-1], ids[..., 0])  # evaluation reads every word as it is


def test_no_word_dropout_when_it_is_zero():
    seen = []
    words = encoder(word_dropout=0.0, char_hidden=0)
    words.words.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    ids = torch.ones(4, 100, 2, dtype=torch.long)
    ids[..., 0] = torch.arange(2, 6).unsqueeze(1)
    words.train()(ids)
    assert torch.equal(seen[-1], ids[..., 0])


@pytest.mark.parametrize(
    ("word_dim", "shape_dim", "char_hidden", "size"), [(6, 3, 5, 19), (10, 8, 16, 50), (4, 2, 0, 6)]
)
def test_output_size(word_dim, shape_dim, char_hidden, size):
    words = encoder(word_dim=word_dim, shape_dim=shape_dim, char_hidden=char_hidden).eval()
    assert words.output_size == word_dim + shape_dim + 2 * char_hidden == size
    ids = sentence(3, torch.Generator().manual_seed(0)).unsqueeze(0)
    with torch.no_grad():
        assert words(ids).shape == (1, 3, size)
