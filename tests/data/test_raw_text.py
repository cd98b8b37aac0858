"""Raw text split into words as UD English treebanks split them (punctuation and clitics apart), or kept as the user
tokenised it."""

from __future__ import annotations

import unicodedata

import pytest
from helpers import DATA_DIR

from rnnlab.data.raw_text import agreement, tokenize
from rnnlab.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("I saw it yesterday.", ["I", "saw", "it", "yesterday", "."]),
        ("Well, I don't know.", ["Well", ",", "I", "do", "n't", "know", "."]),
        ("It's Anna's cat, isn't it?", ["It", "'s", "Anna", "'s", "cat", ",", "is", "n't", "it", "?"]),
        ("They cannot go; we're gonna stay.", ["They", "can", "not", "go", ";", "we", "'re", "gon", "na", "stay", "."]),
        # Typographic apostrophes split alike and stay as typed; so do straight double quotes (not `` '').
        ("I don’t say \"no\".", ["I", "do", "n’t", "say", '"', "no", '"', "."]),
        # Several sentences: each one's final period is a word; abbreviations keep theirs.
        ("Mr. Smith left at 5 p.m. today. Then it rained!", ["Mr.", "Smith", "left", "at", "5", "p.m.", "today", ".",
                                                             "Then", "it", "rained", "!"]),
        ("The U.S. costs $5.50 (really).", ["The", "U.S.", "costs", "$", "5.50", "(", "really", ")", "."]),
    ],
)  # fmt: skip
def test_english_text_is_split_as_ud_english_treebanks_are(text, words):
    assert tokenize(text, "english") == words


def test_whitespace_keeps_a_tokenised_text_as_it_is():
    assert tokenize("I do n't know .", "whitespace") == ["I", "do", "n't", "know", "."]
    assert tokenize("  मैं  हिंदी बोलता हूँ ।", "whitespace") == ["मैं", "हिंदी", "बोलता", "हूँ", "।"]


@pytest.mark.parametrize("tokenizer", ["english", "whitespace"])
def test_text_is_normalised_to_nfc_as_treebanks_are(tokenizer):
    decomposed = unicodedata.normalize("NFD", "café")
    assert decomposed != "café"
    assert tokenize(decomposed, tokenizer) == ["café"]


def test_an_unknown_tokenizer_is_named():
    with pytest.raises(ConfigError, match="tokenizer='spacy' is not one of english, whitespace"):
        tokenize("hello", "spacy")


def test_the_english_tokenizer_reproduces_most_of_ewt_dev():
    # No skip: the corpus is part of the project's setup (../shared/data or RNNLAB_DATA_DIR).
    path = DATA_DIR / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    assert path.is_file(), f"{path} is missing; see ../shared/data/SOURCES.md or set RNNLAB_DATA_DIR"
    english, whitespace = agreement(path, "english"), agreement(path, "whitespace")
    assert english["sentences"] == whitespace["sentences"] == 2001
    # Measured: 83.1 % of sentences split exactly as the treebank (whitespace: 16.1 %); docs/treebanks.md.
    assert english["exact"] > 0.8 > 0.2 > whitespace["exact"]
    assert english["f1"] > 0.96 > 0.8 > whitespace["f1"]
