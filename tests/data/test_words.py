"""Word vocabularies from training data only, the id row of each word, label ids, and vocabularies that travel
inside weights-only checkpoints."""

from __future__ import annotations

import logging
import re

import pytest
import torch

from rnnlab.data import TaggingDataModule
from rnnlab.data.batches import IGNORE
from rnnlab.data.conllu_reader import UPOS_TAGS
from rnnlab.data.words import NUM_SHAPES, PAD, UNK, Vocabulary, shape_id
from rnnlab.errors import DataError

TRAIN = [["The", "cat", "sat"], ["the", "CAT", "ran", "."]]
TAGS = ["DET", "NOUN", "VERB", "DET", "NOUN", "VERB", "PUNCT"]


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary.build(TRAIN, TAGS)


def test_build_counts_lower_cased_words_and_keeps_the_case_of_characters(vocab):
    assert vocab.words == ["<pad>", "<unk>", ".", "cat", "ran", "sat", "the"]
    assert vocab.word_counts == [0, 0, 1, 2, 1, 1, 2]  # "The" + "the", "cat" + "CAT"
    assert vocab.chars == ["<pad>", "<unk>", ".", "A", "C", "T", "a", "c", "e", "h", "n", "r", "s", "t"]
    assert vocab.labels == ["DET", "NOUN", "PUNCT", "VERB"]
    assert vocab.words[PAD] == "<pad>" and vocab.words[UNK] == "<unk>" and (PAD, UNK) == (0, 1)


def test_words_map_case_insensitively_and_unseen_words_and_chars_to_unk(vocab):
    ids = vocab.encode_words(["THE", "The", "the", "dog", "Cat"], max_chars=4)
    the = vocab.words.index("the")
    assert ids[:, 0].tolist() == [the, the, the, UNK, vocab.words.index("cat")]
    # "dog": neither the word nor any of its characters occurs in training.
    assert ids[3, 2:].tolist() == [UNK, UNK, UNK, PAD]
    char = {c: i for i, c in enumerate(vocab.chars)}
    # Characters keep their case: "Cat" reads C, a, t.
    assert ids[4, 2:].tolist() == [char["C"], char["a"], char["t"], PAD]


def test_encode_words_columns(vocab):
    ids = vocab.encode_words(["The", "cat", "."], max_chars=5)
    assert ids.dtype == torch.long and ids.shape == (3, 2 + 5)
    char = {c: i for i, c in enumerate(vocab.chars)}
    assert ids.tolist() == [
        [vocab.words.index("the"), 2, char["T"], char["h"], char["e"], PAD, PAD],
        [vocab.words.index("cat"), 1, char["c"], char["a"], char["t"], PAD, PAD],
        [vocab.words.index("."), 5, char["."], PAD, PAD, PAD, PAD],
    ]
    assert vocab.encode_words([], max_chars=5).shape == (0, 7)


@pytest.mark.parametrize(
    ("word", "max_chars", "kept"),
    [
        ("abcdefgh", 4, "abgh"),
        ("abcdefgh", 5, "abfgh"),  # odd C: the first C // 2, then the rest from the end
        ("abcdefgh", 8, "abcdefgh"),  # exactly C: whole
        ("abcdefgh", 1, "h"),
        ("ab", 4, "ab"),
    ],
)
def test_long_words_keep_their_first_and_last_halves(word, max_chars, kept):
    vocab = Vocabulary.build([list("abcdefgh")], ["X"])
    row = vocab.encode_words([word], max_chars)[0, 2:].tolist()
    assert "".join(vocab.chars[i] for i in row if i != PAD) == kept
    assert len(row) == max_chars and row[len(kept) :] == [PAD] * (max_chars - len(kept))


@pytest.mark.parametrize(
    ("word", "shape"),
    [
        ("cat", 1),
        ("don't", 1),
        ("naïve", 1),
        ("Cat", 2),
        ("I", 2),
        ("Émile", 2),
        ("CAT", 3),
        ("U.S.", 3),
        ("COVID-19", 4),
        ("3.5", 4),
        ("1st", 4),
        (".", 5),
        ("--", 5),
        (":)", 5),
        ("iPhone", 6),
        ("McDonald", 6),
        # Scripts without case have no capitals to show: "not capitalised", not "other".
        ("नमस्ते", 1),
        ("كتاب", 1),
        ("日本語", 1),
        ("東京Tower", 6),
        ("Ελλάδα", 2),
    ],
)
def test_shape_id_classes(word, shape):
    assert shape_id(word) == shape
    assert 0 < shape < NUM_SHAPES


def test_encode_labels(vocab):
    assert vocab.encode_labels(["VERB", "DET", "PUNCT"], str).tolist() == [3, 0, 2]
    lines = [4, 9, 12]
    with pytest.raises(DataError) as error:
        vocab.encode_labels(["DET", "INTJ", "SYM"], lambda i: f"dev.conllu:{lines[i]}")
    message = str(error.value)
    assert message.startswith("dev.conllu:9: label 'INTJ' is not in the training label set")
    assert "DET, NOUN, PUNCT, VERB" in message


def test_labels_unseen_in_training_are_numbered_after_the_label_set(vocab):
    ids, unseen = vocab.encode_labels_with_unseen(["VERB", "SYM", "DET", "INTJ", "SYM"])
    assert unseen == ["INTJ", "SYM"]
    assert ids.tolist() == [3, 5, 0, 4, 5]  # 4 labels: INTJ is 4 + 0, SYM 4 + 1
    known, none = vocab.encode_labels_with_unseen(TAGS)
    assert none == [] and torch.equal(known, vocab.encode_labels(TAGS, str))


def test_dict_round_trip_survives_a_weights_only_checkpoint(vocab, tmp_path):
    data = vocab.to_dict()
    assert set(data) == {"words", "word_counts", "chars", "labels"}
    assert all(type(value) is list for value in data.values())
    torch.save({"vocab": data}, tmp_path / "vocab.pt")
    loaded = torch.load(tmp_path / "vocab.pt", weights_only=True)["vocab"]
    assert loaded == data
    restored = Vocabulary.from_dict(loaded)
    assert restored == vocab
    words = ["The", "dog", "ran", "Zebra", "."]
    assert torch.equal(restored.encode_words(words, 6), vocab.encode_words(words, 6))
    assert torch.equal(restored.encode_labels(TAGS, str), vocab.encode_labels(TAGS, str))


def conllu(sentences: list[list[tuple[str, str]]]) -> str:
    blocks = [
        # The tag as UPOS and XPOS: read with either tag_set.
        "\n".join(f"{i}\t{w}\t_\t{t}\t{t}\t_\t{0 if i == 1 else 1}\tdep\t_\t_" for i, (w, t) in enumerate(s, start=1))
        for s in sentences
    ]
    return "\n\n".join(blocks) + "\n"


def test_tagging_data_takes_its_vocabulary_from_the_training_file_only(tmp_path):
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text(conllu([[("The", "DET"), ("cat", "NOUN")], [("Cats", "NOUN"), ("sleep", "VERB")]]))
    dev.write_text(conllu([[("The", "DET"), ("dog", "NOUN"), ("sleeps", "VERB")]]))
    dm = TaggingDataModule(train_file=str(train), dev_file=str(dev), max_word_chars=4)
    assert dm.vocab.words == ["<pad>", "<unk>", "cat", "cats", "sleep", "the"]
    val = dm.split("val")
    batch = val[torch.tensor([0])]
    assert batch["input"][0, :, 0].tolist() == [dm.vocab.words.index("the"), UNK, UNK]
    assert batch["target"][0].tolist() == [dm.vocab.labels.index(t) for t in ("DET", "NOUN", "VERB")]
    assert IGNORE not in batch["target"].tolist()


def test_the_upos_label_set_is_the_17_universal_tags_whatever_the_training_file_holds(tmp_path):
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text(conllu([[("The", "DET"), ("cat", "NOUN")]]))
    dev.write_text(conllu([[("The", "DET"), ("cat", "NOUN")], [("Wow", "INTJ")]]))
    dm = TaggingDataModule(train_file=str(train), dev_file=str(dev))
    assert dm.vocab.labels == list(UPOS_TAGS) and len(UPOS_TAGS) == 17
    assert dm.split("val")[torch.tensor([1])]["target"][0].tolist() == [UPOS_TAGS.index("INTJ")]
    assert dm.split_labels("val") == list(UPOS_TAGS)  # nothing beyond the outputs


def test_an_xpos_tag_unseen_in_training_is_numbered_after_the_label_set_and_reported_once(tmp_path, caplog):
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text(conllu([[("The", "DT"), ("cat", "NN")]]))
    # Line 1: The, 2: cat, 3: blank, 4: Wow (UH), 5: blank, 6: :) (NFP), 7: ok (UH)
    dev.write_text(conllu([[("The", "DT"), ("cat", "NN")], [("Wow", "UH")], [(":)", "NFP"), ("ok", "UH")]]))
    dm = TaggingDataModule(train_file=str(train), dev_file=str(dev), tag_set="xpos")
    assert dm.vocab.labels == ["DT", "NN"]
    with caplog.at_level(logging.WARNING, logger="rnnlab"):
        val = dm.split("val")
        dm.split("val")  # cached: reported once
    assert val.tokens["target"].tolist() == [0, 1, 3, 2, 3]  # NFP = 2 + 0, UH = 2 + 1
    assert dm.split_labels("val") == ["DT", "NN", "NFP", "UH"]
    (report,) = [r.getMessage() for r in caplog.records if "outside the model's label set" in r.getMessage()]
    assert report.startswith("task.data.dev_file: 3 of 5 words have XPOS tags outside the model's label set")
    assert f"NFP ×1 (first at {dev}:6), UH ×2 (first at {dev}:4)" in report


def test_a_malformed_dev_file_still_stops_at_its_line(tmp_path):
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text(conllu([[("The", "DET"), ("cat", "NOUN")]]))
    dev.write_text(conllu([[("The", "DET")]]) + "2\tcat\tcat\tNOUN\n")
    dm = TaggingDataModule(train_file=str(train), dev_file=str(dev))
    with pytest.raises(DataError, match=re.escape(f"{dev}:2: expected 10 tab-separated columns, found 4")):
        dm.split("val")
