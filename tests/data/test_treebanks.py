"""Any UD treebank as tagging data: several files per split, a treebank in other languages and scripts (multiword
tokens, empty nodes, no letter case), and a second treebank's download settings."""

from __future__ import annotations

import re

import pytest
from helpers import compose_config
from helpers.corpora import MULTILINGUAL

from rnnlab.data import TaggingDataModule
from rnnlab.data.conllu_reader import read_conllu
from rnnlab.data.words import UNK, shape_id
from rnnlab.errors import DataError
from rnnlab.run.config import validate
from rnnlab.run.datamodule import build_datamodule

WORDS = [
    ("Da", "me", "lo", "de", "el", "mercado", "."),
    ("Ana", "come", "manzanas", "y", "Boris", "peras", "."),
    ("मैं", "हिंदी", "बोलता", "हूँ", "।"),
]


@pytest.fixture
def multilingual(tmp_path):
    path = tmp_path / "multi-ud-train.conllu"
    path.write_text(MULTILINGUAL, encoding="utf-8")
    return path


def test_a_treebank_in_other_languages_is_read_as_its_syntactic_words(multilingual):
    sentences = read_conllu(multilingual)
    assert [s.words for s in sentences] == WORDS
    assert [s.tags[:3] for s in sentences] == [
        ("VERB", "PRON", "PRON"),
        ("PROPN", "VERB", "NOUN"),
        ("PRON", "PROPN", "VERB"),
    ]
    # Each word points at its own line; the range lines (3, 7) and the empty node (20) are skipped.
    assert sentences[0].lines == (4, 5, 6, 8, 9, 10, 11)
    assert sentences[1].lines == (15, 16, 17, 18, 19, 21, 22) and sentences[1].location(5) == f"{multilingual}:21"
    assert read_conllu(multilingual, "xpos")[0].tags[:2] == ("vmm02s0", "pp1cs000")


def test_the_tagger_reads_non_ascii_words_and_scripts_without_case(multilingual):
    dm = TaggingDataModule(train_file=str(multilingual), dev_file=str(multilingual), max_word_chars=8)
    vocab, rows = dm.vocab, dm.split("train").tokens["input"]
    words = [word for sentence in WORDS for word in sentence]
    assert [vocab.words[i] for i in rows[:, 0].tolist()] == [word.lower() for word in words]
    assert UNK not in rows[:, 0].tolist()
    # Devanagari's vowel signs are characters of their own, and are read as the training data wrote them.
    assert {"ि", "ं", "ू"} <= set(vocab.chars)
    hindi = rows[-5:]
    assert [vocab.chars[i] for i in hindi[0, 2:].tolist() if i] == list("मैं")
    # Shapes: a caseless word is "not capitalised" (1), like a lower-case one; the danda is punctuation (5).
    assert hindi[:, 1].tolist() == [1, 1, 1, 1, 5]
    assert rows[:2, 1].tolist() == [shape_id("Da"), shape_id("me")] == [2, 1]


def test_several_files_per_split_are_read_in_order_with_the_vocabulary_from_the_training_files_only(
    multilingual, tmp_path
):
    english, dev_a, dev_b = tmp_path / "en.conllu", tmp_path / "dev-a.conllu", tmp_path / "dev-b.conllu"
    english.write_text("1\tDogs\tdog\tNOUN\tNNS\t_\t2\tnsubj\t_\t_\n2\tbark\tbark\tVERB\tVBP\t_\t0\troot\t_\t_\n")
    dev_a.write_text("1\tCats\tcat\tNOUN\tNNS\t_\t0\troot\t_\t_\n")
    dev_b.write_text("1\tmeow\tmeow\tVERB\tVB\t_\t0\troot\t_\t_\n")
    dm = TaggingDataModule(train_file=[str(english), str(multilingual)], dev_file=[str(dev_a), str(dev_b)])
    assert [s.words for s in dm.sentences("train")] == [("Dogs", "bark"), *WORDS]
    assert [s.words for s in dm.sentences("val")] == [("Cats",), ("meow",)]
    assert "dogs" in dm.vocab.words and "मैं" in dm.vocab.words
    assert "cats" not in dm.vocab.words and "meow" not in dm.vocab.words
    assert len(dm.split("val")) == 2
    assert dm.sentences("val")[1].location(0) == f"{dev_b}:1"  # each word knows its own file


def test_a_list_of_files_from_the_command_line_reaches_the_data_module(multilingual, tmp_path):
    other = tmp_path / "other.conllu"
    other.write_text("1\tHola\thola\tINTJ\tI\t_\t0\troot\t_\t_\n")
    cfg = compose_config(
        "train",
        [
            "task=pos",
            f"task.data.train_file=[{multilingual},{other}]",
            f"task.data.dev_file={other}",
            "task.data.test_file=null",
        ],
    )
    validate(cfg)  # every value's kind: a list of files is one
    dm = build_datamodule(cfg)
    assert [s.words for s in dm.sentences("train")][-1] == ("Hola",)
    assert not dm.has_split("test")


def test_a_missing_file_in_a_list_is_named(multilingual, tmp_path):
    missing = tmp_path / "missing.conllu"
    dm = TaggingDataModule(
        train_file=[str(multilingual)], dev_file=str(multilingual), test_file=[str(multilingual), str(missing)]
    )
    assert dm.has_split("test")  # one of its files is there: testing is asked for, and the missing one is named
    with pytest.raises(DataError, match=re.escape(f"task.data.test_file={missing} does not exist")):
        dm.split("test")


def test_the_second_treebank_names_its_pinned_address_and_never_downloads_unchecked(tmp_path):
    cfg = compose_config("train", ["experiment=pos_gum", f"paths.data_dir={tmp_path}"])
    download = cfg.task.data.download
    assert re.search(r"UD_English-GUM/[0-9a-f]{40}$", download.base_url)  # a pinned commit
    assert all(download.sha256[f"en_gum-ud-{split}.conllu"] is None for split in ("train", "dev", "test"))
    with pytest.raises(DataError) as error:
        build_datamodule(cfg).setup("fit")
    message = str(error.value)
    assert f"{tmp_path}/ud_english_gum/en_gum-ud-train.conllu does not exist" in message
    assert f"fetch {download.base_url}/en_gum-ud-train.conllu yourself" in message
    assert not (tmp_path / "ud_english_gum").exists()  # nothing fetched, not even a folder


def test_a_sentence_longer_than_max_words_names_its_file_in_a_list(multilingual, tmp_path):
    dm = TaggingDataModule(train_file=[str(multilingual)], dev_file=str(multilingual), max_words=6)
    with pytest.raises(DataError, match=re.escape(f"{multilingual}:4: sentence of 7 words is longer than")):
        dm.sentences("train")
