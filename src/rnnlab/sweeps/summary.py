"""Summarise a Hydra multirun: each job's settings and final metrics, then mean ± std over seeds.

A multirun directory (see conf/hydra/default.yaml) holds one numbered directory per job. Hydra records the job
in its ``.hydra/`` before it starts and :func:`rnnlab.run.train.train` writes ``metrics.json`` when it ends; a job
that raised writes ``failed.json`` instead (:mod:`rnnlab.sweeps.jobs`), so a job with neither was killed or has not
finished. Jobs that differ only in ``seed`` form a :class:`Group`, summarised by one metric: its mean ± std over
the seeds, the share of seeds that solve the task (metric ≥ a threshold) and how many steps they took
(``val/steps_to_solve``, from :class:`~rnnlab.callbacks.solve_tracker.SolveTracker`); and by every stage metric
(``train/``, ``val/``, ``test/``): its mean ± std.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab.errors import RnnlabError
from rnnlab.sweeps.jobs import FAILED_FILE

SEED = "seed"
STEPS_TO_SOLVE = "val/steps_to_solve"
STAGES = ("train/", "val/", "test/")  # the metrics of summary.md's second table (summary.csv has them all)


class SweepError(RnnlabError):
    """A directory that holds no multirun, or a metric that none of its jobs recorded."""


@dataclass(frozen=True)
class Job:
    name: str  # its directory's name: Hydra's job number
    settings: dict[str, str]  # model, task and each command-line override, key → value
    metrics: dict[str, Any] | None  # its metrics.json; None if it failed, was killed or has not finished
    failure: dict[str, str] | None = None  # its failed.json: the error and its message

    @property
    def status(self) -> str:
        return "finished" if self.metrics is not None else "failed" if self.failure else "unfinished"

    def describe(self) -> str:
        return f"job {self.name} ({', '.join(f'{key}={value}' for key, value in self.settings.items())})"

    def error(self) -> str:
        return f"{self.failure['error']}: {self.failure['message']}" if self.failure else ""


@dataclass(frozen=True)
class Group:
    """Jobs that differ only in their seed, summarised by one metric."""

    settings: dict[str, str]  # those of its jobs, but the seed
    n: int  # seeds that recorded the metric
    mean: float  # nan when n == 0
    std: float  # sample standard deviation; nan when n < 2
    solved: float  # share of the n seeds whose metric reached the threshold
    steps_to_solve: float | None  # mean val/steps_to_solve of the solving seeds that logged it
    finished: int = 0  # seeds whose job wrote metrics.json
    failed: int = 0  # seeds whose job failed
    stats: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # numeric metric → (mean, std, seeds)


def read_sweep(sweep_dir: str | Path) -> list[Job]:
    """One :class:`Job` per job directory, in Hydra's job order."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise SweepError(f"{sweep_dir}: no such directory")
    # Hydra writes .hydra/ before the job runs: it marks finished and crashed jobs alike.
    job_dirs = [path for path in sweep_dir.iterdir() if (path / ".hydra").is_dir()]
    if not job_dirs:
        raise SweepError(
            f"{sweep_dir} holds no job directories (numbered, each with a .hydra/ inside); "
            "pass a multirun's own directory, e.g. outputs/multirun/train/<date>_<time>_<id>"
        )
    return [read_job(path) for path in sorted(job_dirs, key=lambda path: _sort_key(path.name))]


def read_job(job_dir: Path) -> Job:
    hydra_dir = job_dir / ".hydra"
    config = _read_yaml(hydra_dir / "config.yaml")
    choices = _read_yaml(hydra_dir / "hydra.yaml")["hydra"]["runtime"]["choices"]
    settings = {"model": choices.get("model"), "task": (config.get("task") or {}).get("name")}
    for override in _read_yaml(hydra_dir / "overrides.yaml") or []:
        key, _, value = override.partition("=")
        settings[key.lstrip("+")] = value  # `+key=value` adds a key that `key=value` would set: the same setting
    metrics_file = job_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
    failed_file = job_dir / FAILED_FILE
    failure = json.loads(failed_file.read_text()) if failed_file.is_file() else None
    settings = {key: str(value) for key, value in settings.items() if value is not None}
    return Job(job_dir.name, settings, metrics, failure)


def summarize(
    jobs: list[Job], metric: str = "test/acc", threshold: float = 0.95, x: str = "task.gap", below: bool = False
) -> list[Group]:
    """Group ``jobs`` by every setting but the seed; sorted by model, then ``x``, then the other settings. A seed
    solves when ``metric`` ≥ ``threshold``, or with ``below`` (an error such as test/mse) when it is < ``threshold``."""
    finished = [job.metrics for job in jobs if job.metrics is not None]
    if finished and not any(metric in metrics for metrics in finished):
        recorded = sorted({key for metrics in finished for key, value in metrics.items() if _is_number(value)})
        raise SweepError(f"no job recorded {metric!r}; their metrics.json hold {', '.join(recorded)}")
    by_settings: dict[tuple, list[Job]] = {}
    for job in jobs:
        by_settings.setdefault(tuple(sorted(_without_seed(job.settings).items())), []).append(job)
    groups = [_summarize_group(members, metric, threshold, below) for members in by_settings.values()]

    def order(group: Group) -> list:
        keys = ["model", x, *group.settings]
        return [_sort_key(group.settings.get(key, "")) for key in keys]

    return sorted(groups, key=order)


def _summarize_group(jobs: list[Job], metric: str, threshold: float, below: bool = False) -> Group:
    recorded = [job.metrics for job in jobs if job.metrics is not None and metric in job.metrics]
    values = [float(metrics[metric]) for metrics in recorded]
    solving = [m for m in recorded if (m[metric] < threshold if below else m[metric] >= threshold)]
    steps = [metrics[STEPS_TO_SOLVE] for metrics in solving if STEPS_TO_SOLVE in metrics]
    finished = [job.metrics for job in jobs if job.metrics is not None]
    names = dict.fromkeys(key for metrics in finished for key, value in metrics.items() if _is_number(value))
    return Group(
        settings=_without_seed(jobs[0].settings),
        n=len(values),
        mean=_mean(values),
        std=_std(values),
        solved=len(solving) / len(values) if values else math.nan,
        steps_to_solve=statistics.fmean(steps) if steps else None,
        finished=len(finished),
        failed=sum(job.status == "failed" for job in jobs),
        stats={name: _stats([float(m[name]) for m in finished if _is_number(m.get(name))]) for name in names},
    )


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


def _stats(values: list[float]) -> tuple[float, float, int]:
    return _mean(values), _std(values), len(values)


def varying_keys(groups: list[Group]) -> list[str]:
    """The settings whose values differ between groups, in the order the jobs name them."""
    keys = dict.fromkeys(key for group in groups for key in group.settings)
    return [key for key in keys if len({group.settings.get(key) for group in groups}) > 1]


def plot_axis(groups: list[Group], x: str) -> str:
    """``x``, or ``model`` where no job sets ``x`` (task.gap, the default, means nothing to most tasks)."""
    return x if any(x in group.settings for group in groups) else "model"


def markdown(
    jobs: list[Job],
    groups: list[Group],
    metric: str,
    threshold: float,
    x: str,
    every_metric: bool = True,
    below: bool = False,
) -> str:
    """Tables with a row per group and the settings that vary (model and ``x`` always): ``metric``'s statistics,
    then (``every_metric``) every stage metric's mean ± std. Settings shared by every job are listed above them,
    failed jobs (with their error) and unfinished ones below."""
    columns = list(dict.fromkeys(["model", plot_axis(groups, x), *varying_keys(groups)]))
    header = [
        *columns,
        f"{metric} (mean ± std)",
        "seeds",
        f"solved ({'<' if below else '≥'} {threshold:g})",
        "steps to solve",
    ]
    table = _table(
        header, [[group.settings.get(key, "") for key in columns] + _statistics_cells(group) for group in groups]
    )
    names = list(dict.fromkeys(name for group in groups for name in group.stats if name.startswith(STAGES)))
    every = _table(
        [*columns, "finished", "failed", *names],
        [
            [group.settings.get(key, "") for key in columns]
            + [str(group.finished), str(group.failed)]
            + [_mean_std(*group.stats.get(name, (math.nan, math.nan, 0))[:2]) for name in names]
            for group in groups
        ],
    )
    shared = [f"`{key}={value}`" for key, value in groups[0].settings.items() if key not in columns]
    failed = [f"{job.describe()}: {job.error()}" for job in jobs if job.status == "failed"]
    unfinished = [job.describe() for job in jobs if job.status == "unfinished"]
    lines = ["Every job: " + ", ".join(shared), ""] if shared else []
    lines += table
    if every_metric:
        lines += ["", "Every final metric, mean ± std over seeds (each job's in summary.csv):", "", *every]
    lines += (
        ["", "Failed (see failed.json in the job's directory):", *(f"- {line}" for line in failed)] if failed else []
    )
    lines += ["", "No metrics.json (killed or unfinished): " + "; ".join(unfinished)] if unfinished else []
    return "\n".join(lines) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _mean_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.4g}" if math.isnan(std) else f"{mean:.4g} ± {std:.2g}"


def _statistics_cells(group: Group) -> list[str]:
    if group.n == 0:
        return ["—", "0", "—", "—"]
    spread = f" ± {group.std:.3f}" if group.n > 1 else ""
    steps = "—" if group.steps_to_solve is None else f"{group.steps_to_solve:.0f}"
    return [f"{group.mean:.3f}{spread}", str(group.n), f"{group.solved:.0%}", steps]


def write_csv(jobs: list[Job], path: Path) -> None:
    """One row per job: its number, whether it finished, the error it failed with, its settings (seed included)
    and its metrics."""
    settings = dict.fromkeys(key for job in jobs for key in job.settings)
    metrics = dict.fromkeys(key for job in jobs for key in job.metrics or {})
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, ["job", "finished", "error", *settings, *metrics])
        writer.writeheader()
        for job in jobs:
            row = {"job": job.name, "finished": job.metrics is not None, "error": job.error()}
            writer.writerow({**row, **job.settings, **(job.metrics or {})})


def write_groups_csv(groups: list[Group], path: Path) -> None:
    """One row per group: its settings, its seeds (finished and failed), and each metric's mean and std."""
    settings = dict.fromkeys(key for group in groups for key in group.settings)
    names = dict.fromkeys(name for group in groups for name in group.stats)
    columns = [*settings, "finished", "failed", *(f"{name} {part}" for name in names for part in ("mean", "std"))]
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        for group in groups:
            row = {**group.settings, "finished": group.finished, "failed": group.failed}
            for name, (mean, std, _) in group.stats.items():
                row |= {f"{name} mean": mean, f"{name} std": std}
            writer.writerow(row)


def plot(groups: list[Group], x: str, metric: str, chance: float | None = None, chance_label: str = "chance") -> Figure:
    """``metric`` against ``x`` with std error bars, a line per combination of the other varying settings (per
    model, usually); a numeric ``x`` spanning 10× or more gets a log scale, any other is categorical."""
    x = plot_axis(groups, x)
    # A line per model even when x is the model itself: then each is a single point.
    line_keys = list(dict.fromkeys(["model", *(key for key in varying_keys(groups) if key != x)]))
    plotted = [group for group in groups if group.n > 0]
    numeric = all(isinstance(_number(group.settings.get(x)), float) for group in plotted)

    def position(group: Group) -> float | str:
        return _number(group.settings[x]) if numeric else group.settings.get(x, "")

    lines: dict[str, list[Group]] = {}
    for group in plotted:
        lines.setdefault(_line_label(group, line_keys), []).append(group)

    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)  # draw off-screen, without pyplot
    ax = fig.add_subplot()
    for label, members in lines.items():
        stds = [0.0 if math.isnan(group.std) else group.std for group in members]  # a single seed: no bar
        ax.errorbar(
            [position(g) for g in members], [g.mean for g in members], yerr=stds, label=label, marker="o", capsize=3
        )
    if chance is not None:
        ax.axhline(chance, linestyle="--", color="grey", label=chance_label)
    values = sorted({position(group) for group in plotted}) if numeric else []
    if values and values[0] > 0 and values[-1] / values[0] >= 10:
        ax.set_xscale("log")
    if values:  # ticks at the swept values, not at powers of ten
        ax.set_xticks(values, labels=[f"{value:g}" for value in values])
        ax.minorticks_off()
    ax.margins(x=0.1)  # keeps the first and last points (and categories) off the frame
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} (mean ± std over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _line_label(group: Group, keys: list[str]) -> str:
    # The model by its name alone; any other setting as key=value.
    return ", ".join(
        group.settings.get(key, "") if key == "model" else f"{key}={group.settings.get(key)}" for key in keys
    )


def _without_seed(settings: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in settings.items() if key != SEED}


def _read_yaml(path: Path) -> Any:
    # Plain YAML, not OmegaConf: Hydra's files keep their ${...} interpolations, which need not resolve here.
    return yaml.safe_load(path.read_text())


def _number(text: str | None) -> float | str | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sort_key(text: str) -> tuple:
    """Numbers before words, numbers by value: 2 before 10."""
    value = _number(text)
    return (0, value, "") if isinstance(value, float) else (1, 0.0, text)
