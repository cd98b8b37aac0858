"""Train a model:  python scripts/train.py task=flip_stream model=rnn   (see conf/train.yaml)."""

import hydra
from omegaconf import DictConfig

from rnnlab.run.cli import exit_on_user_error, run_with_hints
from rnnlab.run.config import CONFIG_DIR, check_optimized_metric, validate
from rnnlab.sweeps.jobs import is_multirun, objective, record_failure


def run(cfg: DictConfig) -> float:
    from rnnlab.run.train import train  # validates the settings first

    metrics, _ = train(cfg)
    # Hydra sweepers optimise the value returned here.
    return objective(metrics, cfg.get("optimized_metric"))


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float:
    multirun = is_multirun()
    with exit_on_user_error():
        if not multirun:
            # Before the slow Lightning import, which the metric check below makes too: a bad setting answers at once.
            validate(cfg)
        # A wrong metric name would fail every job of a sweep alike: it stops the sweep before this job trains.
        check_optimized_metric(cfg)
        if not multirun:
            return run(cfg)
    # One job of a multirun: a failure, a bad setting's included, is recorded in its directory (failed.json) and the
    # sweep goes on.
    try:
        return run(cfg)
    except Exception as error:
        record_failure(cfg.paths.output_dir, error)
        return float("nan")


if __name__ == "__main__":
    run_with_hints(main, "train")
