"""Plot logged metrics of several runs side by side (runs need the CSV logger: logger=csv or many_loggers).

python scripts/plot_metrics.py RUN_DIR [RUN_DIR ...] --metrics train/grad_norm train/loss \
    --labels unclipped clipped --out docs/exploding.png
One panel per metric against the training step, one line per run; log scale where values span 100×.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from matplotlib.figure import Figure


def read_series(run_dir: Path, metric: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric from a run's csv/metrics.csv."""
    rows = csv.DictReader((run_dir / "csv" / "metrics.csv").open())
    points = [(int(row["step"]), float(row[metric])) for row in rows if row.get(metric)]
    return [step for step, _ in points], [value for _, value in points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--metrics", nargs="+", required=True)
    parser.add_argument("--labels", nargs="*")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    labels = args.labels or [run.name for run in args.runs]
    for run in args.runs:
        if not (run / "csv" / "metrics.csv").is_file():
            sys.exit(f"error: {run} has no csv/metrics.csv; train it with logger=csv or logger=many_loggers")
    figure = Figure(figsize=(5 * len(args.metrics), 3.4))
    for i, metric in enumerate(args.metrics):
        axes = figure.add_subplot(1, len(args.metrics), i + 1)
        values_seen = []
        for run, label in zip(args.runs, labels, strict=True):
            steps, values = read_series(run, metric)
            axes.plot(steps, values, marker="o", markersize=2.5, label=label)
            values_seen += values
        positive = [v for v in values_seen if v > 0]
        if positive and max(positive) / min(positive) >= 100:
            axes.set_yscale("log")
        axes.set_xlabel("training step")
        axes.set_title(metric)
        axes.grid(True, alpha=0.3)
        axes.legend()
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
