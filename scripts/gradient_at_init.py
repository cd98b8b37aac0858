"""How much gradient reaches a sequence's first input at initialisation, per cell and gate init, against T:
python scripts/gradient_at_init.py
python scripts/gradient_at_init.py cases=[rnn,lstm_chrono] lengths=[10,100,400] out=outputs/gradient_at_init

No training: this separates "the gradient cannot get through" (ρ^T tiny) from "the optimiser did not find it".
Writes gradient_at_init.csv (every measurement), .md (fitted decay per case) and .png into `out`."""

from __future__ import annotations

import csv
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError
from rnnlab.run.cli import exit_on_user_error, run_with_hints
from rnnlab.run.config import CONFIG_DIR

STEM = "gradient_at_init"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(cfg: DictConfig) -> None:
    from rnnlab.analysis.gradient_decay import CASES

    for key in ("lengths", "seeds", "cases"):
        if not OmegaConf.is_list(cfg[key]):
            raise ConfigError(f"{key}={cfg[key]!r} must be a list, e.g. {key}=[{cfg[key]}]")
    lengths = list(cfg.lengths)
    if not all(_is_int(t) and t >= 2 for t in lengths) or len(set(lengths)) < 2:
        raise ConfigError(
            f"lengths={lengths} must be at least two different sequence lengths, each an integer >= 2 "
            "(cue … query), e.g. lengths=[10,25,50]"
        )
    if not cfg.seeds or not all(_is_int(seed) for seed in cfg.seeds):
        raise ConfigError(f"seeds={list(cfg.seeds)} must be a non-empty list of integers, e.g. seeds=[0,1,2]")
    for key, minimum in (("hidden_size", 1), ("input_size", 2), ("batch", 1), ("threads", 1)):
        if not _is_int(cfg[key]) or cfg[key] < minimum:
            raise ConfigError(f"{key}={cfg[key]!r} must be an integer >= {minimum}")
    unknown = [name for name in cfg.cases if name not in CASES]
    if not cfg.cases or unknown:
        raise ConfigError(f"cases={list(cfg.cases)}: unknown {unknown}; choose from {list(CASES)}")
    tmax = cfg.chrono_tmax
    if tmax is not None and (isinstance(tmax, bool) or not isinstance(tmax, int | float) or tmax <= 2):
        raise ConfigError(f"chrono_tmax={tmax!r} must be a number > 2 (or null: the longest of lengths)")


def markdown(cfg: DictConfig, rows: list[dict], fits: dict[str, dict], chrono_tmax: float) -> str:
    """The fitted decay per case, under the command and settings that produced it."""
    from rnnlab.analysis.gradient_decay import CASES

    lengths = sorted(set(cfg.lengths))
    first, last = lengths[0], lengths[-1]

    def mean_norm(case: str, seq_len: int) -> float:
        norms = [row["grad_norm"] for row in rows if row["case"] == case and row["T"] == seq_len]
        return sum(norms) / len(norms)

    command = shlex.join(["python", "scripts/gradient_at_init.py", *sys.argv[1:]])
    lines = [
        "# Gradient at initialisation: ‖∂L/∂x_0‖ against the sequence length T",
        "",
        f"Command: `{command}`",
        "",
        f"Seeds: {list(cfg.seeds)}; torch threads: {cfg.threads}; lengths: {lengths}; hidden_size {cfg.hidden_size}, "
        f"input_size {cfg.input_size}, batch {cfg.batch}, chrono_tmax {chrono_tmax:g}; float64.",
        "",
        "ρ: fitted gradient factor per step (log‖g‖ = a + T·log ρ, all seeds); steps per ×10: ln 10 / (−ln ρ); "
        "‖g‖: mean over seeds.",
        "",
        f"| case | backbone kwargs | ρ per step | steps per ×10 | ‖g‖ at T={first} | ‖g‖ at T={last} |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for case, fit in fits.items():
        kwargs = ", ".join(f"{k}={v}" for k, v in CASES[case].items())
        lines.append(
            f"| {case} | {kwargs} | {fit['rho']:.4f} | {fit['steps_per_decade']:.1f} | "
            f"{mean_norm(case, first):.2e} | {mean_norm(case, last):.2e} |"
        )
    return "\n".join(lines) + "\n"


def draw(rows: list[dict], fits: dict[str, dict]):
    """log ‖∂L/∂x_0‖ against T, one line per case: the mean over seeds, and their min–max as a band."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for case, fit in fits.items():
        lengths = sorted({row["T"] for row in rows if row["case"] == case})
        per_t = [[row["grad_norm"] for row in rows if row["case"] == case and row["T"] == t] for t in lengths]
        (line,) = ax.plot(
            lengths, [sum(n) / len(n) for n in per_t], marker="o", ms=3, label=f"{case} (ρ = {fit['rho']:.3f})"
        )
        ax.fill_between(lengths, [min(n) for n in per_t], [max(n) for n in per_t], color=line.get_color(), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T (steps from the cue $x_0$ to the loss)")
    ax.set_ylabel(r"$\Vert\partial L / \partial x_0\Vert$ at initialisation")
    ax.set_title("Gradient reaching the first input, untrained (mean, min–max over seeds)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write_csv(rows: Sequence[dict], path: Path) -> None:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["case", "T", "seed", "grad_norm"])
        writer.writeheader()
        writer.writerows({**row, "grad_norm": repr(row["grad_norm"])} for row in rows)


def gradient_at_init(cfg: DictConfig) -> None:
    import torch

    from rnnlab.analysis.gradient_decay import fit_decay, measure
    from rnnlab.analysis.render import save_figure

    torch.set_num_threads(cfg.threads)
    chrono_tmax = cfg.chrono_tmax if cfg.chrono_tmax is not None else max(cfg.lengths)
    rows = measure(
        list(cfg.cases),
        list(cfg.lengths),
        list(cfg.seeds),
        cfg.hidden_size,
        cfg.input_size,
        batch=cfg.batch,
        chrono_tmax=chrono_tmax,
    )
    fits = fit_decay(rows)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / f"{STEM}.csv")
    table = markdown(cfg, rows, fits, chrono_tmax)
    (out / f"{STEM}.md").write_text(table)
    save_figure(draw(rows, fits), out / STEM, ["png"])
    print(table)
    print(f"Written: {out / STEM}.csv, .md, .png")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="gradient_at_init")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        check_settings(cfg)
        gradient_at_init(cfg)


if __name__ == "__main__":
    run_with_hints(main, "gradient_at_init")
