"""Raw text → the words a treebank would give it, so that a tagger reads typed text as it read its training files.

UD English (EWT, GUM, …) splits punctuation off words and clitics off their hosts: "don't" is "do" + "n't", "it's"
"it" + "'s", "cannot" "can" + "not". These are the Penn Treebank's conventions, which NLTK's word tokenizer
(``NLTKWordTokenizer``, rules only, no model to download) follows. It expects one sentence at a time (only a
sentence's last period is split off), so the text is first cut into sentences by NLTK's Punkt algorithm. Punkt's
trained English model would be a download; untrained, it knows no abbreviations, so it is given the common ones
(:data:`ABBREVIATIONS`) and otherwise takes a period, "?" or "!" before a space as a sentence's end.

Tokenizers (``tokenizer=`` of ``scripts/predict.py``, ``task.tokenizer`` of a task):

- ``english``: as above; each word keeps the characters the user typed (quotes are not rewritten to `` and '');
- ``whitespace``: the text is already tokenised, words separated by spaces (any language).

:func:`agreement` measures how often a tokenizer reproduces a treebank's own words from its ``# text`` lines.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import conllu

from rnnlab.data.text_files import read_text
from rnnlab.errors import ConfigError

TOKENIZERS = ("english", "whitespace")
# Abbreviations whose period does not end a sentence (lower-case, without the final period, as Punkt stores them).
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "inc",
    "co", "corp", "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})  # fmt: skip


@cache
def _nltk_tokenizers():
    """NLTK's sentence and word tokenizers, made once (importing NLTK takes a second or two)."""
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    parameters = PunktParameters()
    parameters.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(parameters), NLTKWordTokenizer()


def english_words(text: str) -> list[str]:
    """UD English words of ``text``: sentences by Punkt, then Penn Treebank tokens, as the substrings typed."""
    sentences, words = _nltk_tokenizers()
    # NLTK splits clitics after a straight apostrophe only; a typographic one (’s, n’t) is the same length, so
    # the offsets found in the straightened text cut the text as typed.
    straight = text.replace("\u2019", "'")
    tokens = []
    for start, end in sentences.span_tokenize(straight):
        sentence = straight[start:end]
        tokens += [text[start + a : start + b] for a, b in words.span_tokenize(sentence)]
    return tokens


def tokenize(text: str, tokenizer: str = "english") -> list[str]:
    """The words of ``text`` (NFC-normalised, as UD treebanks are) by ``tokenizer``, one of :data:`TOKENIZERS`."""
    if tokenizer not in TOKENIZERS:
        raise ConfigError(f"tokenizer={tokenizer!r} is not one of {', '.join(TOKENIZERS)}")
    text = unicodedata.normalize("NFC", text)
    return english_words(text) if tokenizer == "english" else text.split()


def agreement(path: str | Path, tokenizer: str = "english") -> dict[str, float | int]:
    """How ``tokenizer`` splits the ``# text`` of each sentence of a CoNLL-U file against the treebank's own
    syntactic words: the share of sentences split exactly alike, and precision/recall/F1 of the words (as
    multisets per sentence)."""
    sentences = [s for s in conllu.parse(read_text(path, "CoNLL-U file")) if "text" in s.metadata]
    exact = right = predicted = gold = 0
    for sentence in sentences:
        words = [token["form"] for token in sentence if isinstance(token["id"], int)]
        tokens = tokenize(sentence.metadata["text"], tokenizer)
        exact += tokens == words
        right += sum((Counter(tokens) & Counter(words)).values())
        predicted, gold = predicted + len(tokens), gold + len(words)
    precision, recall = right / max(predicted, 1), right / max(gold, 1)
    return {
        "sentences": len(sentences),
        "exact": exact / max(len(sentences), 1),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
    }
