"""Interpretable units of a trained character LM (``scripts/units.py``): read a text, rank the units of one layer by
their correlation with named properties of the text, and render the text coloured by chosen units as an HTML page,
a PNG and a TensorBoard figure (:mod:`rnnlab.analysis.units`, :mod:`rnnlab.analysis.coloured_text`).

Every setting, the checkpoint and the text are checked before anything is computed or written, so a mistake gets
one line and nothing lands in the run directory but Hydra's own record.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from rnnlab.analysis.units import PROPERTIES, STATES, correlations, rank_units, text_property, unit_activations
from rnnlab.data.alphabet import Alphabet
from rnnlab.data.text_files import read_text
from rnnlab.errors import ConfigError
from rnnlab.models.generators import CharRNN
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.evaluate import load_checkpoint
from rnnlab.run.predict import predictor_from

LANGUAGE_MODEL = "language_model"  # the head of the character LM family (task=char_lm and its experiments)
SPLITS = ("train", "val", "test")


@dataclass
class UnitsReport:
    """What the command found: the text, the layer's activations, and each property's ranking."""

    text: str
    source: str  # where the text came from, in words
    what: str  # which state of which layer, e.g. "cell state c_t of layer 1 of 1 (lstm, 512 units)"
    symbol: str  # its short name: s_t, h_t or c_t
    activations: torch.Tensor  # (T, H)
    correlations: dict[str, torch.Tensor] = field(default_factory=dict)  # property → (H,) Pearson r
    constant: list[str] = field(default_factory=list)  # properties with one value over the whole text
    rendered: list[int] = field(default_factory=list)  # the units drawn
    files: list[Path] = field(default_factory=list)


def load_language_model(path: str, trust: bool = False) -> tuple[CharRNN, Alphabet, dict]:
    """A character LM's network (eval mode), alphabet and configuration; any other checkpoint is a ConfigError."""
    checkpoint = load_checkpoint(path, trust)
    config = (checkpoint.get("hyper_parameters") or {}).get("config")
    if not config:
        raise ConfigError(f"{path} holds no rnnlab configuration; was it written by scripts/train.py?")
    task = config["task"]
    if task.get("head") != LANGUAGE_MODEL:
        raise ConfigError(
            f"{path} was trained on task={task['name']}, not a character language model; units reads the hidden "
            "units of a task=char_lm checkpoint (e.g. of experiment=shakespeare_lstm)"
        )
    return predictor_from(checkpoint, path)


def listed(value) -> list:
    """A list setting, given as a list (``units=[3,17]``) or as one value (``units=17``)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | ListConfig) else [value]


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(cfg: DictConfig) -> None:
    """The settings that need no checkpoint: answered before anything loads."""
    unknown = [name for name in listed(cfg.properties) if name not in PROPERTIES]
    if unknown:
        raise ConfigError(
            f"properties={listed(cfg.properties)}: {unknown} unknown; choose from {', '.join(PROPERTIES)}"
        )
    if cfg.state not in STATES:
        raise ConfigError(f"state={cfg.state!r} is not one of {', '.join(STATES)}")
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split!r} is not one of {', '.join(SPLITS)}")
    for key in ("max_chars", "render_chars", "width", "top"):
        if not _is_index(cfg[key]) or cfg[key] <= 0:
            raise ConfigError(f"{key}={cfg[key]!r} must be a positive integer")
    if cfg.text is not None and cfg.text_file is not None:
        raise ConfigError("give the text as text=… or text_file=…, not both")
    if not all(_is_index(unit) for unit in listed(cfg.units)):
        raise ConfigError(f"units={listed(cfg.units)} must be unit indices (integers), e.g. units=[3,17]")


def check_against_model(cfg: DictConfig, net: CharRNN) -> int:
    """The 0-based layer to read; a state, layer or unit the network does not have is a ConfigError."""
    backbone = net.backbone
    if cfg.state == "cell" and backbone.cell != "lstm":
        raise ConfigError(f"state=cell is an LSTM's cell c_t; this model's cell is {backbone.cell}: use state=output")
    layers = backbone.num_layers
    if cfg.layer is not None and (not _is_index(cfg.layer) or not 1 <= cfg.layer <= layers):
        raise ConfigError(f"layer={cfg.layer!r} is out of range: the model has {layers} layer(s), numbered 1–{layers}")
    size = backbone.hidden_size
    outside = [unit for unit in listed(cfg.units) if not 0 <= unit < size]
    if outside:
        raise ConfigError(
            f"units={listed(cfg.units)}: {outside} out of range; the layer has {size} units, 0–{size - 1}"
        )
    return layers - 1 if cfg.layer is None else cfg.layer - 1


def read_units_text(cfg: DictConfig, alphabet: Alphabet, config: dict) -> tuple[str, str]:
    """The text to read, its first ``max_chars`` characters, and where it came from; characters outside the model's
    alphabet are a DataError naming the first one."""
    if cfg.text is not None:
        text, where = str(cfg.text), "text"
    elif cfg.text_file is not None:
        text, where = read_text(cfg.text_file), str(cfg.text_file)
    else:
        data = build_datamodule(OmegaConf.create({"task": config["task"]}), alphabet.to_dict())
        text, where = alphabet.decode(data.split_ids(cfg.split).tolist()), f"the checkpoint's {cfg.split} split"
    if not text:
        raise ConfigError(f"{where} is empty; give at least one character, e.g. text=hello")
    text = text[: cfg.max_chars]
    alphabet.encode(text, where)  # raises for a character the model never saw
    source = f"{len(text)} characters of {where}" if where != "text" else f"the text given ({len(text)} characters)"
    return text, source


def describe_state(net: CharRNN, state: str, layer: int) -> tuple[str, str]:
    backbone = net.backbone
    if state == "cell":
        symbol, name = "c_t", "cell state c_t"
    elif backbone.cell == "rnn":
        symbol, name = "s_t", "state s_t"
    else:
        symbol, name = "h_t", "output h_t"
    where = f"layer {layer + 1} of {backbone.num_layers} ({backbone.cell}, {backbone.hidden_size} units)"
    return symbol, f"{name} of {where}"


def analyse(cfg: DictConfig) -> UnitsReport:
    """Everything ``scripts/units.py`` computes, checked first; writes nothing."""
    check_settings(cfg)
    net, alphabet, config = load_language_model(cfg.ckpt_path, cfg.get("trust_checkpoint", False))
    layer = check_against_model(cfg, net)
    text, source = read_units_text(cfg, alphabet, config)
    symbol, what = describe_state(net, cfg.state, layer)
    activations = unit_activations(net, alphabet.encode(text), cfg.state, layer)
    report = UnitsReport(text, source, what, symbol, activations)
    for name in listed(cfg.properties):
        values = text_property(text, name)
        if bool((values == values[0]).all()):
            report.constant.append(name)
        else:
            report.correlations[name] = correlations(activations, values)
    report.rendered = listed(cfg.units) or list(
        dict.fromkeys(rank_units(r, 1)[0][0] for r in report.correlations.values())
    )
    if not report.rendered:
        constant = f"; {', '.join(report.constant)} never change over it" if report.constant else ""
        raise ConfigError(f"no unit to draw: give units=[…] or a property that varies over the text{constant}")
    return report


def ranking_table(report: UnitsReport, top: int) -> str:
    """A markdown table: for each property, its ``top`` units by |r|."""
    lines = ["| property | rank | unit | r |", "|---|---|---|---|"]
    for name, r in report.correlations.items():
        for rank, (unit, value) in enumerate(rank_units(r, top), start=1):
            lines.append(f"| {name} | {rank} | {unit} | {value:+.3f} |")
    for name in report.constant:
        lines.append(f"| {name} | – | – | constant over this text |")
    return "\n".join(lines)


def captions(report: UnitsReport) -> list[tuple[int, str]]:
    """A caption per drawn unit: its correlation with each property it ranks first for, or with every property."""
    out = []
    for unit in report.rendered:
        best = [name for name, r in report.correlations.items() if rank_units(r, 1)[0][0] == unit]
        names = best or list(report.correlations)
        said = ", ".join(f"r = {float(report.correlations[n][unit]):+.2f} with {n}" for n in names)
        out.append((unit, f"unit {unit} of {report.symbol}" + (f": {said}" if said else "")))
    return out


def write_correlations(report: UnitsReport, path: Path) -> None:
    """One row per unit, one column per property: every unit's r, not only the top ones."""
    names = list(report.correlations)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["unit", *names])
        for unit in range(report.activations.size(1)):
            writer.writerow([unit, *(f"{float(report.correlations[n][unit]):.6f}" for n in names)])


def write_outputs(cfg: DictConfig, report: UnitsReport) -> None:
    """units.html, units.png, correlations.csv and a TensorBoard run (figure and ranking) in the run directory."""
    from torch.utils.tensorboard import SummaryWriter

    from rnnlab.analysis.coloured_text import UnitTrace, html_page, text_figure

    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    shown = report.text[: cfg.render_chars]
    traces = [UnitTrace(unit, report.activations[: len(shown), unit], caption) for unit, caption in captions(report)]
    title = f"{report.what}, {report.source}"
    page = output_dir / "units.html"
    page.write_text(html_page(shown, traces, title), encoding="utf-8")
    figure = text_figure(shown, traces, title, cfg.width)
    picture = output_dir / "units.png"
    figure.savefig(picture, dpi=120, bbox_inches="tight")
    report.files = [page, picture]
    if report.correlations:
        table = output_dir / "correlations.csv"
        write_correlations(report, table)
        report.files.append(table)
    tensorboard = output_dir / "tensorboard"
    with SummaryWriter(str(tensorboard)) as writer:
        writer.add_figure("units/text", figure)
        writer.add_text("units/ranking", f"{title}\n\n{ranking_table(report, cfg.top)}")
    report.files.append(tensorboard)


def units(cfg: DictConfig) -> UnitsReport:
    """``scripts/units.py``: analyse, then write the page, the picture, the table and TensorBoard's run."""
    report = analyse(cfg)
    write_outputs(cfg, report)
    return report
