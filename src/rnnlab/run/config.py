"""Where the configuration lives, the resolvers it uses, and the checks run before any training starts."""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError
from rnnlab.run.paths import CONFIG_DIR, PROJECT_ROOT  # scripts and tests import them from here too


def _job_label() -> str:
    from rnnlab.run.job_label import job_label

    return job_label()


def _register_resolvers() -> None:
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))
    if not OmegaConf.has_resolver("add"):
        # Config arithmetic, e.g. one-hot input size = symbols + 1 marker.
        OmegaConf.register_new_resolver("add", lambda *values: sum(values))
    if not OmegaConf.has_resolver("mul"):
        # e.g. a caption image's pixels = 64 per digit × digits.
        OmegaConf.register_new_resolver("mul", lambda *values: math.prod(values))
    if not OmegaConf.has_resolver("run_id"):
        # Process id + random suffix: two jobs started in the same second still get separate directories.
        # Cached, so every reference within one config sees the same id.
        OmegaConf.register_new_resolver("run_id", lambda: f"{os.getpid()}-{secrets.token_hex(2)}", use_cache=True)
    if not OmegaConf.has_resolver("job_label"):
        # A multirun job's TensorBoard run name, from its overrides (rnnlab.run.job_label); empty in a single run.
        OmegaConf.register_new_resolver("job_label", _job_label)


_register_resolvers()


def family_of(head: str):
    """The task family (:func:`rnnlab.lit.family_of`), imported when first needed."""
    from rnnlab.lit import family_of

    return family_of(head)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _positive_int(cfg: DictConfig, key: str) -> None:
    value = OmegaConf.select(cfg, key)
    if value is None:
        return
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value > 0,
        f"{key}={value!r} must be a positive integer, e.g. {key}=16",
    )


def checkpoint_file(path: str | Path) -> Path:
    """``ckpt_path`` as the file it must name; :class:`ConfigError` if there is none."""
    path = Path(path)
    _require(path.is_file(), f"ckpt_path={path} does not exist; pass a .ckpt file from a run's checkpoints/ folder")
    return path


def check_checkpoint(cfg: DictConfig) -> None:
    """For the scripts that read a checkpoint: its file exists, refused in one line before the seconds of imports
    that loading it takes. A ``ckpt_path`` not given (``???``) is left to the settings schema, which names it."""
    if not OmegaConf.is_missing(cfg, "ckpt_path"):
        checkpoint_file(cfg.ckpt_path)


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first setting that cannot work, before anything is built."""
    # Here, not at the top: importing the models and Lightning takes seconds, and `--help` needs neither.
    from rnnlab.models import CELLS, IMPLS
    from rnnlab.models.cell import NONLINEARITIES
    from rnnlab.models.gate_init import check_gate_init, sequence_length
    from rnnlab.models.heads import check_task_head
    from rnnlab.run.schema import check  # every value's kind and range (rnnlab.run.schema), before what combines them

    # Lightning is imported only by the family's checks, last: a setting refused before them answers at once.
    check(cfg)

    model, task = cfg.model, cfg.task
    _require(model.cell in CELLS, f"model.cell={model.cell!r} is not one of {', '.join(CELLS)}")
    _require(model.impl in (*IMPLS, "auto"), f"model.impl={model.impl!r} is not one of {', '.join(IMPLS)}, auto")
    _require(
        model.nonlinearity in NONLINEARITIES,
        f"model.nonlinearity={model.nonlinearity!r} is not one of {', '.join(NONLINEARITIES)}",
    )
    _require(
        model.nonlinearity == "tanh" or model.cell == "rnn",
        f"model.nonlinearity={model.nonlinearity} only applies to cell=rnn; {model.cell} has fixed gates",
    )
    check_gate_init(model.cell, model.get("forget_bias"), model.get("gate_init", "default"), model.get("chrono_tmax"))
    if model.get("gate_init") == "chrono" and model.get("chrono_tmax") is None:
        length = sequence_length(task)
        _require(
            length is not None and length > 2,
            f"model.gate_init=chrono spans the task's sequence length, but task {task.name} has "
            + ("none fixed" if length is None else f"{length} step(s)")
            + "; set model.chrono_tmax (> 2, e.g. model.chrono_tmax=100)",
        )
    for key in (
        "task.gap",
        "task.num_symbols",
        "model.hidden_size",
        "model.num_layers",
        "task.seq_len",
        "task.vector_size",
        "task.data.length",
        "task.data.batch_size",
        "task.data.eval_batch_size",
    ):
        _positive_int(cfg, key)
    if model.get("gradients", "autograd") != "autograd":
        _require(model.gradients == "manual", f"model.gradients={model.gradients!r} is not one of autograd, manual")
        _require(
            model.cell == "rnn" and task.head == "many_to_many" and model.dropout == 0,
            "model.gradients=manual is the vanilla RNN's BPTT: it needs model.cell=rnn, a many-to-many task "
            f"and model.dropout=0 (got cell={model.cell}, head={task.head}, dropout={model.dropout})",
        )
    radius = model.get("recurrent_radius")
    _require(radius is None or radius > 0, f"model.recurrent_radius={radius} must be positive (or null)")
    for key in ("model.dropout", "model.output_dropout", "task.encoder.dropout"):
        value = OmegaConf.select(cfg, key)
        _require(value is None or 0.0 <= value < 1.0, f"{key}={value} must be in [0, 1)")
    alpha = OmegaConf.select(cfg, "task.encoder.word_dropout")
    _require(alpha is None or alpha >= 0, f"task.encoder.word_dropout={alpha} must be >= 0 (0: off)")
    _require(
        model.dropout == 0 or model.num_layers > 1,
        f"model.dropout={model.dropout} acts between layers; with model.num_layers=1 there is none "
        "(set model.num_layers>1 or model.dropout=0)",
    )
    check_task_head(task.head)
    _require(
        not (task.causal and model.bidirectional),
        f"task {task.name} is causal (each output may only see the past), but the model is bidirectional: its "
        "backward direction would read the future it must predict; use a unidirectional model such as "
        "model=rnn or model=lstm",
    )
    _validate_generation(cfg)
    fractions = OmegaConf.select(cfg, "task.data.fractions")
    if fractions is not None:
        _require(
            len(fractions) == 3 and all(f > 0 for f in fractions) and abs(sum(fractions) - 1) < 1e-6,
            f"task.data.fractions={list(fractions)} must be three positive shares (train, val, test) summing to 1",
        )
    for split, size in (OmegaConf.select(cfg, "task.data.sizes") or {}).items():
        _require(isinstance(size, int) and size > 0, f"task.data.sizes.{split}={size!r} must be a positive integer")
    # What the task's family allows (family_of imports Lightning).
    _validate_decoding(cfg)
    _validate_batches_per_step(cfg)


def _validate_batches_per_step(cfg: DictConfig) -> None:
    """Several batches per Lightning step: the classifiers' in-memory data only, and not with weight averaging,
    which Lightning updates once per step."""
    _positive_int(cfg, "task.data.batches_per_step")
    per_step = OmegaConf.select(cfg, "task.data.batches_per_step") or 1
    if per_step == 1:
        return
    _require(
        family_of(cfg.task.head).groups_batches,
        f"task.data.batches_per_step={per_step} applies to the classification tasks; task {cfg.task.name} "
        "takes one batch per step",
    )
    callbacks = cfg.get("callbacks") or {}
    for name, callback in callbacks.items():
        _require(
            not (callback and "WeightAveraging" in str(callback.get("_target_", ""))),
            f"task.data.batches_per_step={per_step} with callbacks.{name}: weight averaging updates once per "
            "Lightning step and would skip optimizer steps; set task.data.batches_per_step=1",
        )


def _validate_decoding(cfg: DictConfig) -> None:
    """The decoder's attention, and how eval.py decodes (``decode``, ``beam_size``, …): the generators only."""
    from rnnlab.lit.generator import SequenceGenerator, check_attention, check_decoding

    if cfg.task.get("decoder") is not None:
        check_attention(cfg.task)
    methods = cfg.get("decode")
    if methods is None:
        return
    for method in [methods] if isinstance(methods, str) else methods:
        check_decoding(method, cfg.get("beam_size"), cfg.get("length_penalty"), cfg.get("temperature"))
    _require(
        methods == "greedy" or family_of(cfg.task.head) is SequenceGenerator,
        f"decode={methods} applies to the tasks that write outputs (translate, caption); task {cfg.task.name} does not",
    )


def _validate_generation(cfg: DictConfig) -> None:
    """Settings of the character tasks: input encodings, truncated BPTT, sampling."""
    from rnnlab.models.generators import ENCODINGS

    for node in ("task", "task.decoder", "task.encoder"):
        encoding = OmegaConf.select(cfg, f"{node}.input_encoding")
        if encoding is None:
            continue
        _require(encoding in ENCODINGS, f"{node}.input_encoding={encoding!r} is not one of {', '.join(ENCODINGS)}")
        if encoding == "embedding":
            _positive_int(cfg, f"{node}.embedding_dim")
            _require(
                OmegaConf.select(cfg, f"{node}.embedding_dim") is not None,
                f"{node}.input_encoding=embedding needs {node}.embedding_dim (e.g. {node}.embedding_dim=64)",
            )
    for key in ("task.bptt", "task.data.window", "task.sample.length"):
        _positive_int(cfg, key)
    temperature = OmegaConf.select(cfg, "task.sample.temperature")
    _require(
        temperature is None or temperature > 0,
        f"task.sample.temperature={temperature} must be > 0 (small: nearly greedy, 1: the model's distribution)",
    )


# The solve tracker's metric (rnnlab.callbacks.SolveTracker), which improves downwards.
_CALLBACK_METRICS_LOWER_IS_BETTER = ("steps_to_solve",)


def logged_metrics(cfg: DictConfig) -> list[str]:
    """The final metrics a training run of ``cfg`` reports (those that ``optimized_metric`` may name): the task
    family's, and the solve tracker's when it is on."""
    names = family_of(cfg.task.head).logged_metrics(cfg.task)
    if OmegaConf.select(cfg, "callbacks.solve_tracker"):
        names.append("val/steps_to_solve")  # logged once the task is solved
    return names


def metric_direction(cfg: DictConfig, name: str) -> str:
    """``minimize`` for what improves downwards (a loss, bpc, perplexity, steps to solve), else ``maximize``."""
    lower = (*family_of(cfg.task.head).lower_is_better, *_CALLBACK_METRICS_LOWER_IS_BETTER)
    return "minimize" if name.rsplit("/", 1)[-1].removesuffix("_best") in lower else "maximize"


def check_optimized_metric(cfg: DictConfig) -> None:
    """A sweeper optimises ``optimized_metric``: raise :class:`ConfigError` if the run will not log it."""
    name = cfg.get("optimized_metric")
    if name is None:
        return
    logged = logged_metrics(cfg)
    _require(
        name in logged,
        f"optimized_metric={name!r} is not logged by task={cfg.task.name} (head {cfg.task.head}); "
        f"it logs: {', '.join(logged)}",
    )


def recipe_settings(name: str) -> dict[str, Any]:
    """The settings ``conf/recipe/<name>.yaml`` makes, its own defaults first, as dotted keys: ``model.hidden_size``.
    A node with a ``_target_`` (a callback or scheduler the recipe adds whole) is one setting."""
    recipe = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "recipe" / f"{name}.yaml"), resolve=False)
    settings: dict[str, Any] = {}
    for entry in recipe.pop("defaults", []):
        if entry != "_self_":
            settings |= recipe_settings(entry)

    def flatten(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and "_target_" not in node:
            for key, value in node.items():
                flatten(value, f"{prefix}{key}.")
        else:
            settings[prefix.removesuffix(".")] = node

    flatten(recipe, "")
    return settings


def describe_run(cfg: DictConfig, recipe: str | None) -> list[str]:
    """What a run trains, resolved, as the first lines it prints: the network, the optimizer, and what the task's
    recipe set (and which of its settings the command line changed)."""
    model, optimizer = cfg.model, cfg.optimizer
    layout = "bidirectional" if model.bidirectional else "unidirectional"
    dropout = f", dropout {model.dropout} between layers" if model.dropout else ""
    scheduler = cfg.get("scheduler")
    lines = [
        f"Model: {model.cell} ({model.impl}), {model.num_layers} layer(s) × {model.hidden_size} hidden, {layout}"
        f"{dropout}; optimizer {optimizer._target_.rsplit('.', 1)[-1]} lr={optimizer.lr}"
        + (f", scheduler {scheduler._target_.rsplit('.', 1)[-1]}" if scheduler else "")
    ]
    # An optional recipe: a task may have none (a choice with no file), and recipe=none turns it off.
    if recipe and recipe != "none" and (CONFIG_DIR / "recipe" / f"{recipe}.yaml").is_file():
        settings = []
        for key, value in recipe_settings(recipe).items():
            final = OmegaConf.select(cfg, key)
            if isinstance(value, dict):
                settings.append(key)
            elif final == value or (isinstance(value, str) and "${" in value):
                settings.append(f"{key}={final}")
            else:
                settings.append(f"{key}={final} (recipe: {value})")
        lines.append(f"Recipe conf/recipe/{recipe}.yaml set: {', '.join(settings)}; recipe=none keeps the groups' own")
    return lines
