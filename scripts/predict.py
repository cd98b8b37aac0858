"""Apply a trained word-level model to a sentence you type:
python scripts/predict.py task=pos ckpt_path=outputs/.../checkpoints/last.ckpt text="I can speak fluent Hindi ." """

import hydra
from omegaconf import DictConfig

from rnnlab.run.cli import exit_on_user_error, run_with_hints
from rnnlab.run.config import CONFIG_DIR, check_checkpoint
from rnnlab.run.schema import check


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="predict")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        check(cfg)  # each value's kind and range; the model's settings come from the checkpoint
        check_checkpoint(cfg)  # before the slow imports: a wrong path answers at once
        from rnnlab.run.predict import predict

        print(predict(cfg))


if __name__ == "__main__":
    run_with_hints(main, "predict")
