"""Train a model:  python scripts/train.py task=flip_stream model=rnn   (see conf/train.yaml)."""

import hydra
from omegaconf import DictConfig

from rnnlab.cli import exit_on_user_error, run_with_hints
from rnnlab.config import CONFIG_DIR, validate


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    with exit_on_user_error():
        validate(cfg)  # before the slow Lightning import: a bad setting answers at once
        from rnnlab.train import train

        metrics, _ = train(cfg)
    # Hydra sweepers optimise the value returned here.
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    run_with_hints(main, "train")
