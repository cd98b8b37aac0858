"""What many tests share: where the repository, its configs and the real corpora are, the tasks and models, and
composing the project's Hydra configs quietly on CPU (fixtures that use these live in tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from rnnlab.models.gate_init import sequence_length
from rnnlab.run.config import CONFIG_DIR

REPO_ROOT = CONFIG_DIR.parent
# The real corpora: RNNLAB_DATA_DIR (.ci/run sets it) or ../shared/data beside the checkout. Tests that read
# them fail rather than skip when they are missing: the corpora are part of the project's setup.
DATA_DIR = Path(os.environ.get("RNNLAB_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
TASKS = sorted(p.stem for p in (CONFIG_DIR / "task").glob("*.yaml"))
# Character tasks (tests/run/test_char_tasks.py) and word tasks (tests/run/test_word_tasks.py); the rest are the
# classifiers of generated bit and cue sequences.
CHAR_TASKS = ["caption", "char_lm", "translate"]
WORD_TASKS = ["pos", "sentiment"]
REGRESSION_TASKS = ["adding"]  # tests/run/test_adding_task.py
GENERATED_TASKS = [task for task in TASKS if task not in (*CHAR_TASKS, *WORD_TASKS, *REGRESSION_TASKS)]
MODELS = sorted(p.stem for p in (CONFIG_DIR / "model").glob("*.yaml"))


# In-process runs: CPU, no progress bars, summaries or loggers (the CLI tests cover those).
QUIET = [
    "trainer.accelerator=cpu",
    "~logger",
    "~callbacks.rich_progress_bar",
    "~callbacks.lr_monitor",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
]


def compose_config(config_name: str = "train", overrides: Sequence[str] = (), output_dir: Path | None = None):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides))
    if output_dir is not None:
        # Outside @hydra.main there is no hydra.runtime.output_dir to interpolate.
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def model_overrides(model: str, task: str) -> list[str]:
    """What a model needs on ``task``: chrono spans the task's sequence length, which one-step bit tasks and the
    word tasks lack; there the chrono presets get an explicit span."""
    if not model.endswith("_chrono"):
        return []
    length = sequence_length(compose_config("train", [f"task={task}"]).task)
    return [] if length is not None and length > 2 else ["model.chrono_tmax=20"]


def register_run(folder: Path, pid: int, started: str | None = None) -> None:
    """Enter process ``pid`` in the run registry at ``folder`` as another rnnlab run; ``started`` overrides the
    start time it is known by."""
    from rnnlab.machine import _start_time

    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(pid)).write_text(_start_time(pid) if started is None else started)
