"""The word-level tasks end to end on small corpora written by the tests: POS tagging (many-to-many aligned)
and sentence polarity (many-to-one) train, report per-class scores, evaluate any file and predict typed text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import DATA_DIR, MODELS, REPO_ROOT, compose_config, model_overrides
from helpers.corpora import LEXICON, pos_overrides, sentiment_overrides, word_cfg, write_conllu

from rnnlab.errors import ConfigError, DataError
from rnnlab.run.build import build_module
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.evaluate import evaluate
from rnnlab.run.predict import predict
from rnnlab.run.train import train


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", ["pos", "sentiment"])
def test_word_tasks_build_with_every_model(treebank, polarity, tmp_path, task, model):
    overrides = pos_overrides(treebank) if task == "pos" else sentiment_overrides(polarity)
    cfg = word_cfg(task, model, [*overrides, *model_overrides(model, task)], tmp_path)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule.vocab)
    batch = next(iter(datamodule.train_dataloader()))
    logits = module(batch["input"], batch["lengths"])
    num_classes = 17 if task == "pos" else 2  # the 17 UD tags, whatever the toy treebank uses; positive/negative
    assert logits.shape == (*batch["target"].shape, num_classes)
    assert module.net.backbone.cell == module.net.encoder.char_rnn.cell  # one cell type throughout


@pytest.fixture(scope="module")
def pos_run(treebank, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("pos_run")
    metrics, objects = train(word_cfg("pos", "birnn", pos_overrides(treebank), output_dir))
    return metrics, objects, output_dir


def test_pos_tagger_learns_the_toy_grammar_and_reports_per_tag_scores(pos_run):
    metrics, _, output_dir = pos_run
    assert metrics["val/acc"] >= 0.97 and metrics["test/acc"] >= 0.97
    assert {"val/f1", "test/f1", "val/acc_best"} <= set(metrics)
    report = (output_dir / "class_report.md").read_text()
    assert all(f"| {tag} |" in report for tag in LEXICON) and "| PUNCT |" in report
    assert (output_dir / "confusion.png").stat().st_size > 0


def test_eval_reads_any_conllu_file_with_the_checkpoint_vocabulary(pos_run, treebank, tmp_path):
    trained, _, output_dir = pos_run
    checkpoint = json.loads((output_dir / "metrics.json").read_text())["checkpoint"]
    # No training file is needed: the vocabulary travels in the checkpoint.
    overrides = [*pos_overrides(treebank), "task.data.train_file=/nonexistent.conllu", f"ckpt_path={checkpoint}"]
    evaluated, _ = evaluate(word_cfg("pos", "birnn", overrides, tmp_path, "eval"))
    assert abs(evaluated["test/acc"] - trained["test/acc"]) < 1e-6
    other = write_conllu(tmp_path / "other.conllu", [[("Anna", "PROPN"), ("sees", "VERB"), ("Boris", "PROPN")]])
    evaluated, _ = evaluate(word_cfg("pos", "birnn", [*overrides, f"task.data.test_file={other}"], tmp_path, "eval"))
    assert evaluated["test/acc"] == 1.0


def test_weight_averaging_checkpoints_and_tests_the_averaged_weights(treebank, tmp_path):
    overrides = [o for o in pos_overrides(treebank) if o != "~callbacks.weight_averaging"]
    cfg = word_cfg(
        "pos", "birnn", [*overrides, "callbacks.weight_averaging.decay=0.9", "trainer.max_epochs=2"], tmp_path
    )
    trained, _ = train(cfg)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert averaged.keys() == current.keys()
    assert not torch.equal(averaged["net.output.V"], current["net.output.V"])
    best = json.loads((tmp_path / "metrics.json").read_text())["checkpoint"]
    (tmp_path / "eval").mkdir()
    evaluated, _ = evaluate(word_cfg("pos", "birnn", [*overrides, f"ckpt_path={best}"], tmp_path / "eval", "eval"))
    assert abs(evaluated["test/acc"] - trained["test/acc"]) < 1e-6


def test_vocabulary_words_that_look_like_config_markers_survive(treebank, tmp_path):
    # EWT has the word "???", OmegaConf's marker of a missing value; "${x}" would be an interpolation.
    cfg = word_cfg("pos", "birnn", pos_overrides(treebank), tmp_path)
    vocab = build_datamodule(cfg).vocab.to_dict()
    vocab["words"] += ["???", "${x}"]
    vocab["word_counts"] += [1, 1]
    assert build_datamodule(cfg, vocab).vocab.words[-2:] == ["???", "${x}"]


def predict_cfg(task: str, checkpoint: Path | str, text: str):
    return compose_config("predict", [f"task={task}", f"ckpt_path={checkpoint}", f"text={text}"])


def test_predict_tags_typed_text_and_names_bad_requests(pos_run):
    _, _, output_dir = pos_run
    checkpoint = output_dir / "checkpoints" / "last.ckpt"
    # "walk" after a determiner is a noun, after a noun phrase a verb; "Zelda" was never seen.
    assert predict(predict_cfg("pos", checkpoint, "Zelda walk the walk .")) == (
        "Zelda/PROPN walk/VERB the/DET walk/NOUN ./PUNCT"
    )
    with pytest.raises(ConfigError, match="text is empty"):
        predict(predict_cfg("pos", checkpoint, "' '"))
    with pytest.raises(ConfigError, match="was trained on task=pos, not task=sentiment"):
        predict(predict_cfg("sentiment", checkpoint, "fine ."))


def test_predict_refuses_a_model_without_vocabulary(make_cfg):
    cfg = make_cfg("flip_stream", "rnn", "trainer.max_epochs=1", "trainer.min_epochs=1", "test=false")
    train(cfg)
    with pytest.raises(ConfigError, match="holds no rnnlab model with a vocabulary"):
        predict(predict_cfg("pos", Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", "hello"))


def test_predict_cli_prints_word_tag_pairs(pos_run):
    _, _, output_dir = pos_run
    command = [sys.executable, "scripts/predict.py", "task=pos", f"ckpt_path={output_dir}/checkpoints/last.ckpt"]
    result = subprocess.run(
        [*command, "text=Anna likes the big dog ."], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Anna/PROPN likes/VERB the/DET big/ADJ dog/NOUN ./PUNCT"


def test_sentiment_split_is_stratified_and_depends_on_split_seed_only(polarity, tmp_path):
    def splits(*overrides):
        datamodule = build_datamodule(
            word_cfg("sentiment", "birnn", [*sentiment_overrides(polarity), *overrides], tmp_path)
        )
        return datamodule.read()

    first, again, other_seed, other_split = splits(), splits("seed=7"), splits(), splits("task.data.split_seed=1")
    assert first == again == other_seed
    assert first["test"] != other_split["test"]
    sizes = {name: len(examples) for name, examples in first.items()}
    assert sizes == {"train": 240, "val": 30, "test": 30}
    for examples in first.values():  # stratified: both labels in equal shares
        assert sum(label == "positive" for _, label in examples) * 2 == len(examples)
    seen = [tuple(words) for examples in first.values() for words, _ in examples]
    assert len(seen) == 300  # every sentence in exactly one split


@pytest.mark.parametrize("model", ["birnn", "deep_birnn", "lstm"])
def test_sentence_classifier_reads_true_final_states(polarity, tmp_path, model):
    """Padding changes nothing: a padded batch scores each sentence as if it were alone."""
    cfg = word_cfg("sentiment", model, sentiment_overrides(polarity), tmp_path)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule.vocab).eval()
    batch = datamodule.split("val")[torch.arange(8)]
    assert len(set(batch["lengths"].tolist())) > 1
    with torch.no_grad():
        together = module(batch["input"], batch["lengths"])
        alone = [module(x[None, :n], n[None]) for x, n in zip(batch["input"], batch["lengths"], strict=True)]
    torch.testing.assert_close(together, torch.cat(alone), atol=1e-6, rtol=0)


def test_sentiment_trains_and_predicts_a_label_with_its_probability(polarity, tmp_path):
    metrics, _objects = train(word_cfg("sentiment", "birnn", sentiment_overrides(polarity), tmp_path))
    assert metrics["test/acc"] >= 0.95 and "test/f1" in metrics
    label, probability = predict(
        predict_cfg("sentiment", tmp_path / "checkpoints" / "last.ckpt", "a wonderful film .")
    ).split("\t")
    assert label == "positive" and 0.5 < float(probability) <= 1.0


def test_long_sentences_beyond_the_limit_are_named(polarity, tmp_path):
    cfg = word_cfg("sentiment", "birnn", [*sentiment_overrides(polarity), "task.data.max_words=5"], tmp_path)
    with pytest.raises(
        DataError, match=r"rt-polarity.neg:\d+: sentence of \d+ words is longer than task.data.max_words=5"
    ):
        build_datamodule(cfg).read()


def most_frequent_tag_accuracy(train_sentences, dev_sentences) -> float:
    """The classic baseline: each word's most frequent training tag, the overall most frequent for new words."""
    from collections import Counter, defaultdict

    counts, overall = defaultdict(Counter), Counter()
    for sentence in train_sentences:
        for word, tag in zip(sentence.words, sentence.tags, strict=True):
            counts[word][tag] += 1
            overall[tag] += 1
    default = overall.most_common(1)[0][0]
    pairs = [(w, t) for s in dev_sentences for w, t in zip(s.words, s.tags, strict=True)]
    return sum((counts[w].most_common(1)[0][0] if w in counts else default) == t for w, t in pairs) / len(pairs)


@pytest.mark.slow
def test_real_ewt_tagger_beats_the_most_frequent_tag_baseline(tmp_path):
    """Train on 1,600 EWT dev sentences, validate on the other 401: a few epochs beat the word-lookup baseline."""
    from rnnlab.data.conllu_reader import read_conllu

    source = DATA_DIR / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    assert source.is_file(), f"{source} is missing; see ../shared/data/SOURCES.md or set RNNLAB_DATA_DIR"
    blocks = source.read_text(encoding="utf-8").strip().split("\n\n")
    (tmp_path / "train.conllu").write_text("\n\n".join(blocks[:1600]) + "\n", encoding="utf-8")
    (tmp_path / "dev.conllu").write_text("\n\n".join(blocks[1600:]) + "\n", encoding="utf-8")
    baseline = most_frequent_tag_accuracy(read_conllu(tmp_path / "train.conllu"), read_conllu(tmp_path / "dev.conllu"))
    overrides = [
        f"task.data.train_file={tmp_path}/train.conllu",
        f"task.data.dev_file={tmp_path}/dev.conllu",
        "model.hidden_size=64",
        "trainer.max_epochs=8",
        "test=false",
        "~callbacks.weight_averaging",  # its 500-step horizon is longer than this run
    ]
    metrics, _ = train(word_cfg("pos", "birnn", overrides, tmp_path / "run"))
    assert metrics["val/acc_best"] > baseline + 0.02, (metrics["val/acc_best"], baseline)
