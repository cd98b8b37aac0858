"""Print generated examples of a task as JSON lines:
python scripts/show_data.py task=flip_stream split=train n=10"""

import hydra
from omegaconf import DictConfig

from rnnlab.run.cli import exit_on_user_error, run_with_hints
from rnnlab.run.config import CONFIG_DIR
from rnnlab.run.schema import check


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="show_data")
def main(cfg: DictConfig) -> None:
    from rnnlab.run.show_data import print_examples

    with exit_on_user_error():
        check(cfg)  # each value's kind and range
        print_examples(cfg)


if __name__ == "__main__":
    run_with_hints(main, "show_data")
