"""Shared behaviour of the scripts/ entry points: a mistake the user can fix is one line (and a hint) on stderr and
exit code 2, and leaves no run directory behind."""

from __future__ import annotations

import difflib
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError, RnnlabError

MULTIRUN_FLAGS = ("-m", "--multirun")


class OverrideError(ConfigError):
    """A command-line override Hydra cannot apply (an unknown config choice or key); ``hint``: what is near."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """A mistake the user can fix (or a run that diverged) becomes one line on stderr and exit code 2, not a
    traceback; a run directory that holds nothing but Hydra's own files goes with it."""
    try:
        yield
    except RnnlabError as error:
        print(f"error: {error}", file=sys.stderr)
        if getattr(error, "hint", None):
            print(f"hint: {error.hint}", file=sys.stderr)
        remove_unused_run_dir()
        sys.exit(2)


def remove_unused_run_dir() -> Path | None:
    """Hydra creates a job's directory before the job starts. When a single run stops before writing anything,
    the directory holds only Hydra's files (``.hydra/`` and the job's log): remove it, and the folders above it
    that it leaves empty up to ``paths.log_dir``; return its path. A job of a multirun keeps its directory, where
    :func:`rnnlab.sweeps.jobs.record_failure` writes ``failed.json``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        if not HydraConfig.initialized():
            return None
        hydra = HydraConfig.get()
        subdir = hydra.output_subdir  # null: the job writes no directory (predict.py, show_data.py)
        if hydra.mode == RunMode.MULTIRUN or not subdir:
            return None
        run_dir = Path(hydra.runtime.output_dir).resolve()
        if run_dir == Path.cwd().resolve() or run_dir in Path.cwd().resolve().parents:
            return None  # hydra.run.dir=. : where the user stands is not Hydra's to remove
        entries = list(run_dir.iterdir())
        if not (run_dir / subdir).is_dir() or any(
            path.name != subdir and not (path.is_file() and path.suffix == ".log") for path in entries
        ):
            return None
        # The job's saved config says where runs go; the folders between there and the run are Hydra's too.
        log_dir = Path(OmegaConf.select(OmegaConf.load(run_dir / subdir / "config.yaml"), "paths.log_dir")).resolve()
        shutil.rmtree(run_dir)
        parent = run_dir.parent
        while log_dir in parent.parents and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return run_dir
    except Exception:  # tidying up must never hide the error being reported
        return None


def _group_words(group: str) -> tuple[str, str]:
    """("a task", "tasks") for the group task, ("an experiment", "experiments"), ("a callback", "callbacks")."""
    noun = group.rsplit("/", 1)[-1].removesuffix("s")
    article = "an" if noun[:1] in "aeiou" else "a"
    return f"{article} {noun}", noun + ("es" if noun.endswith(("s", "h")) else "s")


def _check_choice(override: Any) -> None:
    """An override that picks a config file of a group (``task=pos``, ``-m model=rnn,gru``) must name one."""
    from rnnlab.run.config import CONFIG_DIR
    from rnnlab.run.schema import chooses_config

    if not chooses_config(override):
        return
    group = override.key_or_group
    folder = CONFIG_DIR / group
    try:
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
    except Exception:  # a glob or range of files: Hydra expands and checks it
        return
    available = sorted(path.stem for path in folder.glob("*.yaml"))
    for value in values:
        if value is None or (folder / f"{value}.yaml").is_file():
            continue
        one, many = _group_words(group)
        close = difflib.get_close_matches(str(value), available, n=1)
        guess = f": did you mean {close[0]}?" if close else ""
        raise OverrideError(f"{group}={value} is not {one}{guess} ({many}: {', '.join(available)})")


def _first_values(parsed: Sequence[Any]) -> list[str]:
    """The overrides with each sweep replaced by its first value (one job's worth: enough to find unknown keys);
    a sweep that cannot be enumerated (an Optuna interval) is left out."""
    single = []
    for override in parsed:
        if not override.is_sweep_override():
            single.append(override.input_line)
            continue
        try:
            first = next(iter(override.sweep_string_iterator()))
        except Exception:
            continue
        prefix = "~" if override.is_delete() else "+" if override.is_add() else ""
        single.append(f"{prefix}{override.get_key_element()}={first}")
    return single


def _has_key(cfg: DictConfig, key: str) -> bool | None:
    """Whether ``cfg`` has the dotted ``key``; None when that cannot be told without applying the overrides."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig):
            return None
        if part not in node:
            return False
        try:
            node = node[part]
        except Exception:  # an interpolation only the job resolves
            return None
    return True


def check_overrides(config_name: str, args: Sequence[str]) -> None:
    """Raise :class:`OverrideError` for a command-line override Hydra would refuse as an unknown config choice
    (``task=flip_strem``) or an unknown key (``model.hiden_size=64``), before Hydra prints its block of text.
    Other mistakes (syntax, values) are left to Hydra and to the run's own checks.

    The keys are looked up in the config composed with the group choices alone, which the job's value check
    (:func:`rnnlab.run.schema.check`) composes anyway and finds cached; only when a key is not found does Hydra
    compose with every override, for its own message."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from rnnlab.run.config import CONFIG_DIR
    from rnnlab.run.schema import chooses_config, composed

    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides([a for a in args if a not in MULTIRUN_FLAGS])
    except HydraException:
        return  # Hydra's message shows where the syntax breaks
    for override in parsed:
        _check_choice(override)
    overrides = _first_values(parsed)
    single = parser.parse_overrides(overrides)
    keys = [
        o.key_or_group
        for o in single
        if not (
            chooses_config(o) or o.is_add() or o.is_force_add() or o.is_delete() or o.key_or_group.startswith("hydra")
        )
    ]
    choices = tuple(o.input_line for o in single if chooses_config(o))
    try:
        known = all(_has_key(composed(config_name, choices), key) for key in keys)
    except Exception:  # Hydra says what is wrong when it composes below, or when the job starts
        known = False
    if known:
        return
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        try:
            compose(config_name, overrides=overrides)
            return
        except HydraException as error:
            message = str(error).strip().splitlines()[0]
    if re.search(r"Could not override '([^']+)'", message):
        raise OverrideError(message, key_hint(config_name, overrides))


def key_hint(config_name: str, overrides: list[str]) -> str | None:
    """For an override of a key the configuration does not have (``model.hiden_size=64``), the nearest keys it
    does have; None when composing fails for another reason, or succeeds."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    from rnnlab.run.config import CONFIG_DIR

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        try:
            compose(config_name, overrides=overrides)
            return None
        except HydraException as error:
            match = re.search(r"Could not override '([^']+)'", str(error))
        if not match:
            return None
        key = match.group(1)
        others = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key]
        try:
            cfg = compose(config_name, overrides=others)
        except HydraException:
            return None
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if not isinstance(node, DictConfig):
        return None
    keys = [k for k in node if not k.startswith("_")]  # not Hydra's _target_ / _partial_
    close = [f"{parent}.{k}" if parent else k for k in difflib.get_close_matches(leaf, keys, n=3)]
    if close:
        return f"{key} is not a setting: did you mean {' or '.join(close)}? (+{key}=… would add it as a new key)"
    return f"{key} is not a setting; {parent or 'the config'} has {', '.join(keys)}"


def run_with_hints(main, config_name: str) -> None:
    """Run a ``@hydra.main`` entry point. An unknown config choice or key on the command line is one line and a
    hint, exit code 2, before Hydra starts (and makes a run directory). With Hydra's own flags (``--cfg``, ``-c``,
    …) Hydra checks the overrides itself; then an unknown key gets the hint after Hydra's message."""
    args = sys.argv[1:]
    if all(not arg.startswith("-") or arg in MULTIRUN_FLAGS for arg in args):
        with exit_on_user_error():
            check_overrides(config_name, args)
    try:
        main()
    except SystemExit as exit_:
        if exit_.code == 1:
            hint = key_hint(config_name, [a for a in args if not a.startswith("-")])
            if hint:
                print(f"hint: {hint}", file=sys.stderr)
        raise
