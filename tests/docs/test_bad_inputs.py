"""The "What happens when …" table of docs/operations.md, run row by row: each command must stop with its message."""

from __future__ import annotations

import re
import shlex

import pytest
import torch
from helpers import DATA_DIR, QUIET, REPO_ROOT, compose_config

from rnnlab.errors import RnnlabError
from rnnlab.run.cli import check_overrides
from rnnlab.run.evaluate import evaluate
from rnnlab.run.predict import predict
from rnnlab.run.train import train
from rnnlab.run.units import units

PAGE = (REPO_ROOT / "docs" / "operations.md").read_text()
SECTION = PAGE.split("## What happens when …")[1].split("\n## ")[0]
TABLE = next(block for block in SECTION.split("\n\n") if block.startswith("|"))
ROWS = [tuple(cell.strip().strip("`") for cell in line.strip("|").split("|")) for line in TABLE.splitlines()[2:]]
ENTRY_POINTS = {
    "train.py": ("train", train),
    "eval.py": ("eval", evaluate),
    "predict.py": ("predict", predict),
    "units.py": ("units", units),
}


def test_the_table_has_at_least_25_cases():
    assert len(ROWS) >= 25 and all(len(row) == 3 for row in ROWS)


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bad_inputs")
    files = {
        "empty file": b"",
        "binary file": b"ab\x00cd",
        "latin-1 file": b"caf\xe9 au lait\n" * 10,
        "short file": b"to be or not to be\n",
        "short-line conllu": b"# text = Hi\n1\tHi\thi\n\n",
        "untagged conllu": b"1\tHi\thi\t_\t_\t_\t0\troot\t_\t_\n\n",
        "two-word conllu": b"1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n2\t!\t!\tPUNCT\t_\t_\t1\tpunct\t_\t_\n\n",
        "long sentence": b"a film that goes on and on\n",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = folder / name.replace(" ", "_")
        paths[name].write_bytes(content)
    paths["missing file"] = folder / "missing.txt"

    class RunsCode:
        def __reduce__(self):
            return (print, ("this must never run",))

    paths["crafted checkpoint"] = folder / "crafted.ckpt"
    torch.save({"hyper_parameters": {"config": RunsCode()}}, paths["crafted checkpoint"])
    quick = {
        "flip_stream checkpoint": ["task=flip_stream", "trainer.max_epochs=1", "trainer.min_epochs=1"],
        "hello checkpoint": ["task=char_lm", "trainer.max_epochs=3"],
        "translate checkpoint": ["task=translate", "model=birnn", "trainer.max_epochs=1", "task.data.sizes.train=64"],
    }
    for name, overrides in quick.items():
        output_dir = folder / name.replace(" ", "_")
        train(compose_config("train", [*overrides, *QUIET, "test=false"], output_dir))
        paths[name] = output_dir / "checkpoints" / "last.ckpt"
    return {f"<{name}>": str(path) for name, path in paths.items()}


@pytest.mark.parametrize(("what", "command", "message"), ROWS, ids=[row[0] for row in ROWS])
def test_what_happens_when(placeholders, tmp_path, what, command, message):
    script, *overrides = shlex.split(re.sub(r"<[^>]+>", lambda m: placeholders[m.group(0)], command))
    config_name, entry_point = ENTRY_POINTS[script]
    quiet = QUIET if config_name == "train" else []
    if config_name == "train":
        (tmp_path / "log").mkdir()
        quiet = [*quiet, f"paths.log_dir={tmp_path / 'log'}", f"paths.data_dir={DATA_DIR}"]
    with pytest.raises(RnnlabError) as error:
        check_overrides(config_name, overrides)  # as the scripts do first: unknown config choices and keys
        entry_point(compose_config(config_name, [*overrides, *quiet], tmp_path))
    assert message in str(error.value)
    assert not list(tmp_path.glob("**/*.ckpt")), "nothing may be trained before the message"
    assert not list(tmp_path.glob("**/units.html")), "nothing may be drawn before the message"
