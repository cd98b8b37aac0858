"""rnnlab's performance suite: each benchmark in one process, variants interleaved (A B A B …).

python scripts/bench.py                                  # the whole suite (about 15 minutes on 2 cores)
python scripts/bench.py --only overhead implementations  # some of it
python scripts/bench.py --tiny                           # every benchmark on toy sizes: proves the suite runs
python scripts/bench.py --device cuda                    # on a GPU

Writes outputs/bench/bench.json (every repetition) and outputs/bench/bench.md (median, min, max, and each
comparison beside its goal), and prints the markdown.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import warnings
from pathlib import Path

BENCHMARKS = ("overhead", "cold_start", "implementations", "efficiency", "scaling", "threads", "concurrency")
# Toy sizes: seconds per benchmark, for CI.
TINY = {
    "overhead": {"batch_sizes": (8,), "sequences": 64, "epochs": 2, "repeats": 1},
    "cold_start": {"repeats": 1, "overrides": ["trainer.max_epochs=30"]},
    "implementations": {
        "batch_sizes": (2,),
        "hidden_sizes": (8,),
        "lengths": (5,),
        "repeats": 1,
        "min_seconds": 0.01,
        "compile_step": False,
    },
    "efficiency": {"hidden": 16, "batch": 4, "length": 10, "batches": 2, "epochs": 2, "repeats": 1},
    "scaling": {"lengths": (5, 10), "hidden_sizes": (8,), "sequences": 16, "batch": 8, "repeats": 1},
    "threads": {"cases": ((4, 8),), "length": 5, "steps": 2, "repeats": 1},
    "concurrency": {
        "pair_tasks": {"bits": ["trainer.max_epochs=2", "trainer.min_epochs=2"]},
        "sweep_task": ["trainer.max_epochs=1", "trainer.min_epochs=1"],
        "before": False,
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--tiny", action="store_true", help="toy sizes: checks that the suite runs, measures nothing")
    parser.add_argument("--repeats", type=int, help="repetitions per variant (default: each benchmark's own)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cold start runs as the default config does)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled loop (compilation takes minutes)")
    parser.add_argument(
        "--no-before", action="store_true", help="concurrency: rnnlab's defaults only, not the settings before threads"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import importlib

    import torch

    from rnnlab.bench.harness import machine, markdown, write_report

    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("rnnlab").setLevel(logging.WARNING)
    info = machine()
    results, comparisons = [], []
    for name in args.only:
        settings = dict(TINY[name]) if args.tiny else {}
        if args.repeats:
            settings["repeats"] = args.repeats
        if name != "cold_start":
            settings["device"] = args.device
        if name == "concurrency" and args.no_before:
            settings["before"] = False
        if name == "implementations" and args.no_compile:
            settings["compile_step"] = False
        print(f"== {name}", flush=True)
        found, compared = importlib.import_module(f"rnnlab.bench.{name}").run(**settings)
        results += found
        comparisons += compared
        print(markdown(found, compared, info), flush=True)
    command = shlex.join(["python", "scripts/bench.py", *sys.argv[1:]])
    path = write_report(args.out, results, comparisons, info, command)
    print(f"Written: {path} and {path.with_suffix('.json')} (torch threads: {torch.get_num_threads()})")


if __name__ == "__main__":
    main()
