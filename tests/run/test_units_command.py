"""scripts/units.py on a real (tiny) trained character LM: the ranking and correlations.csv agree with numpy, the
page, the picture and TensorBoard are written; bad input gets one line, exit code 2, and nothing drawn."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import QUIET, REPO_ROOT, compose_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnnlab.analysis.units import text_property, unit_activations
from rnnlab.errors import ConfigError, DataError
from rnnlab.run.train import train
from rnnlab.run.units import load_language_model, units

TEXT = 'She said "hi (to BOB)" twice.\nAnd he? "No," said he.\n'


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """A tiny LSTM language model of TEXT, and a bit-problem checkpoint."""
    folder = tmp_path_factory.mktemp("units")
    runs = {
        "lstm": ["task=char_lm", "model=lstm", f"task.data.text='{TEXT}'", "trainer.max_epochs=3"],
        "flip_stream": ["task=flip_stream", "trainer.max_epochs=1", "trainer.min_epochs=1"],
    }
    paths = {}
    for name, overrides in runs.items():
        train(compose_config("train", [*overrides, *QUIET, "test=false"], folder / name))
        paths[name] = folder / name / "checkpoints" / "last.ckpt"
    return paths


def units_config(tmp_path: Path, checkpoint: Path, *overrides: str):
    return compose_config("units", [f"ckpt_path={checkpoint}", *overrides], tmp_path / "units")


def test_the_ranking_is_each_units_correlation_as_numpy_computes_it(checkpoints, tmp_path):
    cfg = units_config(tmp_path, checkpoints["lstm"], "state=cell", "top=3", "units=[2,7]")
    report = units(cfg)
    assert report.text == TEXT  # a literal text is every split of itself
    assert report.what == "cell state c_t of layer 1 of 1 (lstm, 32 units)"
    assert report.rendered == [2, 7]

    # The reference: the activations read again, each property by numpy's Pearson correlation.
    net, alphabet, _ = load_language_model(str(checkpoints["lstm"]))
    activations = unit_activations(net, alphabet.encode(TEXT), "cell").numpy()
    with (tmp_path / "units" / "correlations.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 32
    for name in ("inside_quotes", "inside_brackets", "line_position", "word_start", "upper_case"):
        values = text_property(TEXT, name).numpy()
        reference = np.array([np.corrcoef(activations[:, unit], values)[0, 1] for unit in range(32)])
        np.testing.assert_allclose([float(row[name]) for row in rows], reference, atol=1e-6)
        np.testing.assert_allclose(report.correlations[name].numpy(), reference, atol=1e-12)

    written = {path.name for path in (tmp_path / "units").iterdir()}
    assert {"units.html", "units.png", "correlations.csv", "tensorboard"} <= written
    page = (tmp_path / "units" / "units.html").read_text()
    assert page.count("<span ") == 2 * len(TEXT)  # both units, every character
    events = EventAccumulator(str(tmp_path / "units" / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    assert "units/text" in events.Tags()["images"]
    assert "units/ranking/text_summary" in events.Tags()["tensors"]


def test_one_unit_and_one_property_need_no_brackets(checkpoints, tmp_path):
    report = units(units_config(tmp_path, checkpoints["lstm"], "units=5", "properties=upper_case"))
    assert report.rendered == [5]
    assert list(report.correlations) == ["upper_case"]


def test_without_units_it_draws_the_best_unit_of_each_property(checkpoints, tmp_path):
    cfg = units_config(tmp_path, checkpoints["lstm"], "properties=[upper_case,word_start]", "text=BOB said")
    report = units(cfg)
    best = [int(report.correlations[name].abs().argmax()) for name in ("upper_case", "word_start")]
    assert report.rendered == list(dict.fromkeys(best))
    assert report.source == "the text given (8 characters)"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["units=[32]"], ConfigError, "units=[32]: [32] out of range; the layer has 32 units, 0–31"),
        (["layer=2"], ConfigError, "layer=2 is out of range: the model has 1 layer(s)"),
        (["properties=[vowels]"], ConfigError, "['vowels'] unknown"),
        (["text=xyz"], DataError, "character 'x' is not in the model's alphabet"),
        (["text=hi", "text_file=notes.txt"], ConfigError, "not both"),
        (["text=''"], ConfigError, "text is empty"),
        (["text=hi", "properties=[inside_quotes]"], ConfigError, "no unit to draw"),
    ],
)
def test_a_bad_setting_is_one_message_and_nothing_is_written(checkpoints, tmp_path, overrides, error, message):
    with pytest.raises(error) as raised:
        units(units_config(tmp_path, checkpoints["lstm"], *overrides))
    assert message in str(raised.value)
    assert not (tmp_path / "units").exists()


def test_a_checkpoint_of_another_task_is_refused(checkpoints, tmp_path):
    with pytest.raises(ConfigError, match="was trained on task=flip_stream, not a character language model"):
        units(units_config(tmp_path, checkpoints["flip_stream"]))


@pytest.mark.slow  # a fresh interpreter: ~10 s of imports; the same check runs in-process above
def test_the_script_says_it_in_one_line_and_exits_2(checkpoints, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "scripts/units.py",
            f"ckpt_path={checkpoints['lstm']}",
            "units=[99]",
            f"paths.log_dir={tmp_path}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: units=[99]: [99] out of range; the layer has 32 units, 0–31"]
    assert not [path for path in tmp_path.glob("**/*") if path.name in ("units.html", "units.png", "tensorboard")]
