"""What every user-settable value may be, checked before anything is built: :func:`check`.

One table, :data:`RULES`, maps dotted key patterns to a rule. In a pattern ``*`` stands for one key and ``**`` for
any number of them (``callbacks.*.patience``, ``**.dropout``); the first pattern that matches a key decides. A rule
(:mod:`rnnlab.run.rules`) names a kind and a range: :class:`Int`, :class:`Number` (ends open or closed),
:class:`Bool`, :class:`Choice`, :class:`Text`, :class:`Duration` (Lightning's ``max_time``), :class:`ListOf`,
:class:`Node` (a group of settings), combined with :class:`Optional` (null allowed) and :class:`AnyOf`.
:class:`Checked` states the rule of a key that another check enforces, with its own one-line message that the docs
quote (``rnnlab.run.config.validate``, a script's settings check): here only the value's kind is checked, since that
check would stumble over a wrong kind. :class:`Free` keys (class paths, strategies) may hold anything.

A key no pattern names keeps the kind it has in the *reference*: the same config file composed with the same group
choices (``task=…``, ``model=…``, ``experiment=…``) but none of the command line's key overrides. A number stays a
number (an integer and a float are interchangeable; the table says where only an integer will do), a bool a bool,
text text or a number, a list a list of the reference's item kind, a group of settings a group; null where the
reference holds null, or the table says so. Values are compared after resolution: first those written
literally, then those interpolated from outside the config (``${add:${hydra:job.num},-0.99}``, ``${oc.env:…}``); a
value copied or computed from other keys (``${task.gap}``, ``${add:${task.num_symbols},1}``) is judged at those keys,
so that a bad value is reported at the key it was given to. Inside a Hydra job the group choices come from Hydra's
record of the command line; composed without one (tests, notebooks) it is the config file whose own keys ``cfg``
holds, with the task's choice and the other groups' defaults, whose keys agree in kind with every other group
option's except those the table names (tested).

Each failure raises :class:`~rnnlab.errors.ConfigError` with one line naming the key, the value, what is allowed and
an example (the reference's value where it is allowed):
``trainer.max_epochs='abc' must be an integer >= -1 (-1: no limit), e.g. trainer.max_epochs=60``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from rnnlab.data.long_range import CUES
from rnnlab.data.raw_text import TOKENIZERS
from rnnlab.errors import ConfigError
from rnnlab.models import CELLS, IMPLS, TASK_HEADS
from rnnlab.models.cell import NONLINEARITIES
from rnnlab.models.gate_init import GATE_INITS
from rnnlab.models.generators import ENCODINGS
from rnnlab.run.paths import CONFIG_DIR
from rnnlab.run.rules import (
    AnyOf,
    Bool,
    Checked,
    Choice,
    Duration,
    Free,
    Int,
    ListOf,
    Node,
    Number,
    Optional,
    Rule,
    Text,
    is_number,
    shown,
)

# Lightning's accepted values (lightning.fabric.connector's _PRECISION_INPUT; the accelerator registry and its
# aliases), spelled as Hydra parses them: `trainer.precision=16` is the integer 16.
PRECISIONS = (64, 32, 16, "64", "32", "16", "bf16", "64-true", "32-true", "16-true", "bf16-true", "16-mixed",
              "bf16-mixed", "transformer-engine", "transformer-engine-float16")  # fmt: skip
SEED_MAX = 2**32 - 1  # numpy's seed range, which Lightning's seed_everything keeps to


@functools.cache
def _accelerators() -> tuple[str, ...]:
    # Read when a configuration names an unusual one: importing Lightning takes seconds that show_data.py, and a
    # bad setting's one line, need not wait for.
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return (*sorted(AcceleratorRegistry.available_accelerators()), "gpu", "auto")


# --- the table ---------------------------------------------------------------------------------------------------

VALIDATE = "rnnlab.run.config.validate"
POSITIVE = Int(1)
PROBABILITY = Number(0, 1, max_open=True)  # dropout rates
BATCHES = AnyOf((Int(0), Number(0.0, 1.0)))  # Lightning's limit_*_batches: a count, or a fraction of the epoch
NULL_NO_LIMIT = "null: no limit"
CONLLU_FILES = AnyOf((Text(), ListOf(Text(), min_length=1)))

RULES: tuple[tuple[str, Rule], ...] = (
    # Hydra's and instantiate's own keys.
    ("hydra", Free()),
    ("**._*_", Free()),
    # Top level: the scripts' own settings.
    ("seed", Int(0, SEED_MAX)),
    (
        "threads",
        Checked(AnyOf((Choice(("auto",)), Int(1)), what="auto or a positive integer"), by="rnnlab.run.threads"),
    ),
    ("train", Bool()),
    ("test", Bool()),
    ("trust_checkpoint", Bool()),
    ("greedy", Bool()),
    ("ckpt_path", Optional(Text(what="a checkpoint path (or last)", example="outputs/<run>/checkpoints/last.ckpt"))),
    ("optimized_metric", Optional(Text())),
    ("scheduler", Optional(Node(), null="no scheduler")),
    ("callbacks", Optional(Node())),
    ("logger", Optional(Node())),
    ("text", Free()),  # predict.py reads it as str(text): `text=1998` is a text too
    ("prime", Optional(Text(empty=True, what="text (quote digits: 'prime=\"1\"')"))),
    ("length", Checked(Optional(Int(1)), by="predict.py (rnnlab.lit.language_model)")),
    ("temperature", Checked(Optional(Number(0, min_open=True)), by="rnnlab.lit.generator.check_decoding, predict.py")),
    ("length_penalty", Checked(Optional(Number(0)), by="rnnlab.lit.generator.check_decoding")),
    ("beam_size", Checked(Optional(Int(1)), by="rnnlab.lit.generator.check_decoding")),
    ("decode", Optional(AnyOf((Text(), ListOf(Text(), min_length=1))))),
    ("index", Checked(Int(0), by="predict.py (rnnlab.lit.generator.caption)")),
    ("steps", Checked(Int(1), by="scripts/unroll.py")),
    # The optimizer (torch.optim's own checks, as one line).
    ("optimizer.lr", Number(0, min_open=True)),
    ("optimizer.weight_decay", Number(0)),
    ("optimizer.momentum", Number(0)),
    ("optimizer.dampening", Number(0, 1)),
    ("optimizer.eps", Number(0)),
    ("optimizer.alpha", Number(0)),
    ("optimizer.rho", Number(0, 1)),
    ("optimizer.lr_decay", Number(0)),
    ("optimizer.initial_accumulator_value", Number(0)),
    ("optimizer.betas", ListOf(Number(0, 1, max_open=True), length=2)),
    ("optimizer.nesterov", Bool()),
    ("optimizer.amsgrad", Bool()),
    ("optimizer.maximize", Bool()),
    ("optimizer.centered", Bool()),
    ("optimizer.foreach", Optional(Bool())),
    ("optimizer.fused", Optional(Bool())),
    # The scheduler: ReduceLROnPlateau's arguments, and the step and cosine schedules'.
    ("scheduler.factor", Number(0, 1, min_open=True, max_open=True)),
    ("scheduler.patience", Int(0)),
    ("scheduler.cooldown", Int(0)),
    ("scheduler.threshold", Number(0)),
    ("scheduler.min_lr", Number(0)),
    ("scheduler.eps", Number(0)),
    ("scheduler.mode", Choice(("min", "max"))),
    ("scheduler.threshold_mode", Choice(("rel", "abs"))),
    ("scheduler.step_size", Int(1)),
    ("scheduler.gamma", Number(0, min_open=True)),
    ("scheduler.T_max", Int(1)),
    ("scheduler.eta_min", Number(0)),
    ("scheduler.milestones", ListOf(Int(0))),
    ("scheduler.last_epoch", Int(-1)),
    # Lightning's Trainer.
    ("trainer.max_epochs", Int(-1, note="-1: no limit")),
    ("trainer.min_epochs", Optional(Int(0))),
    ("trainer.max_steps", Int(-1, note="-1: no limit")),
    ("trainer.min_steps", Optional(Int(0))),
    ("trainer.max_time", Optional(Duration(), null=NULL_NO_LIMIT)),
    (
        "trainer.val_check_interval",
        Optional(
            AnyOf((Number(0, 1, min_open=True, note="a share of the epoch"), Int(1, note="every n batches"))),
            null="at each epoch's end",
        ),
    ),
    ("trainer.check_val_every_n_epoch", Optional(Int(1))),
    ("trainer.log_every_n_steps", Optional(Int(0, note="0: never"))),
    ("trainer.gradient_clip_val", Optional(Number(0), null="no clipping")),
    ("trainer.gradient_clip_algorithm", Optional(Choice(("norm", "value")))),
    ("trainer.precision", Optional(Choice(PRECISIONS))),
    ("trainer.accelerator", Choice(_accelerators, usual=("auto", "cpu", "gpu", "cuda"))),
    (
        "trainer.devices",
        AnyOf(
            (
                Int(1),
                Choice((-1, "-1", "auto")),
                ListOf(Int(0), min_length=1),
                Text(pattern=r"\d+(,\d+)*,?"),
            ),
            what="a number of devices (-1: all), auto, or device indices as a list [0,1] or a text '0,1'",
        ),
    ),
    ("trainer.num_nodes", Int(1)),
    ("trainer.strategy", Free()),
    ("trainer.deterministic", Optional(AnyOf((Bool(), Choice(("warn",)))))),
    ("trainer.benchmark", Optional(Bool())),
    ("trainer.fast_dev_run", AnyOf((Bool(), Int(0)))),
    ("trainer.overfit_batches", BATCHES),
    ("trainer.limit_*_batches", Optional(BATCHES)),
    ("trainer.num_sanity_val_steps", Optional(Int(-1, note="-1: all"))),
    ("trainer.accumulate_grad_batches", Int(1)),
    ("trainer.reload_dataloaders_every_n_epochs", Int(0)),
    ("trainer.enable_*", Optional(Bool())),
    ("trainer.use_distributed_sampler", Bool()),
    ("trainer.inference_mode", Bool()),
    ("trainer.detect_anomaly", Bool()),
    ("trainer.barebones", Bool()),
    ("trainer.sync_batchnorm", Bool()),
    ("trainer.default_root_dir", Optional(Text())),
    ("trainer.plugins", Free()),
    ("trainer.profiler", Free()),
    # The network (rnnlab.run.config.validate checks most of model.*, its lines quoted by the docs).
    ("model.cell", Checked(Choice(CELLS), by=VALIDATE)),
    ("model.impl", Checked(Choice((*IMPLS, "auto")), by=VALIDATE)),
    ("model.nonlinearity", Checked(Choice(NONLINEARITIES), by=VALIDATE)),
    ("model.gate_init", Checked(Choice(GATE_INITS), by=VALIDATE)),
    ("model.gradients", Checked(Choice(("autograd", "manual")), by=VALIDATE)),
    ("model.hidden_size", Checked(POSITIVE, by=VALIDATE)),
    ("model.num_layers", Checked(POSITIVE, by=VALIDATE)),
    ("model.dropout", Checked(PROBABILITY, by=VALIDATE)),
    ("model.output_dropout", Checked(PROBABILITY, by=VALIDATE)),
    ("model.recurrent_radius", Checked(Optional(Number(0, min_open=True)), by=VALIDATE)),
    ("model.forget_bias", Checked(Optional(Number()), by="rnnlab.models.gate_init.check_gate_init")),
    ("model.chrono_tmax", Checked(Optional(Number(2, min_open=True)), by="rnnlab.models.gate_init.check_gate_init")),
    ("model.bidirectional", Bool()),
    ("model.compile", Bool()),
    # The task: sizes, lengths, shares, and what the data modules read.
    ("task.name", Text()),
    ("task.head", Checked(Choice(TASK_HEADS), by="rnnlab.lit.family_of")),
    ("task.gap", Checked(POSITIVE, by=VALIDATE)),
    ("task.num_symbols", Checked(POSITIVE, by=VALIDATE)),
    ("task.seq_len", Checked(POSITIVE, by=VALIDATE)),
    ("task.vector_size", Checked(POSITIVE, by=VALIDATE)),
    ("task.bptt", Checked(POSITIVE, by=VALIDATE)),
    ("task.input_encoding", Checked(Choice(ENCODINGS), by=VALIDATE)),
    ("task.*.input_encoding", Checked(Choice(ENCODINGS), by=VALIDATE)),
    ("task.input_size", Optional(POSITIVE)),
    ("task.num_classes", Optional(POSITIVE)),
    ("task.num_outputs", Optional(POSITIVE)),
    ("task.num_cues", Optional(POSITIVE, null="half of task.num_symbols")),
    ("task.cue", Choice(CUES)),
    ("task.causal", Bool()),
    ("task.per_class", Bool()),
    ("task.stopping_threshold", Optional(Number(), null="stop on patience only")),
    ("task.monitor_mode", Choice(("min", "max"))),
    ("task.stop_mode", Choice(("min", "max"))),
    ("task.embedding_dim", Optional(POSITIVE)),
    ("task.*.embedding_dim", Optional(POSITIVE)),
    ("task.sample.length", Checked(POSITIVE, by=VALIDATE)),
    ("task.sample.temperature", Checked(Optional(Number(0, min_open=True), null="greedy"), by=VALIDATE)),
    ("task.sample.prime", Text(empty=True)),
    ("task.encoder.dropout", Checked(PROBABILITY, by=VALIDATE)),
    ("task.encoder.word_dropout", Checked(Number(0), by=VALIDATE)),
    ("task.encoder.*_dim", POSITIVE),
    ("task.encoder.char_hidden", POSITIVE),
    ("task.encoder.features", POSITIVE),
    ("task.encoder.in_features", POSITIVE),
    ("task.decoder.context", Bool()),
    ("task.data.sizes.*", Checked(POSITIVE, by=VALIDATE)),
    ("task.data.fractions", Checked(ListOf(Number(0, 1, min_open=True), length=3), by=VALIDATE)),
    ("task.data.length", Checked(POSITIVE, by=VALIDATE)),
    ("task.data.batch_size", Checked(POSITIVE, by=VALIDATE)),
    ("task.data.eval_batch_size", Checked(POSITIVE, by=VALIDATE)),
    ("task.data.batches_per_step", Checked(POSITIVE, by=VALIDATE)),
    ("task.data.window", Checked(POSITIVE, by=VALIDATE)),
    ("task.data.seed", Int(0, SEED_MAX)),
    ("task.data.split_seed", Int(0, SEED_MAX)),
    ("task.data.gap", POSITIVE),
    ("task.data.num_symbols", POSITIVE),
    ("task.data.seq_len", POSITIVE),
    ("task.data.num_cues", Optional(POSITIVE)),
    ("task.data.cue", Choice(CUES)),
    ("task.data.max_words", Optional(POSITIVE, null=NULL_NO_LIMIT)),
    ("task.data.max_word_chars", Optional(POSITIVE, null=NULL_NO_LIMIT)),
    ("task.data.min_digits", POSITIVE),
    ("task.data.max_digits", POSITIVE),
    ("task.data.first_year", Int(1, 9999)),
    ("task.data.last_year", Int(1, 9999)),
    ("task.data.initial_output", Choice((0, 1))),
    ("task.data.disjoint", Bool()),
    ("task.data.resample", Bool()),
    ("task.data.download", Free()),
    # Tagging: each split is one CoNLL-U file or a list of them (rnnlab.data.tagging); how predict.py splits text.
    ("task.data.train_file", CONLLU_FILES),
    ("task.data.dev_file", CONLLU_FILES),
    ("task.data.test_file", Optional(CONLLU_FILES, null="no test split")),
    ("task.tokenizer", Choice(TOKENIZERS)),
    ("tokenizer", Optional(Choice(TOKENIZERS), null="the checkpoint's task.tokenizer")),
    # Callbacks and loggers: each may be removed (null); their numbers where simple.
    ("callbacks.*", Optional(Node(), null="off")),
    ("callbacks.*.patience", Int(0)),
    ("callbacks.*.min_delta", Number()),
    ("callbacks.*.stopping_threshold", Optional(Number())),
    ("callbacks.*.divergence_threshold", Optional(Number())),
    ("callbacks.*.mode", Choice(("min", "max"))),
    ("callbacks.*.save_top_k", Int(-1, note="-1: all")),
    ("callbacks.*.save_last", Optional(AnyOf((Bool(), Choice(("link",)))))),
    ("callbacks.*.every_n_epochs", Optional(Int(0))),
    ("callbacks.*.every_n_train_steps", Optional(Int(0))),
    ("callbacks.*.n", Int(0)),
    ("callbacks.*.samples", Int(0)),
    ("callbacks.*.max_examples", POSITIVE),
    ("callbacks.*.redraws_per_second", Number(0, min_open=True)),
    ("callbacks.*.write_every_s", Number(0)),
    ("callbacks.*.figure_every_s", Number(0)),
    ("callbacks.*.threshold", Number()),
    ("callbacks.*.decay", Number(0, 1, min_open=True, max_open=True)),
    ("callbacks.*.logging_interval", Optional(Choice(("step", "epoch")))),
    ("callbacks.*.check_on_train_epoch_end", Optional(Bool())),
    ("logger.*", Optional(Node(), null="off")),
    ("logger.*.log_graph", Bool()),
    ("logger.*.default_hp_metric", Bool()),
)

_PATTERNS = tuple(
    (re.compile(re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^.]*")), rule) for pattern, rule in RULES
)


@functools.lru_cache(maxsize=4096)
def rule_for(key: str) -> Rule | None:
    """The table's rule for a dotted key (the first pattern that matches it), or None."""
    return next((rule for pattern, rule in _PATTERNS if pattern.fullmatch(key)), None)


# --- the reference: the same group choices, no key overrides ------------------------------------------------------


def chooses_config(override: Any) -> bool:
    """A parsed override that picks a config file of a group (``task=pos``, ``+experiment=x``), not a key's value."""
    key = override.key_or_group
    return not override.is_delete() and not key.startswith("hydra") and (CONFIG_DIR / key).is_dir()


def _composition(cfg: DictConfig) -> tuple[str, tuple[str, ...]]:
    """(config name, group-choice overrides) the reference is composed from."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    task = OmegaConf.select(cfg, "task.name", default=None)
    # Hydra's record, if it is this cfg's: it outlives its job in the process (a notebook, a test suite), so a cfg
    # composed later must not be judged against an earlier job's config file.
    if HydraConfig.initialized() and _own_keys().get(HydraConfig.get().job.config_name, {None}) <= set(cfg.keys()):
        hydra = HydraConfig.get()
        parsed = OverridesParser.create().parse_overrides(list(hydra.overrides.task))
        chosen = tuple(o.input_line for o in parsed if chooses_config(o))
        if all(o.split("=", 1)[1] == task for o in chosen if o.lstrip("+").startswith("task=")):
            return hydra.job.config_name, chosen
    known = isinstance(task, str) and (CONFIG_DIR / "task" / f"{task}.yaml").is_file()
    return _config_name(cfg), (f"task={task}",) if known else ()


@functools.cache
def _own_keys() -> dict[str, frozenset[str]]:
    """The top-level keys each config file of conf/ sets itself (not its groups')."""
    return {
        path.stem: frozenset(key for key in OmegaConf.load(path) if key not in ("defaults", "hydra"))
        for path in CONFIG_DIR.glob("*.yaml")
    }


def _config_name(cfg: DictConfig) -> str:
    """Which of conf/*.yaml ``cfg`` was composed from, without Hydra's record: the one with the most keys of its
    own, all present in ``cfg`` (train.yaml's ``train``, eval.yaml's ``split``, unroll.yaml's ``steps``, …)."""
    present = set(cfg.keys())
    fits = [(len(own), name) for name, own in _own_keys().items() if own <= present]
    return max(fits)[1] if fits else "train"


@functools.lru_cache(maxsize=32)
def composed(config_name: str, choices: tuple[str, ...]) -> DictConfig:
    """``config_name`` composed with group-choice overrides only (cached: the scripts' override check composes it
    before the job starts, and the job's check finds it here)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    hydra = GlobalHydra.instance()
    if hydra.is_initialized():  # inside a Hydra job: its own loader, on the same config directory
        return hydra.hydra.compose_config(config_name, list(choices), run_mode=RunMode.RUN, from_shell=False)
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name, list(choices))


def reference(cfg: DictConfig) -> DictConfig | None:
    """``cfg``'s config composed with its group choices only; None where that cannot be composed."""
    try:
        return composed(*_composition(cfg))
    except Exception:  # the reference only sharpens the check; composing it must never be what fails a run
        return None


# --- the check ---------------------------------------------------------------------------------------------------

_MISSING = object()  # a key the reference lacks, or cannot resolve


def _get(node: Any, name: Any) -> Any:
    """``node[name]`` resolved, or _MISSING."""
    if not isinstance(node, DictConfig) or name not in node:
        return _MISSING
    try:
        value = node[name]
        return OmegaConf.to_container(value, resolve=True) if isinstance(value, ListConfig) else value
    except Exception:  # e.g. ${hydra:…} outside a Hydra job
        return _MISSING


def kind_of(value: Any) -> str | None:
    """What the fallback compares: "a number" (an int or a float), "true or false", "text", "a list", …"""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true or false"
    if is_number(value):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | ListConfig):
        return "a list"
    return "a group of settings" if isinstance(value, DictConfig | dict) else type(value).__name__


def _same_kind(key: str, value: Any, ref: Any) -> None:
    """A key the table does not name: the kind of the reference's value (nothing to compare against null)."""
    if ref is _MISSING or ref is None:
        return
    wanted = kind_of(ref)
    example = f", e.g. {key}={shown(ref, quote=False)}" if not isinstance(ref, DictConfig) else f" like {key}.…=…"
    # Where the reference holds text a number may do too (threads=auto or threads=2; Hydra reads `2` as a number).
    if kind_of(value) != wanted and not (wanted == "text" and is_number(value)):
        raise ConfigError(f"{key}={shown(value)} must be {wanted}{example}")
    if isinstance(ref, list) and ref:
        kinds = {kind_of(item) for item in ref}
        if len(kinds) == 1 and not all(kind_of(item) in kinds for item in value):
            raise ConfigError(f"{key}={shown(value)} must be a list of items, each {kinds.pop()}{example}")


def _example(rule: Rule, ref: Any) -> Any:
    allowed = ref is not _MISSING and ref is not None and not isinstance(ref, DictConfig) and rule.ok(ref)
    return ref if allowed else rule.example


def _holds_settings(rule: Rule) -> bool:
    return isinstance(rule, Node) or (isinstance(rule, Optional) and isinstance(rule.rule, Node))


def _check_node(node: DictConfig, ref_node: Any, prefix: str, derived: bool, within: bool = False) -> Iterator[str]:
    """Raise for the first value of ``node`` that breaks its rule; yield each key judged. ``derived``: judge the
    values interpolated from elsewhere (``${task.gap}``, ``${add:…}``), else the values given literally; the
    literal ones go first, so a bad value is reported at the key it was given to. ``within``: ``node`` itself was
    interpolated."""
    for name in node:
        key = f"{prefix}{name}"
        rule = rule_for(key)
        if isinstance(rule, Free):
            continue
        if OmegaConf.is_missing(node, name):
            example = shown(rule.example, quote=False) if rule and rule.example is not None else "…"
            raise ConfigError(f"{key} is not set (???): give it on the command line, e.g. {key}={example}")
        interpolated = within or OmegaConf.is_interpolation(node, name)
        if interpolated and not within and _refers_to_keys(node, name):
            continue  # a copy of, or a sum over, other keys: judged at those
        value = _get(node, name)
        if value is _MISSING:
            continue  # it cannot be resolved here; whatever reads it will say why
        ref = _get(ref_node, name)
        if interpolated == derived:
            yield key
            try:
                if rule is None:
                    _same_kind(key, value, ref)
                elif not rule.ok(value):
                    raise ConfigError(rule.message(key, value, _example(rule, ref)))
            except ConfigError as error:
                if not derived:
                    raise
                raise ConfigError(f"{error} ({key} is {shown(_raw(node, name), quote=False)})") from None
        if isinstance(value, DictConfig) and (rule is None or _holds_settings(rule)):
            yield from _check_node(
                value, ref if isinstance(ref, DictConfig) else None, f"{key}.", derived, interpolated
            )


def _raw(node: DictConfig, name: Any) -> Any:
    """What the config wrote at ``node[name]``, interpolations unresolved."""
    return OmegaConf.to_container(node, resolve=False)[name]


def _refers_to_keys(node: DictConfig, name: Any) -> bool:
    """An interpolation that reads other keys (``${task.gap}``, ``${add:${task.num_symbols},1}``), not only
    resolvers of constants, the environment or Hydra's runtime (``${add:${hydra:job.num},-0.99}``)."""
    return re.search(r"\$\{(?!\s*[\w.-]+:)", str(_raw(node, name))) is not None


def _judged(cfg: DictConfig) -> Iterator[str]:
    ref = reference(cfg)
    yield from _check_node(cfg, ref, "", derived=False)
    yield from _check_node(cfg, ref, "", derived=True)


def checked_keys(cfg: DictConfig) -> list[str]:
    """Every key :func:`check` judges in ``cfg`` (raises like it)."""
    return list(_judged(cfg))


def check(cfg: DictConfig) -> None:
    """Raise :class:`~rnnlab.errors.ConfigError`, one line, for the first value whose kind or range is not allowed."""
    for _ in _judged(cfg):
        pass
