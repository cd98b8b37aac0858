"""Cold start: ``python scripts/train.py`` (the default task) from process start to exit, imports included, and
the answers a user expects at once: ``python scripts/train.py --help``, ``python scripts/show_data.py``, and the
one line that refuses a bad setting (``python scripts/train.py model.hidden_size=0``).

Each repetition starts a fresh process, as a user does; a training counts only if it reached 100 % validation
accuracy. The import share is timed by a process that only imports what ``scripts/train.py`` imports on its
way to training (Hydra, Lightning, rnnlab) and exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnlab.bench.harness import Result, comparison, interleave
from rnnlab.run.config import PROJECT_ROOT

GOAL_SECONDS = 7.0  # the default training
QUICK_GOAL_SECONDS = 3.0  # --help, show_data.py
IMPORTS = "import hydra, lightning, rnnlab.run.train"
BAD_SETTING = "model.hidden_size=0"


def timed(command: list[str], env: dict, exit_code: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode != exit_code:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}, not {exit_code}: {done.stderr[-2000:]}")
    return seconds


def train_once(log_dir: Path, overrides: list[str]) -> float:
    seconds = timed([sys.executable, "scripts/train.py", *overrides], {**os.environ, "RNNLAB_LOG_DIR": str(log_dir)})
    (metrics_file,) = sorted(log_dir.glob("*/train/*/metrics.json"), key=lambda p: p.stat().st_mtime)[-1:]
    metrics = json.loads(metrics_file.read_text())
    if metrics.get("val/acc") != 1.0:
        raise RuntimeError(f"the default run ended at val/acc={metrics.get('val/acc')}, not 100 %: {metrics_file}")
    return seconds


def refused(log_dir: Path) -> float:
    """Seconds until ``scripts/train.py`` refuses :data:`BAD_SETTING` (exit code 2), leaving ``log_dir`` empty."""
    env = {**os.environ, "RNNLAB_LOG_DIR": str(log_dir)}
    seconds = timed([sys.executable, "scripts/train.py", BAD_SETTING], env, exit_code=2)
    if log_dir.exists() and any(log_dir.iterdir()):
        raise RuntimeError(f"{BAD_SETTING} left a run directory in {log_dir}")
    return seconds


def run(repeats: int = 5, overrides: list[str] = ()):
    with tempfile.TemporaryDirectory() as log_dir:
        values = interleave(
            {
                "train.py": lambda: train_once(Path(log_dir), list(overrides)),
                "imports only": lambda: timed([sys.executable, "-c", IMPORTS], dict(os.environ)),
                "train.py --help": lambda: timed([sys.executable, "scripts/train.py", "--help"], dict(os.environ)),
                "show_data.py": lambda: timed([sys.executable, "scripts/show_data.py"], dict(os.environ)),
                f"train.py {BAD_SETTING}": lambda: refused(Path(log_dir) / "refused"),
            },
            repeats,
        )
    case = " ".join(["python scripts/train.py", *overrides])
    results = [Result("cold_start", case, name, "s", v) for name, v in values.items()]
    train, imports, *quick, bad = results
    seconds = "seconds, start to exit"
    comparisons = [
        comparison("cold_start", case, seconds, train.median, at_most=GOAL_SECONDS, unit=" s"),
        comparison("cold_start", case, "share spent importing", imports.median / train.median),
        *(
            comparison(
                "cold_start", f"python scripts/{r.variant}", seconds, r.median, at_most=QUICK_GOAL_SECONDS, unit=" s"
            )
            for r in quick
        ),
        # Context: the issue that set the goals above set none for it.
        comparison("cold_start", f"python scripts/{bad.variant} (refused in one line)", seconds, bad.median),
    ]
    return results, comparisons
