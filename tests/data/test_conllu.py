"""CoNLL-U reading: the syntactic words of each sentence with their tags and file lines, and every unusable file
reported as a DataError that names the file (and line) and what is wrong."""

from __future__ import annotations

import re

import pytest
from helpers import DATA_DIR

from rnnlab.data import TaggingDataModule
from rnnlab.data.conllu_reader import read_conllu
from rnnlab.errors import DataError


def token(i: int | str, form: str, upos: str = "NOUN", xpos: str = "NN", head: str = "0") -> str:
    return "\t".join([str(i), form, form.lower(), upos, xpos, "_", head, "dep", "_", "_"])


SAMPLE = [
    "# newdoc id = d1",  # 1
    "# sent_id = 1",  # 2
    "# text = I don't know.",  # 3
    token(1, "I", "PRON", "PRP", "4"),  # 4
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",  # 5: multiword token, no tag of its own
    token(2, "do", "AUX", "VBP", "4"),  # 6
    token(3, "n't", "PART", "RB", "4"),  # 7
    token(4, "know", "VERB", "VB", "0"),  # 8
    "4.1\tknows\tknow\tVERB\tVBZ\t_\t_\t_\t4:conj\t_",  # 9: empty node
    token(5, ".", "PUNCT", ".", "4"),  # 10
    "",  # 11
    "# a block of comments only",  # 12
    "",  # 13
    "",  # 14
    "# sent_id = 2",  # 15
    token(1, "Hello", "INTJ", "UH"),  # 16
    "",
    "",
]


@pytest.mark.parametrize(
    ("tag_set", "tags"),
    [
        ("upos", [("PRON", "AUX", "PART", "VERB", "PUNCT"), ("INTJ",)]),
        ("xpos", [("PRP", "VBP", "RB", "VB", "."), ("UH",)]),
    ],
)
def test_reads_syntactic_words_with_tags_and_lines(tmp_path, tag_set, tags):
    path = tmp_path / "sample.conllu"
    path.write_text("\n".join(SAMPLE), encoding="utf-8")
    sentences = read_conllu(path, tag_set)
    assert [s.words for s in sentences] == [("I", "do", "n't", "know", "."), ("Hello",)]
    assert [s.tags for s in sentences] == tags
    assert [s.lines for s in sentences] == [(4, 6, 7, 8, 10), (16,)]
    lines = path.read_text(encoding="utf-8").split("\n")
    for sentence in sentences:  # each word's line number points at its own record in the file
        for word, line in zip(sentence.words, sentence.lines, strict=True):
            assert lines[line - 1].split("\t")[1] == word


def test_crlf_line_endings_and_a_missing_final_newline_are_fine(tmp_path):
    path = tmp_path / "windows.conllu"
    path.write_bytes("\r\n".join([*SAMPLE[:11], token(1, "Hi", "INTJ")]).encode())
    sentences = read_conllu(path)
    assert [s.words for s in sentences] == [("I", "do", "n't", "know", "."), ("Hi",)]
    assert sentences[1].lines == (12,)


GOOD = token(1, "Good", "ADJ", "JJ") + "\n"

BAD_FILES = {
    # id: (file contents or None for a missing file, line named or None, reason)
    "nine columns": (GOOD + "2\tbad\tbad\tX\tX\t_\t1\tdep\t_\n", 2, "expected 10 tab-separated columns, found 9"),
    "eleven columns": (GOOD + token(2, "bad") + "\t_\n", 2, "expected 10 tab-separated columns, found 11"),
    "non-integer id": (GOOD + "\n" + token("x", "bad") + "\n", 3, "ID 'x' is not a word index"),
    "zero id": (token(0, "bad") + "\n", 1, "ID '0' is not a word index"),
    "missing upos": (GOOD + token(2, "bad", upos="_") + "\n", 2, "word 'bad' has no UPOS tag"),
    # UPOS is the UD specification's 17 tags; a treebank's own tags belong in XPOS.
    "not a universal tag": (GOOD + token(2, "bad", upos="NN") + "\n", 2, "has UPOS 'NN', which is not one of the 17"),
    "unparsable head": (GOOD + "\n" + token(1, "bad", head="x") + "\n", 3, "sentence is not valid CoNLL-U"),
    "empty file": ("", None, "is empty"),
    "blank lines only": ("\n  \n\t\n", None, "is empty"),
    "comments only": ("# sent_id = 1\n\n# text = nothing\n\n", None, "holds no sentences"),
    "binary": (GOOD.encode() + b"\x00\x01\x02 binary\n", 2, "NUL byte"),
    "not utf-8": (GOOD.encode() + b"2\tcaf\xe9\n" + b"\xff\n", 2, "is not UTF-8"),
    "missing file": (None, None, "does not exist"),
    # `conllu` splits fields at two spaces too: the word and its tag would shift silently.
    "two spaces in a field": (GOOD + token(2, "New  York") + "\n", 2, "two consecutive spaces"),
}


@pytest.mark.parametrize(("contents", "line", "reason"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_name_the_file_line_and_reason(tmp_path, contents, line, reason):
    path = tmp_path / "bad.conllu"
    if isinstance(contents, str):
        path.write_text(contents, encoding="utf-8")
    elif contents is not None:
        path.write_bytes(contents)
    with pytest.raises(DataError) as error:
        read_conllu(path)
    message = str(error.value)
    assert (f"{path}:{line}:" if line else str(path)) in message
    assert reason in message


def test_only_newline_ends_a_line(tmp_path):
    # U+2028 and form feed are characters inside a field, as for `conllu`: line numbers stay the file's own.
    path = tmp_path / "separators.conllu"
    path.write_text("# text = a\u2028b\n" + token(1, "a\u2028b") + "\n" + token(2, "c\x0c") + "\n", encoding="utf-8")
    (sentence,) = read_conllu(path)
    assert sentence.words == ("a\u2028b", "c\x0c")
    assert sentence.lines == (2, 3)


def test_missing_xpos_is_named_when_reading_xpos(tmp_path):
    path = tmp_path / "no_xpos.conllu"
    path.write_text(GOOD + token(2, "bad", xpos="_") + "\n", encoding="utf-8")
    assert read_conllu(path, "upos")[0].tags == ("ADJ", "NOUN")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: word 'bad' has no XPOS tag")):
        read_conllu(path, "xpos")


@pytest.mark.parametrize("tag_set", ["deprel", "UPOS", ""])
def test_unknown_tag_set_is_refused(tmp_path, tag_set):
    path = tmp_path / "sample.conllu"
    path.write_text("\n".join(SAMPLE), encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"tag_set={tag_set!r} is not one of upos, xpos")):
        read_conllu(path, tag_set)
    with pytest.raises(DataError, match=re.escape(f"task.data.tag_set={tag_set!r}")):
        TaggingDataModule(train_file=str(path), dev_file=str(path), tag_set=tag_set)


def test_real_ewt_dev_file():
    # No skip: the corpus is part of the project's setup (../shared/data or RNNLAB_DATA_DIR).
    path = DATA_DIR / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    assert path.is_file(), f"{path} is missing; see ../shared/data/SOURCES.md or set RNNLAB_DATA_DIR"
    sentences = read_conllu(path)
    assert len(sentences) == 2001
    assert sum(len(s.words) for s in sentences) == 25147
    assert len({tag for s in sentences for tag in s.tags}) == 17
    assert all(len(s.words) == len(s.tags) == len(s.lines) > 0 for s in sentences)
    # Multiword tokens are split into their syntactic words: "don't" is tagged as "do" + "n't".
    assert any(s.words[i : i + 2] == ("do", "n't") for s in sentences for i in range(len(s.words) - 1))
