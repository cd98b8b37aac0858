"""Time a command as a user runs it: fresh processes, imports included.

python scripts/bench_train_cli.py                      # times `python scripts/train.py`, 5 runs
python scripts/bench_train_cli.py --runs 3 -- task=flip_vector model=lstm
Outputs go to a temporary directory; prints each wall time, then min and median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--script", default="scripts/train.py")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides passed to the script")
    args = parser.parse_args()
    times = []
    with tempfile.TemporaryDirectory() as log_dir:
        env = {**os.environ, "RNNLAB_LOG_DIR": log_dir}
        for i in range(args.runs):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, args.script, *args.overrides],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - start)
            print(f"run {i + 1}: {times[-1]:.2f} s", flush=True)
    command = " ".join(["python", args.script, *args.overrides])
    print(
        f"{command}: min {min(times):.2f} s, median {statistics.median(times):.2f} s over {args.runs} runs "
        f"on {os.cpu_count()} CPU cores"
    )


if __name__ == "__main__":
    main()
