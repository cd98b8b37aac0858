"""CoNLL-U treebanks as tagged sentences (parsed with the ``conllu`` library).

Only syntactic words are tagged: lines whose ID is an integer. Multiword-token ranges (``3-4`` for "don't" =
"do" + "n't", Spanish ``2-3`` "del" = "de" + "el") and empty nodes (``5.1``) carry no UPOS of their own and are
skipped. Every malformed record is reported with its file and line before ``conllu`` sees it, since the library's
own errors carry no position. A UPOS outside the 17 tags of the UD specification is malformed too; XPOS
inventories are the treebank's own, so any XPOS is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import conllu

from rnnlab.data.text_files import read_text
from rnnlab.errors import DataError

TAG_SETS = ("upos", "xpos")
# The universal part-of-speech tags of the UD specification (https://universaldependencies.org/u/pos/), sorted as
# a label set built from EWT's training file always was: checkpoints trained on EWT keep their label ids.
UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ",
    "SYM", "VERB", "X",
)  # fmt: skip
COLUMNS = 10
_ID = re.compile(r"[1-9]\d*(?:-[1-9]\d*|\.[1-9]\d*)?$")


@dataclass(frozen=True)
class TaggedSentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    lines: tuple[int, ...]  # each word's line in its file
    path: Path | None = None  # the file it was read from

    def location(self, i: int) -> str:
        """``file:line`` of word ``i``, as errors and reports name it."""
        return f"{self.path}:{self.lines[i]}"


def _blocks(text: str):
    """(first line number, lines) of each sentence: blank lines separate sentences."""
    block, start = [], 0
    # "\n" only, as CoNLL-U and `conllu` define lines (str.splitlines also breaks at \f, U+2028, …).
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _check_token_line(path: Path, number: int, line: str) -> None:
    columns = line.split("\t")
    if len(columns) != COLUMNS:
        raise DataError(f"{path}:{number}: expected {COLUMNS} tab-separated columns, found {len(columns)}")
    if any("  " in column for column in columns):
        # `conllu` also splits fields at two spaces; the word and its tag would shift silently.
        raise DataError(f"{path}:{number}: a field holds two consecutive spaces; CoNLL-U separates fields by tabs")
    if not _ID.match(columns[0]):
        raise DataError(
            f"{path}:{number}: ID {columns[0]!r} is not a word index (1, 2, …), a range (3-4) or an empty node (5.1)"
        )


def read_conllu(path: str | Path, tag_set: str = "upos") -> list[TaggedSentence]:
    """Every sentence of a CoNLL-U file as words and their ``tag_set`` tags."""
    if tag_set not in TAG_SETS:
        raise DataError(f"tag_set={tag_set!r} is not one of {', '.join(TAG_SETS)}")
    path = Path(path)
    sentences = []
    for start, lines in _blocks(read_text(path, "CoNLL-U file")):
        word_lines = []
        for offset, line in enumerate(lines):
            if not line.startswith("#"):
                _check_token_line(path, start + offset, line)
                if line.split("\t", 1)[0].isdigit():
                    word_lines.append(start + offset)
        try:
            tokens = conllu.parse_token_and_metadata("\n".join(lines))
        except conllu.exceptions.ParseException as error:
            raise DataError(f"{path}:{start}: sentence is not valid CoNLL-U ({error})") from None
        words = [token for token in tokens if isinstance(token["id"], int)]
        if not words:
            continue  # a block of comments only
        for token, line in zip(words, word_lines, strict=True):
            if token[tag_set] in (None, "_"):
                raise DataError(f"{path}:{line}: word {token['form']!r} has no {tag_set.upper()} tag")
            if tag_set == "upos" and token["upos"] not in UPOS_TAGS:
                raise DataError(
                    f"{path}:{line}: word {token['form']!r} has UPOS {token['upos']!r}, which is not one of the 17 "
                    "universal tags; a treebank's own tags belong in XPOS (task.data.tag_set=xpos)"
                )
        sentences.append(
            TaggedSentence(tuple(t["form"] for t in words), tuple(t[tag_set] for t in words), tuple(word_lines), path)
        )
    if not sentences:
        raise DataError(f"CoNLL-U file {path} holds no sentences")
    return sentences
