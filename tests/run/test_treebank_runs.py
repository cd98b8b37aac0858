"""Training, evaluating and predicting on treebanks as they come: XPOS tags that dev and test hold but training never
had, scripts/eval.py agreeing with training's test phase on them, raw text tokenised as UD English, and a treebank in
other scripts."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from helpers import compose_config
from helpers.corpora import MULTILINGUAL, pos_overrides, tagged_sentence, word_cfg

from rnnlab.run.evaluate import evaluate
from rnnlab.run.predict import predict
from rnnlab.run.train import train

XPOS = {"DET": "DT", "ADJ": "JJ", "NOUN": "NN", "VERB": "VBZ", "PROPN": "NNP", "PUNCT": "."}
# Dev and test sentences that start with an interjection, a tag the training file never has.
WOW = ("Wow", "INTJ", "UH")


def write_xpos_treebank(folder: Path) -> dict[str, int]:
    """toy-{train,dev,test}.conllu with UPOS and XPOS; every 4th dev and test sentence starts with "Wow" (UH).
    Returns how many words of each split carry UH."""
    rng, unseen = random.Random(0), {}
    for name, size in (("train", 300), ("dev", 60), ("test", 60)):
        blocks, unseen[name] = [], 0
        for n in range(size):
            words = [(w, upos, XPOS[upos]) for w, upos in tagged_sentence(rng)]
            if name != "train" and n % 4 == 0:
                words, unseen[name] = [WOW, *words], unseen[name] + 1
            lines = [f"{i}\t{w}\t{w.lower()}\t{u}\t{x}\t_\t0\tdep\t_\t_" for i, (w, u, x) in enumerate(words, 1)]
            blocks.append("\n".join(lines))
        (folder / f"toy-{name}.conllu").write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return unseen


@pytest.fixture(scope="module")
def xpos_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xpos_treebank")
    unseen = write_xpos_treebank(folder)
    output_dir = tmp_path_factory.mktemp("xpos_run")
    overrides = [*pos_overrides(folder), "task.data.tag_set=xpos"]
    metrics, objects = train(word_cfg("pos", "birnn", overrides, output_dir))
    return metrics, output_dir, folder, overrides, unseen, objects["module"]


def words_in(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_a_dev_and_test_tag_unseen_in_training_counts_as_an_error_and_training_goes_on(xpos_run):
    metrics, _, folder, _, unseen, _ = xpos_run
    for split, name in (("val", "dev"), ("test", "test")):
        ceiling = 1 - unseen[name] / words_in(folder / f"toy-{name}.conllu")
        # Every "Wow" is wrong (no output can say UH); the toy grammar is learnt otherwise.
        assert ceiling - 0.03 <= metrics[f"{split}/acc"] <= ceiling + 1e-6
        assert metrics[f"{split}/seq_acc"] <= 0.75 + 1e-6  # a quarter of the sentences hold a "Wow"


def test_only_the_splits_holding_the_unseen_tag_mask_it_in_their_loss(xpos_run):
    module = xpos_run[-1]
    assert module.beyond_outputs == {"train": False, "val": True, "test": True}


def test_the_unseen_tag_has_its_row_in_the_per_tag_table_and_macro_f1_is_its_mean(xpos_run):
    metrics, output_dir, _, _, unseen, _ = xpos_run
    table = (output_dir / "class_report.md").read_text()
    rows = dict(re.findall(r"^\| (\S+) \| ([\d.]+ \| [\d.]+ \| [\d.]+ \| \d+) \|$", table, re.M))
    assert rows["UH"] == f"0.000 | 0.000 | 0.000 | {unseen['dev']}"
    assert set(rows) == {*XPOS.values(), "UH"}
    # torchmetrics' macro-F1 averages the classes that occur in the split or the predictions: the table's rows.
    f1s = [float(row.split(" | ")[2]) for row in rows.values()]
    assert sum(f1s) / len(f1s) == pytest.approx(metrics["val/f1"], abs=5e-4)


def test_eval_on_a_test_file_with_unseen_tags_prints_what_training_tested(xpos_run, tmp_path, caplog):
    trained, output_dir, _, overrides, unseen, _ = xpos_run
    checkpoint = json.loads((output_dir / "metrics.json").read_text())["checkpoint"]
    evaluated, _ = evaluate(word_cfg("pos", "birnn", [*overrides, f"ckpt_path={checkpoint}"], tmp_path, "eval"))
    for name in ("acc", "f1", "loss", "seq_acc"):
        assert evaluated[f"test/{name}"] == pytest.approx(trained[f"test/{name}"], abs=1e-6), name
    (report,) = [r.getMessage() for r in caplog.records if "outside the model's label set" in r.getMessage()]
    assert report.startswith(f"task.data.test_file: {unseen['test']} of ")
    assert re.search(rf"UH ×{unseen['test']} \(first at \S+toy-test.conllu:1\)", report)


def predict_cfg(checkpoint: Path | str, text: str, *overrides: str):
    return compose_config("predict", ["task=pos", f"ckpt_path={checkpoint}", f"text={text}", *overrides])


def test_predict_splits_raw_text_as_ud_english_unless_told_it_is_tokenised(xpos_run):
    _, output_dir, *_ = xpos_run
    checkpoint = output_dir / "checkpoints" / "last.ckpt"
    assert predict(predict_cfg(checkpoint, "'Anna sees the dog.'")) == "Anna/NNP sees/VBZ the/DT dog/NN ./."
    pretokenised = predict(predict_cfg(checkpoint, "'Anna sees the dog .'", "tokenizer=whitespace"))
    assert pretokenised == "Anna/NNP sees/VBZ the/DT dog/NN ./."
    # Told the text is tokenised, "dog." stays one word: that is what the option is for.
    assert (
        predict(predict_cfg(checkpoint, "'Anna sees the dog.'", "tokenizer=whitespace")).split()[-1].startswith("dog./")
    )


def test_a_treebank_in_other_scripts_trains_and_tags_pretokenised_text(tmp_path):
    treebank = tmp_path / "multi.conllu"
    treebank.write_text(MULTILINGUAL, encoding="utf-8")
    files = [f"task.data.{key}={treebank}" for key in ("train_file", "dev_file", "test_file")]
    overrides = [*pos_overrides(tmp_path), *files, "task.tokenizer=whitespace", "trainer.max_epochs=2"]
    metrics, _ = train(word_cfg("pos", "birnn", overrides, tmp_path))
    assert 0 <= metrics["test/acc"] <= 1
    tagged = predict(predict_cfg(tmp_path / "checkpoints" / "last.ckpt", "'मैं हिंदी बोलता हूँ ।'")).split()
    # The checkpoint's task.tokenizer=whitespace applies: five words, each with one of the 17 tags.
    assert [pair.rsplit("/", 1)[0] for pair in tagged] == ["मैं", "हिंदी", "बोलता", "हूँ", "।"]
