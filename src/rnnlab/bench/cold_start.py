"""Cold start: ``python scripts/train.py`` (the default task) from process start to exit, imports included, and
the two answers a user expects at once: ``python scripts/train.py --help`` and ``python scripts/show_data.py``.

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


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def train_once(log_dir: Path, overrides: list[str]) -> float:
    seconds = timed([sys.executable, "scripts/train.py", *overrides], {**os.environ, "RNNLAB_LOG_DIR": str(log_dir)})
    (metrics_file,) = sorted(log_dir.glob("*/train/*/metrics.json"), key=lambda p: p.stat().st_mtime)[-1:]
    metrics = json.loads(metrics_file.read_text())
    if metrics.get("val/acc") != 1.0:
        raise RuntimeError(f"the default run ended at val/acc={metrics.get('val/acc')}, not 100 %: {metrics_file}")
    return seconds


def run(repeats: int = 5, overrides: list[str] = ()):
    with tempfile.TemporaryDirectory() as log_dir:
        values = interleave(
            {
                "train.py": lambda: train_once(Path(log_dir), list(overrides)),
                "imports only": lambda: timed([sys.executable, "-c", IMPORTS], dict(os.environ)),
                "train.py --help": lambda: timed([sys.executable, "scripts/train.py", "--help"], dict(os.environ)),
                "show_data.py": lambda: timed([sys.executable, "scripts/show_data.py"], dict(os.environ)),
            },
            repeats,
        )
    case = " ".join(["python scripts/train.py", *overrides])
    results = [Result("cold_start", case, name, "s", v) for name, v in values.items()]
    train_median = results[0].median
    seconds = "seconds, start to exit"
    quick = [
        comparison(
            "cold_start", f"python scripts/{r.variant}", seconds, r.median, at_most=QUICK_GOAL_SECONDS, unit=" s"
        )
        for r in results[2:]
    ]
    comparisons = [
        comparison("cold_start", case, seconds, train_median, at_most=GOAL_SECONDS, unit=" s"),
        comparison("cold_start", case, "share spent importing", results[1].median / train_median),
        *quick,
    ]
    return results, comparisons
