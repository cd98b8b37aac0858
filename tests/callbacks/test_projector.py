"""TensorBoard's Projector tab, read back from the log directory of tiny real trainings: projector_config.pbtxt names
one table per run, whose vectors are the network's input embeddings and whose labels are its characters or its most
frequent words; off by default, on in the experiment= recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from google.protobuf import text_format
from helpers import compose_config
from helpers.corpora import pos_overrides
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from rnnlab.analysis.embeddings import first_input_weights, visible, word_table
from rnnlab.run.train import train

RUN = [
    "trainer.accelerator=cpu",
    "~callbacks.rich_progress_bar",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
    "trainer.min_epochs=1",
    "test=false",
]
ON = "callbacks.embedding_projector.enabled=true"


def projector(run_dir: Path) -> ProjectorConfig:
    return text_format.Parse((run_dir / "tensorboard" / "projector_config.pbtxt").read_text(), ProjectorConfig())


def read_table(run_dir: Path, embedding) -> tuple[np.ndarray, list[str]]:
    vectors = np.loadtxt(run_dir / "tensorboard" / embedding.tensor_path, delimiter="\t", ndmin=2)
    labels = (run_dir / "tensorboard" / embedding.metadata_path).read_text(encoding="utf-8").splitlines()
    return vectors, labels


def fit(tmp_path: Path, overrides: list[str]):
    cfg = compose_config("train", [*RUN, *overrides], tmp_path / "run")
    _, objects = train(cfg)
    return objects["module"], Path(cfg.paths.output_dir)


@pytest.mark.parametrize(
    ("encoding", "tag"),
    [
        (["model=lstm"], "characters/input_weights"),
        (["task.input_encoding=embedding", "task.embedding_dim=6"], "characters/embedding"),
    ],
    ids=["onehot", "embedding"],
)
def test_the_char_lm_shows_one_vector_per_character(tmp_path, encoding, tag):
    module, run_dir = fit(tmp_path, ["task=char_lm", "trainer.max_epochs=2", *encoding, ON])
    (embedding,) = projector(run_dir).embeddings
    assert embedding.tensor_name.startswith(tag)
    vectors, labels = read_table(run_dir, embedding)
    net = module.net
    expected = (
        net.encoder.embedding.weight if net.encoder.embedding is not None else first_input_weights(net.backbone).T
    )
    np.testing.assert_allclose(vectors, expected.detach().numpy(), rtol=1e-4, atol=1e-6)
    assert labels == ["e", "h", "l", "o"]  # the alphabet of "hello"
    assert vectors.shape[1] == (6 if "embedding" in tag else 4 * 32)  # an LSTM's four gates × 32 units


def test_the_pos_tagger_shows_its_most_frequent_words(tmp_path, treebank):
    overrides = ["task=pos", "model=rnn", *pos_overrides(treebank), "trainer.max_epochs=1", ON]
    module, run_dir = fit(tmp_path, [*overrides, "callbacks.embedding_projector.max_words=5"])
    (embedding,) = projector(run_dir).embeddings
    assert embedding.tensor_name.startswith("words/embedding")
    vectors, labels = read_table(run_dir, embedding)
    vocab = module.hparams.vocab
    counts = dict(zip(vocab["words"], vocab["word_counts"], strict=True))
    assert len(labels) == 5
    assert [counts[word] for word in labels] == sorted(counts.values(), reverse=True)[:5]
    rows = [vocab["words"].index(word) for word in labels]
    np.testing.assert_allclose(vectors, module.net.encoder.words.weight[rows].detach().numpy(), rtol=1e-4, atol=1e-6)


def test_it_is_off_by_default_and_on_in_every_experiment(tmp_path):
    _, run_dir = fit(tmp_path, ["task=char_lm", "trainer.max_epochs=1"])
    assert not (run_dir / "tensorboard" / "projector_config.pbtxt").exists()
    for experiment in ("exploding", "long_stream", "shakespeare_lstm", "shakespeare_rnn"):
        cfg = compose_config("train", [f"experiment={experiment}"])
        assert cfg.callbacks.embedding_projector.enabled, experiment


def test_labels_stay_one_per_line_and_words_are_chosen_by_count():
    assert [visible(s) for s in ["\n", " ", "a\tb", ""]] == ["\\n", "␣", "a\\tb", "''"]
    encoder = torch.nn.Module()
    encoder.words = torch.nn.Embedding(5, 3)
    table = word_table(encoder, ["<pad>", "<unk>", "b", "a", "c"], [0, 0, 2, 7, 2], max_words=2)
    assert table.labels == ["a", "b"]  # by count, ties in vocabulary order
    torch.testing.assert_close(table.vectors, encoder.words.weight[[3, 2]].detach())
