"""What a job of a multirun is called in TensorBoard: the overrides that set it apart from the sweep's other jobs.

TensorBoard names a run by its directory under ``--logdir``: ``0/tensorboard``, ``1/tensorboard`` … for a sweep's
numbered jobs. ``conf/logger/tensorboard.yaml`` sets the logger's version (a subdirectory) to :func:`job_label`,
so the runs read ``0/tensorboard/model=rnn,seed=1``. The label holds the job's own command-line overrides without
those every job of the sweep shares (the fixed ones of the sweep's ``multirun.yaml``): the swept values of a grid,
the sampled ones of an Optuna trial. Outside a multirun it is empty, and a single run's layout is unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MAX_LENGTH = 120  # a directory name; longer labels are cut and keep a hash of the whole, so they stay distinct


def _identity(override) -> tuple[str, str | None]:
    """What an override sets, however it was written: a job's ``~key=null`` deletes what the sweep's ``~key`` does."""
    return override.get_key_element(), None if override.is_delete() else override.get_value_element_as_str()


def _parse(overrides: list[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(overrides)


def shared_overrides(sweep_dir: Path) -> set[tuple[str, str | None]]:
    """What the sweep's command sets for every job (``seed=1``, not the swept ``model=rnn,gru``), as (key, value)
    pairs; nothing if its ``multirun.yaml`` cannot be read."""
    from omegaconf import OmegaConf

    try:
        parsed = _parse(list(OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.task))
    except Exception:  # no record, or one from another Hydra: label with every override
        return set()
    return {_identity(override) for override in parsed if not override.is_sweep_override()}


def safe_name(label: str) -> str:
    """``label`` as one directory name: no path separator, at most MAX_LENGTH characters."""
    label = label.replace("/", "_")
    if len(label) <= MAX_LENGTH:
        return label
    digest = hashlib.sha1(label.encode()).hexdigest()[:8]
    return f"{label[: MAX_LENGTH - 9]}~{digest}"


def label_of(own: list[str], shared: set[tuple[str, str | None]]) -> str:
    """The job's overrides that not every job shares, sorted as Hydra's ``override_dirname`` sorts them."""
    kept = [override.input_line for override in _parse(own) if _identity(override) not in shared]
    return safe_name(",".join(sorted(kept)))


def job_label() -> str:
    """This job's label in a multirun (see the module's docstring); empty in a single run or outside Hydra."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return ""
    hydra = HydraConfig.get()
    job_dir = Path(hydra.runtime.output_dir)
    # The sweep's record sits above the job's directory (hydra.sweep.subdir may nest it deeper than one level).
    sweep_dir = next((d for d in job_dir.parents if (d / "multirun.yaml").is_file()), job_dir.parent)
    return label_of(list(hydra.overrides.task), shared_overrides(sweep_dir))
