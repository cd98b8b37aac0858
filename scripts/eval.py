"""Evaluate a checkpoint on the test split:
python scripts/eval.py task=flip_stream model=rnn ckpt_path=outputs/.../checkpoints/last.ckpt"""

import hydra
from omegaconf import DictConfig

from rnnlab.run.cli import exit_on_user_error, run_with_hints
from rnnlab.run.config import CONFIG_DIR, check_checkpoint, validate


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="eval")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        check_checkpoint(cfg)  # before the slow imports, as the settings below: a bad one answers at once
        validate(cfg)
        from rnnlab.run.evaluate import evaluate

        evaluate(cfg)


if __name__ == "__main__":
    run_with_hints(main, "eval")
