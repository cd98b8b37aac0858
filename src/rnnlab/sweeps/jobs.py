"""What a job of a Hydra multirun (``-m``) does differently from a single run: a failure is recorded, not fatal.

A single run lets an error end the process (one line and exit code 2 for a user error). In a multirun that
would end the whole sweep, so a job that raises instead logs the traceback to its ``train.log``, writes
``failed.json`` (the error's type and message) into its directory, where :mod:`rnnlab.sweeps.summary` finds
it, and returns NaN to the sweeper, which goes on with the next job.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

FAILED_FILE = "failed.json"

log = logging.getLogger("rnnlab")


def is_multirun() -> bool:
    """True inside a job that Hydra started with ``-m``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_failure(output_dir: str | Path, error: BaseException) -> Path:
    """Log ``error`` with its traceback and write ``<output_dir>/failed.json``."""
    log.error("This job failed; the multirun goes on with the next one", exc_info=error)
    path = Path(output_dir) / FAILED_FILE
    record = {
        "error": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def objective(metrics: dict[str, Any], name: str | None) -> float:
    """The value a sweeper optimises: ``metrics[name]``, NaN when the run did not log it."""
    value = metrics.get(name) if name else None
    return math.nan if value is None else float(value)


class TrialFailed(RuntimeError):
    """A trial whose objective is NaN (the job failed, or never logged the metric)."""


class NanTrialFails(Callback):
    """Turns a job that returned NaN into a failed job, which the Optuna sweeper records as a failed trial.

    Needed because hydra-optuna-sweeper ≤ 1.3 hands a NaN to ``study.tell`` and then, when Optuna refuses it,
    tells the trial FAIL *with* the NaN, which Optuna refuses again and the sweep ends
    (https://github.com/hydra-ecosystem/hydra/issues/2237). A failed job takes the sweeper's other path: the trial
    is told FAIL without a value, and the study goes on (given ``max_failure_rate: 1.0``).
    """

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        value = job_return._return_value if job_return.status == JobStatus.COMPLETED else None
        if isinstance(value, float) and math.isnan(value):
            job_return.status = JobStatus.FAILED
            job_return.return_value = TrialFailed(
                f"{config.get('optimized_metric')} is NaN: the job failed (see its {FAILED_FILE}) or did not log it"
            )
