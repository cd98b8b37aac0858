"""Summarise a multirun over seeds: a table and a plot of one metric, mean ± std per setting.

python scripts/summarize.py outputs/multirun/train/<date>_<time>_<id> --x task.gap --chance 0.125

Writes into that directory, or into --out: summary.md: the metric's mean ± std over seeds per setting and the
failed jobs with their errors (both also printed), and every final metric's mean ± std; summary.png (the
metric against --x, a line per model); summary.csv (one row per job: its overrides, error if any, and final
metrics); summary_groups.csv (one row per setting: each metric's mean and std over seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab.run.cli import exit_on_user_error


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dir", type=Path, help="a multirun's directory: one numbered directory per job")
    parser.add_argument("--metric", default="test/acc", help="a key of the jobs' metrics.json (default: test/acc)")
    parser.add_argument("--x", default="task.gap", help="the setting to plot against (default: task.gap)")
    parser.add_argument("--threshold", type=float, default=0.95, help="a seed solves if metric ≥ this (0.95)")
    parser.add_argument("--below", action="store_true", help="a seed solves if metric < threshold (errors: test/mse)")
    parser.add_argument("--chance", type=float, help="draw the chance level, e.g. 0.125 for 8 symbols")
    parser.add_argument("--chance-label", default="chance", help='its legend, e.g. "predict the mean"')
    parser.add_argument("--out", type=Path, help="where to write the summary (default: the sweep directory)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # Imported here so that --help answers at once.
    from rnnlab.sweeps import summary as sweep

    with exit_on_user_error():
        jobs = sweep.read_sweep(args.sweep_dir)
        groups = sweep.summarize(jobs, args.metric, args.threshold, args.x, args.below)
    table = sweep.markdown(jobs, groups, args.metric, args.threshold, args.x, below=args.below)
    # The terminal gets the metric's table; the every-metric table is too wide for it.
    short = sweep.markdown(jobs, groups, args.metric, args.threshold, args.x, every_metric=False, below=args.below)
    out = args.out or args.sweep_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(f"# {args.metric} over seeds: {args.sweep_dir}\n\n{table}")
    sweep.write_csv(jobs, out / "summary.csv")
    sweep.write_groups_csv(groups, out / "summary_groups.csv")
    sweep.plot(groups, args.x, args.metric, args.chance, args.chance_label).savefig(out / "summary.png", dpi=150)

    print(short)
    if sweep.plot_axis(groups, args.x) != args.x:
        print(f"No job sets {args.x}: the plot is against the model.")
    written = ", ".join(str(out / name) for name in ("summary.md", "summary.png", "summary.csv", "summary_groups.csv"))
    print(f"Written: {written}")


if __name__ == "__main__":
    main()
