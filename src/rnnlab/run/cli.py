"""Shared behaviour of the scripts/ entry points."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import RnnlabError


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """A mistake the user can fix (or a run that diverged) becomes one line on stderr and exit code 2, not a
    traceback."""
    try:
        yield
    except RnnlabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def key_hint(config_name: str, overrides: list[str]) -> str | None:
    """For an override of a key the configuration does not have (``model.hiden_size=64``), the nearest keys it
    does have; None when composing fails for another reason, or succeeds."""
    import difflib

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
    """Run a ``@hydra.main`` entry point; when Hydra rejects an override of an unknown key, add the nearest keys."""
    try:
        main()
    except SystemExit as exit_:
        if exit_.code == 1:
            hint = key_hint(config_name, [a for a in sys.argv[1:] if not a.startswith("-")])
            if hint:
                print(f"hint: {hint}", file=sys.stderr)
        raise
